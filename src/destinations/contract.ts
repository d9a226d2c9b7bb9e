/**
 * The one destination contract: every adapter (`src/providers/<cloud>/upload.ts`) opens
 * uploads that take bytes as they arrive, stats objects for idempotent redelivery, and writes and
 * deletes probe objects for `verify`. Failures are `DestinationError`s carrying exactly one code of
 * docs/errors.md, so delivery decides retries and customers read one sentence, the cloud's words
 * and a hint.
 */
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { AppError, type DestinationErrorCode } from "../errors/index.ts";

export type { DestinationErrorCode } from "../errors/index.ts";

/** Where in the path a failure happened (verify reports it per step). */
export type DestinationStage = "identity" | "impersonation" | "storage";

/** What a classifier decided about one cloud failure. */
export interface DestinationFailure {
  code: DestinationErrorCode;
  /** Worth retrying soon (network, 5xx, throttling, expired token) rather than a configuration fault. */
  transient: boolean;
  /** The cloud's own error code (`AccessDenied`, `invalid_grant`, `AADSTS700213`, `ECONNRESET`). */
  cloudCode: string;
  /** The cloud's own text (never a token or credential). */
  cloudMessage: string;
  /** One sentence telling the customer (or operator) what to fix. */
  hint: string;
  stage: DestinationStage;
}

/** What a cloud failure looked like on the wire, independent of the SDK's error classes. */
export interface ObservedFailure {
  stage: DestinationStage;
  /** The cloud's error code (`AccessDenied`, `invalid_grant`, `AADSTS700213`) or a network code. */
  code: string;
  message: string;
  httpStatus: number | undefined;
}

/** The verdict builder of a classifier: code, transient and hint, with the cloud's own words kept. */
export function verdictOf(
  failure: ObservedFailure,
): (code: DestinationErrorCode, transient: boolean, hint: string) => DestinationFailure {
  return (code, transient, hint) => ({
    code,
    transient,
    cloudCode: failure.code,
    cloudMessage: failure.message,
    hint,
    stage: failure.stage,
  });
}

/**
 * A destination failure: an {@link AppError} whose code is one of the destination codes of
 * `src/errors/codes.ts` (docs/errors.md), transient or not, with the cloud's words and a fix hint.
 */
export class DestinationError extends AppError {
  declare readonly code: DestinationErrorCode;
  readonly transient: boolean;
  readonly cloudCode: string;
  readonly cloudMessage: string;
  readonly hint: string;
  readonly stage: DestinationStage;

  constructor(summary: string, failure: DestinationFailure, options: { cause?: unknown } = {}) {
    // docs/errors.md: one human sentence, the cloud's code/text, and a hint.
    super(
      failure.code,
      `${summary} (${failure.cloudCode}: ${failure.cloudMessage}). Hint: ${failure.hint}`,
      {
        details: {
          error_code: failure.code,
          cloud_code: failure.cloudCode,
          cloud_message: failure.cloudMessage,
          hint: failure.hint,
        },
        ...(options.cause === undefined ? {} : { cause: options.cause }),
      },
    );
    this.name = "DestinationError";
    this.transient = failure.transient;
    this.cloudCode = failure.cloudCode;
    this.cloudMessage = failure.cloudMessage;
    this.hint = failure.hint;
    this.stage = failure.stage;
  }
}

/** Tells whether `error` is a {@link DestinationError}. */
export function isDestinationError(error: unknown): error is DestinationError {
  return error instanceof DestinationError;
}

/** Checksums a destination reports for a stored object (each in the cloud's own encoding). */
export interface ObjectChecksums {
  /** Base64 MD5 of the whole object (GCS `md5Hash`, Azure `Content-MD5`). */
  md5Base64?: string;
  /** Base64 big-endian CRC32C (GCS). */
  crc32cBase64?: string;
  /** S3 CRC32: full-object base64, or composite `<base64>-<parts>` for multipart uploads. */
  crc32Base64?: string;
  /** The entity tag as the cloud reports it. */
  etag?: string;
}

/** Whether an object exists, and its size and checksums when it does. */
export type ObjectStat =
  | { exists: false }
  | { exists: true; sizeBytes: number; checksums: ObjectChecksums };

/** What a completed upload stored, as the destination confirmed it. */
export interface UploadResult {
  key: string;
  sizeBytes: number;
  /** What the destination answered, each already compared with what the relay computed. */
  checksums: ObjectChecksums;
}

/**
 * What a crash-cleanup needs to find and abort an unfinished upload later (store it with the
 * delivery): the S3 UploadId, the GCS session URI (itself a credential: keep it server-side), or
 * the Azure block id prefix (Azure has no abort: uncommitted blocks are dropped by the next commit
 * of the key, or by Azure itself after 7 days). Each provider declares its own shape with its
 * name in `provider`; the relay stores it as JSON and hands it back to the same provider.
 */
export interface UploadHandle {
  readonly provider: string;
  readonly key: string;
  /** The provider's own fields (S3 `uploadId`, GCS `sessionUri`, Azure `blockIdPrefix`). */
  readonly [field: string]: unknown;
}

