export { AppError, type AppErrorOptions, isAppError } from "./app-error.ts";
export { type ErrorCode, errorCodes } from "./codes.ts";
