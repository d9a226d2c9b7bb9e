/**
 * The one destination contract (ARCHITECTURE rule 7): every adapter (s3, gcs, azure_blob) opens
 * uploads that take bytes as they arrive, stats objects for idempotent redelivery, and writes and
 * deletes probe objects for `verify`. Failures are `DestinationError`s carrying exactly one SPEC §5
 * code, so delivery decides retries and customers read one sentence, the cloud's words and a hint.
 */
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { StorageProvider } from "../domain/index.ts";

/** The SPEC §5 codes a destination can fail with. */
export const destinationErrorCodes = [
  "DESTINATION_AUTH_FAILED",
  "DESTINATION_NOT_FOUND",
  "DESTINATION_REGION_MISMATCH",
  "DESTINATION_REJECTED",
  "DESTINATION_UNAVAILABLE",
  "INTEGRITY_CHECK_FAILED",
] as const;

/**
 * One SPEC §5 destination code, or `NOT_CONFIGURED`: the relay's own setup is missing something
 * (the operator's AWS credentials), never the customer's (docs/errors.md).
 */
export type DestinationErrorCode = (typeof destinationErrorCodes)[number] | "NOT_CONFIGURED";

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

/** A destination failure: one SPEC §5 code, transient or not, the cloud's words and a fix hint. */
export class DestinationError extends Error {
  readonly code: DestinationErrorCode;
  readonly transient: boolean;
  readonly cloudCode: string;
  readonly cloudMessage: string;
  readonly hint: string;
  readonly stage: DestinationStage;

  constructor(summary: string, failure: DestinationFailure, options: { cause?: unknown } = {}) {
    // SPEC §5: one human sentence, the cloud's code/text, and a hint.
    super(
      `${summary} (${failure.cloudCode}: ${failure.cloudMessage}). Hint: ${failure.hint}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "DestinationError";
    this.code = failure.code;
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
 * the Azure block id prefix (uncommitted blocks expire on their own after 7 days).
 */
export type UploadHandle =
  | { provider: "s3"; key: string; uploadId: string }
  | { provider: "gcs"; key: string; sessionUri: string }
  | { provider: "azure_blob"; key: string; blockIdPrefix: string };

/** One upload in progress at a fixed key. */
export interface Upload {
  /** Set once the cloud has an upload in progress (after the first part is sent for S3/GCS). */
  readonly handle: UploadHandle | undefined;
  /** Bytes accepted so far (buffered or sent). */
  readonly bytesWritten: number;
  /**
   * Appends bytes in order. Chunks of any size are accepted; the adapter cuts them into parts the
   * cloud accepts (S3 ≥ 5 MiB, GCS multiples of 256 KiB, Azure blocks) and sends each part as soon
   * as it is full, so memory stays at about one part.
   */
  write(chunk: Uint8Array, signal: AbortSignal): Promise<void>;
  /** Sends the tail, commits the object and checks the cloud's checksums and size. */
  complete(signal: AbortSignal): Promise<UploadResult>;
  /** Abandons the upload and removes what was sent (best effort, never throws for a missing upload). */
  abort(signal: AbortSignal): Promise<void>;
}

/** Options of {@link Destination.openUpload}. */
export interface OpenUploadOptions {
  /** The final size when known (a staged copy): it picks the part size. */
  expectedSizeBytes?: number;
  /** Defaults to `video/mp4` (recordings are MP4 whatever the key's extension). */
  contentType?: string;
  signal: AbortSignal;
}

/** The identity steps of the path, as `verify` reports them. */
export interface IdentityCheck {
  /** The identity exchange (AssumeRole, STS token exchange, Entra client assertion). */
  exchange: "pass";
  /** GCS impersonates the service account; S3 and Azure have no such step. */
  impersonation: "pass" | "skip";
}

/** A destination bound to one workspace: the relay writes only with that workspace's identity. */
export interface Destination {
  readonly provider: StorageProvider;
  /** Runs the identity exchange (and impersonation) now, or throws the classified failure. */
  checkIdentity(signal: AbortSignal): Promise<IdentityCheck>;
  /** Opens an upload at `key` that takes parts as they arrive. */
  openUpload(key: string, options: OpenUploadOptions): Promise<Upload>;
  /** Whether `key` exists, with size and checksums (for idempotent redelivery). */
  stat(key: string, signal: AbortSignal): Promise<ObjectStat>;
  /** Writes a small object in one request (verify's probe). */
  putSmallObject(key: string, bytes: Uint8Array, signal: AbortSignal): Promise<void>;
  /** Deletes an object; a missing object is not an error. */
  deleteObject(key: string, signal: AbortSignal): Promise<void>;
  /** Aborts an upload a crashed worker left behind. */
  abortLeftover(handle: UploadHandle, signal: AbortSignal): Promise<void>;
}

/**
 * Uploads a whole stream (a staged copy) through {@link Destination.openUpload}: the same part
 * path as live streaming, so one code path is tested; aborts the upload on any failure.
 */
export async function uploadStream(
  destination: Destination,
  key: string,
  source: Readable | AsyncIterable<Uint8Array>,
  options: OpenUploadOptions & {
    /** Called once, as soon as the cloud has an upload in progress (persist it for crash cleanup). */
    onHandle?: (handle: UploadHandle) => Promise<void>;
  },
): Promise<UploadResult> {
  const upload = await destination.openUpload(key, options);
  let handleSeen = false;
  const reportHandle = async () => {
    if (handleSeen || !upload.handle || !options.onHandle) return;
    handleSeen = true;
    await options.onHandle(upload.handle);
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
