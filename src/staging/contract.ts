/**
 * The staging store: where every recording byte is written before the relay acknowledges it, and
 * read back from for delivery. Two implementations (a local directory, an S3-compatible bucket)
 * share this contract and one test suite.
 */

import { isUuid } from "../domain/ids.ts";
import type { ErrorCode } from "../errors/index.ts";

/** Options of {@link StagingStore.append}. */
export interface AppendOptions {
  /** Stops the append between chunks; the error thrown is the signal's reason. */
  signal?: AbortSignal;
  /** Refuses (with {@link StagingLimitError}) a source longer than this many bytes. */
  maxBytes?: number;
}

/** The byte range `[start, end)` of {@link StagingStore.read}. */
export interface ReadRange {
  /** First byte; default 0. */
  start?: number;
  /**
   * One past the last byte. Required: the database's count of bytes received is the truth, and
   * bytes staged past it are a torn append that must never be delivered.
   */
  end: number;
  /** Stops the read (beyond the brief's shape: every I/O function takes a signal). */
  signal?: AbortSignal;
  /**
   * The caller is done with each chunk before it asks for the next one (it copies or hashes it):
   * the store may then hand out views of one read buffer instead of a fresh one per chunk. A
   * delivery reads gigabytes; fresh chunks are dead almost at once but live outside V8's heap, so
   * they pile up until V8's external-memory threshold and raise the worker's peak RSS.
   */
  reuseBuffer?: boolean;
}

/** Staged bytes of recordings, addressed by recording id (a UUID; anything else is refused). */
export interface StagingStore {
  /** What and where the store is, e.g. "local directory /var/lib/relay/staging" (logs, readyz). */
  readonly description: string;
  /**
   * Writes `source` at byte `offset` of the recording, discarding anything staged at or after
   * `offset` first (a failed earlier append may have left a torn tail). Resolves only when the
   * bytes are durable. `maxBytes` stops with {@link StagingLimitError} before writing more than
   * that. The caller guarantees one append at a time per recording and that `offset` is what it
   * recorded as durable so far; an `offset` past the staged bytes throws
   * {@link StagedBytesMissingError}. Errors thrown by `source`, and the signal's reason on abort,
   * are rethrown unchanged; failures of the store are {@link StagingError}s.
   */
  append(
    id: string,
    offset: number,
    source: AsyncIterable<Uint8Array>,
    options?: AppendOptions,
  ): Promise<{ bytesWritten: number }>;
  /**
   * Streams the staged bytes `[start, end)`. Throws {@link StagedBytesMissingError} (while
   * iterating) when fewer than `end` bytes are staged.
   */
  read(id: string, range: ReadRange): AsyncIterable<Uint8Array>;
  /** Removes every byte staged for the recording; a missing recording is not an error. */
  delete(id: string, signal?: AbortSignal): Promise<void>;
  /** Ids with anything staged (for sweeping orphans); streaming, any order. */
  list(signal?: AbortSignal): AsyncIterable<string>;
  /** Throws a {@link StagingError} saying why when the store cannot be written (readiness). */
  check(signal?: AbortSignal): Promise<void>;
}

/** The codes of staging errors, from the one table in src/errors/codes.ts (docs/errors.md). */
export type StagingErrorCode = Extract<
  ErrorCode,
  "STAGING_FAILED" | "STAGING_LIMIT_EXCEEDED" | "STAGED_BYTES_MISSING" | "INVALID_RECORDING_ID"
>;

/** Context of a {@link StagingError}. */
export interface StagingErrorOptions {
  /** What went wrong; `STAGING_FAILED` (the store failed) unless said otherwise. */
  code?: StagingErrorCode;
  /** The recording concerned, when there is one. */
  recordingId?: string;
  cause?: unknown;
}

/**
 * A failure of a staging store; the message names the store and the recording, the code says
 * what went wrong. Not an `AppError`: callers turn it into the answer that fits (an append's
 * `NOT_READY` or `PAYLOAD_TOO_LARGE`), and one that escapes stays an internal error.
 */
