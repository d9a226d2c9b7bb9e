export { AppError, isAppError } from "./app-error.ts";
export {
  type DestinationErrorCode,
  type ErrorCode,
  errorCodes,
} from "./codes.ts";