/** One upload in progress at a fixed key. */
export interface Upload {
  /**
   * Set once the cloud has an upload in progress: from the write that fills the first part. An
   * object that ends within its first part goes up in one request at `complete` and never has one
   * (nothing a crash could leave behind).
   */
  readonly handle: UploadHandle | undefined;
  /** Bytes accepted so far (buffered or sent). */
  readonly bytesWritten: number;
  /**
   * Appends bytes in order. Chunks of any size are accepted; the adapter cuts them into parts the
   * cloud accepts (S3 ≥ 5 MiB, GCS multiples of 256 KiB, Azure blocks) and sends each part as soon
   * as it is full, so memory stays at about one part. The bytes are copied before the returned
   * promise settles: the caller may reuse `chunk` then (a staged read with `reuseBuffer` does).
   */
  write(chunk: Uint8Array, signal: AbortSignal): Promise<void>;
  /** Sends the tail, commits the object and checks the cloud's checksums and size. */
  complete(signal: AbortSignal): Promise<UploadResult>;
  /**
   * Abandons the upload and removes what was sent where the cloud can (best effort, never throws
   * for a missing upload). Azure cannot delete uncommitted blocks: nothing was committed, and the
   * blocks expire (see {@link LeftoverOutcome}).
   */
  abort(signal: AbortSignal): Promise<void>;
}

/** Options of {@link Destination.openUpload}. */
export interface OpenUploadOptions {
  /** The final size when known (a staged copy): it picks the part size. */
  expectedSizeBytes?: number;
  /** Defaults to `video/mp4` (recordings are MP4 whatever the key's extension). */
  contentType?: string;
  signal: AbortSignal;
  /**
   * Called once, as soon as the cloud has an upload in progress and before any part is sent to
   * it (persist the handle for crash cleanup); a rejection fails the write that started it. An
   * object that ends within its first part never calls it.
   */
  onHandle?: (handle: UploadHandle) => Promise<void>;
}

/** The identity steps of the path, as `verify` reports them. */
export interface IdentityCheck {
  /** The identity exchange (AssumeRole, STS token exchange, Entra client assertion). */
  exchange: "pass";
  /** GCS impersonates the service account; S3 and Azure have no such step. */
  impersonation: "pass" | "skip";
}

/**
 * The confused-deputy self-check (docs/security.md, "Confused-deputy self-check"): the relay
 * presents its identity *without* what pins it to this workspace (S3: no ExternalId; GCS and
 * Azure: a token for another Workspace ID) and expects the customer's cloud to refuse. `warn`: it
 * did not, so another customer of the relay could point a destination at this trust. `skip`: the
 * check could not run (the cloud did not answer); it says nothing either way.
 */
export interface SafetyCheck {
  status: "pass" | "warn" | "skip";
  message: string;
  /** What to change on the customer's side (with `warn`). */
  hint?: string;
  /** The cloud's answer to the unpinned request (its error code, or `accepted`). */
  cloud_code?: string;
}

/** A destination bound to one workspace: the relay writes only with that workspace's identity. */
export interface Destination {
  /** The provider's name (`s3`, `gcs`, `azure_blob`). */
  readonly provider: string;
  /**
   * Runs the identity exchange (and impersonation) now, with a fresh credential that replaces the
   * workspace's cached one, or throws the classified failure.
   */
  checkIdentity(signal: AbortSignal): Promise<IdentityCheck>;
  /** The confused-deputy self-check: see {@link SafetyCheck}. */
  checkSafety(signal: AbortSignal): Promise<SafetyCheck>;
  /** Opens an upload at `key` that takes parts as they arrive. */
  openUpload(key: string, options: OpenUploadOptions): Promise<Upload>;
  /** Whether `key` exists, with size and checksums (for idempotent redelivery). */
  stat(key: string, signal: AbortSignal): Promise<ObjectStat>;
  /** Writes a small object in one request (verify's probe). */
  putSmallObject(key: string, bytes: Uint8Array, signal: AbortSignal): Promise<void>;
  /** Deletes an object; a missing object is not an error. */
  deleteObject(key: string, signal: AbortSignal): Promise<void>;
  /** Aborts an upload a crashed worker left behind, and says what it found. */
  abortLeftover(handle: UploadHandle, signal: AbortSignal): Promise<LeftoverOutcome>;
}

/**
 * What {@link Destination.abortLeftover} found: `aborted`, the cloud dropped the unfinished upload
 * (S3 AbortMultipartUpload, GCS session cancelled); `already_gone`, nothing was left (completed,
 * aborted or expired before); `nothing_to_abort`, the cloud has no abort (Azure block blobs): the
 * adapter checked that this attempt committed nothing under the key, and the uncommitted blocks are
 * discarded by the next commit of the key or by Azure after 7 days.
 */
export type LeftoverOutcome = "aborted" | "already_gone" | "nothing_to_abort";

/**
 * Uploads a whole stream (a staged copy) through {@link Destination.openUpload}: the same part
 * path as live streaming, so one code path is tested; aborts the upload on any failure.
 */
export async function uploadStream(
  destination: Destination,
  key: string,
  source: Readable | AsyncIterable<Uint8Array>,
  options: OpenUploadOptions,
): Promise<UploadResult> {
  let handleSeen = false;
  const onHandle = async (handle: UploadHandle) => {
    if (handleSeen || !options.onHandle) return;
    handleSeen = true;
    await options.onHandle(handle);
  };
  const upload = await destination.openUpload(key, { ...options, onHandle });
  // The adapters report their handle before the first part; this also covers one that did not.
  const reportHandle = async () => {
    if (upload.handle) await onHandle(upload.handle);
  };
  try {
    await reportHandle();
    // The sink awaits each write, so the source is read no faster than parts are sent.
    await pipeline(
      source,
      async (chunks: AsyncIterable<Uint8Array>) => {
        for await (const chunk of chunks) {
          await upload.write(chunk, options.signal);
          await reportHandle();
        }
      },
      { signal: options.signal },
    );
    return await upload.complete(options.signal);
  } catch (error) {
    // A fresh signal: the caller's may be the reason we are here, and cleanup should still run.
    await upload.abort(AbortSignal.timeout(30_000)).catch(() => {});
    throw error;
  }
}