export class StagingError extends Error {
  readonly code: StagingErrorCode;
  /** The store's description. */
  readonly store: string;
  readonly recordingId: string | undefined;

  constructor(store: string, message: string, options: StagingErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "StagingError";
    this.code = options.code ?? "STAGING_FAILED";
    this.store = store;
    this.recordingId = options.recordingId;
  }
}

/** Tells whether `error` is a {@link StagingError}, optionally with one of the given codes. */
export function isStagingError(
  error: unknown,
  ...codes: StagingErrorCode[]
): error is StagingError {
  return error instanceof StagingError && (codes.length === 0 || codes.includes(error.code));
}

/** An append's source is longer than its `maxBytes` (`STAGING_LIMIT_EXCEEDED`). */
export class StagingLimitError extends StagingError {
  readonly limitBytes: number;

  constructor(store: string, recordingId: string, limitBytes: number) {
    super(
      store,
      `recording ${recordingId}: the append is longer than its limit of ${limitBytes} bytes (${store})`,
      { code: "STAGING_LIMIT_EXCEEDED", recordingId },
    );
    this.name = "StagingLimitError";
    this.limitBytes = limitBytes;
  }
}

/**
 * An id that is not a UUID: refused before it can become a file name or an object key
 * (`INVALID_RECORDING_ID`).
 */
export class InvalidRecordingIdError extends StagingError {
  constructor(store: string, id: unknown) {
    const shown = typeof id === "string" ? JSON.stringify(id.slice(0, 80)) : typeof id;
    super(store, `${shown} is not a recording id (a UUID is expected) (${store})`, {
      code: "INVALID_RECORDING_ID",
    });
    this.name = "InvalidRecordingIdError";
  }
}

/**
 * Fewer bytes are staged than the caller counts as durable: an append past the end, or a read
 * past it. The staged copy was lost or damaged (e.g. a wiped disk), which retrying cannot fix
 * (`STAGED_BYTES_MISSING`).
 */
export class StagedBytesMissingError extends StagingError {
  readonly stagedBytes: number;
  readonly requiredBytes: number;

  constructor(store: string, recordingId: string, stagedBytes: number, requiredBytes: number) {
    super(
      store,
      `recording ${recordingId}: only ${stagedBytes} bytes are staged, ${requiredBytes} were expected (${store})`,
      { code: "STAGED_BYTES_MISSING", recordingId },
    );
    this.name = "StagedBytesMissingError";
    this.stagedBytes = stagedBytes;
    this.requiredBytes = requiredBytes;
  }
}

/** Whether `id` is a recording id (a UUID in its 8-4-4-4-12 hex form). */
export function isRecordingId(id: unknown): id is string {
  return typeof id === "string" && isUuid(id);
}

/**
 * The recording id in lower case, as PostgreSQL prints UUIDs: one spelling per recording, so
 * file names and keys never depend on the caller's case. Anything but a UUID is refused, which
 * also rules out path traversal and key injection.
 */
export function canonicalRecordingId(store: string, id: unknown): string {
  if (!isRecordingId(id)) throw new InvalidRecordingIdError(store, id);
  return id.toLowerCase();
}

/** Checks a byte position argument (an offset, a range bound). */
export function assertBytePosition(store: string, id: string, name: string, value: unknown): void {
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw new StagingError(
      store,
      `recording ${id}: ${name} must be a non-negative integer, got ${String(value)} (${store})`,
      { recordingId: id },
    );
  }
}

/** Checks a read range and returns it with `start` filled in. */
export function checkedRange(
  store: string,
  id: string,
  range: ReadRange,
): { start: number; end: number } {
  const start = range.start ?? 0;
  assertBytePosition(store, id, "range start", start);
  assertBytePosition(store, id, "range end", range.end);
  if (start > range.end) {
    throw new StagingError(
      store,
      `recording ${id}: range start ${start} is after its end ${range.end} (${store})`,
      { recordingId: id },
    );
  }
  return { start, end: range.end };
}
