import type { ErrorCode } from "./codes.ts";

/** Optional context of an {@link AppError}. */
export interface AppErrorOptions {
  /** The input field at fault, as a dotted path (`properties.recording_storage.bucket_name`). */
  field?: string;
  /** Extra machine-readable facts safe to show the caller (never secrets). */
  details?: Record<string, unknown>;
  cause?: unknown;
}

/** The one error type of the relay: a stable code, a human message, and the cause kept. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "AppError";
    this.code = code;
    this.field = options.field;
    this.details = options.details;
  }
}

/** Tells whether `error` is an {@link AppError}, optionally with one of the given codes. */
export function isAppError(error: unknown, ...codes: ErrorCode[]): error is AppError {
  return error instanceof AppError && (codes.length === 0 || codes.includes(error.code));
}
