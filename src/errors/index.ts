export { AppError, type AppErrorOptions, isAppError } from "./app-error.ts";
export {
  type DestinationErrorCode,
  destinationErrorCodes,
  type ErrorCode,
  errorCodes,
} from "./codes.ts";
