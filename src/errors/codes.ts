/**
 * Every stable error code the relay reports, with the one-line meaning `docs/errors.md` expands on.
 * Codes never change once released: clients and alerts match on them.
 */
export const errorCodes = {
  VALIDATION_FAILED:
    "The request body, query or path failed validation; `field` names the culprit.",
  MALFORMED_JSON: "The request body is not valid JSON.",
  UNSUPPORTED_MEDIA_TYPE: "The request's Content-Type is not accepted by this endpoint.",
  PAYLOAD_TOO_LARGE: "The request body is larger than the endpoint accepts.",
  UNAUTHENTICATED: "Credentials are missing or not valid for this endpoint.",
  CSRF_REJECTED:
    "A console request that changes state came from another site, or without the session's `x-csrf-token`.",
  NOT_FOUND: "The route or the object does not exist, or belongs to another workspace.",
  NOT_CONFIGURED:
    "The feature needs an operator setting that is not set (e.g. RELAY_AWS_ACCOUNT_ID for S3).",
  RECORDING_NOT_ENABLED:
    "The conversation cannot take recordings: `enable_recording` is not true, or it has no destination.",
  UPLOAD_OFFSET_MISMATCH:
    "An append's `Upload-Offset` is not the number of bytes received so far; the answer carries the current offset.",
  UPLOAD_INCOMPLETE:
    "An append's body ended before it was complete (the connection closed); none of it was kept.",
  UPLOAD_CHECKSUM_MISMATCH:
    "An append's bytes do not match its `Upload-Checksum` (tus checksum extension); none of them were kept.",
  TUS_VERSION_UNSUPPORTED:
    "A tus request named a `Tus-Resumable` version other than 1.0.0 (or none); `Tus-Version` lists what the relay speaks.",
  RECORDING_BUSY: "Another append to the same recording is in progress.",
  RECORDING_STATE_CONFLICT:
    "The recording is not in a state that allows the request (e.g. appending after `complete`, redelivering while a delivery runs).",
  RECORDING_EMPTY:
    "The recording has no bytes: `complete` of a recording nothing was appended to, or a one-shot upload with an empty body. Nothing is delivered.",
  RECORDING_CONTENT_MISMATCH:
    "`complete` named a `size_bytes` or `sha256` that differs from what was received.",
  RATE_LIMITED:
    "Too many requests of this kind in a short time (webhook secret rotations); `Retry-After` says when to try again.",
  RECORDING_PURGED:
    "The recording's staged copy was purged after its retention period, so it cannot be delivered again.",
  RANGE_NOT_SATISFIABLE:
    "A download's `Range` starts at or past the end of the recording; `Content-Range` gives its size.",
  NOT_READY: "A dependency (database, staging) is not reachable; the process is not ready.",
  // Staging store failures: never HTTP answers (ingest and delivery report them in their own codes).
  STAGING_FAILED:
    "The staging store could not read, write, delete or list (disk or bucket error, or an invalid byte range).",
  STAGING_LIMIT_EXCEEDED:
    "An append would stage more bytes than its limit; nothing past it was kept.",
  STAGED_BYTES_MISSING:
    "Fewer bytes are staged than the database counts as received: the staged copy was lost or damaged.",
  INVALID_RECORDING_ID:
    "A recording id given to the staging store is not a UUID; refused before naming a file or object.",
  INTERNAL_ERROR: "An unexpected failure inside the relay; the log has the details.",
  INVALID_CONFIG:
    "The configuration (environment or flags) is invalid; the message lists every problem.",
  ADDRESS_IN_USE: "The HTTP server cannot listen: another process holds the address and port.",
  DATA_DIR_LOCKED: "Another process is using the embedded database in this data directory.",
  EMBEDDED_DATABASE_AS_ROOT:
    "The relay runs as root and the embedded PostgreSQL cannot run as its `postgres` user (missing, or unable to reach the data directory).",
  EMBEDDED_DATABASE_FAILED:
    "The embedded PostgreSQL server could not be created or started; the message says why.",
  DATABASE_NEWER_THAN_CODE: "The database has migrations this version of the relay does not know.",
  DATABASE_NOT_MIGRATED:
    "The database lacks migrations this relay needs; a command that only reads does not apply them: run `recording-relay migrate`.",
  MASTER_KEY_MISMATCH:
    "The master key does not decrypt the OIDC signing keys stored in the database (or is missing while keys exist).",
  DEMO_FAILED:
    "`recording-relay demo` did not see every recording end as expected; the message says which.",
  // Destination failures (delivery, verify, the S3 creation check): `destinationErrorCodes`.
  DESTINATION_AUTH_FAILED:
    "The customer's trust or write permission refuses the relay (role, federated credential, IAM grant).",
  DESTINATION_NOT_FOUND: "The bucket, container or storage account does not exist.",
  DESTINATION_REGION_MISMATCH: "S3 only: the bucket is in another region than `bucket_region`.",
  DESTINATION_REJECTED:
    "The destination refused the object permanently (object lock, KMS policy, quota, size).",
  DESTINATION_UNAVAILABLE:
    "The destination failed transiently (network, 5xx, throttling, expired token); retried with backoff.",
  INTEGRITY_CHECK_FAILED:
    "The destination's checksum or size disagrees with the bytes sent; the upload is retried.",
} as const;

/** The codes a destination can fail with (one block of {@link errorCodes}). */
export const destinationErrorCodes = [
  "DESTINATION_AUTH_FAILED",
  "DESTINATION_NOT_FOUND",
  "DESTINATION_REGION_MISMATCH",
  "DESTINATION_REJECTED",
  "DESTINATION_UNAVAILABLE",
  "INTEGRITY_CHECK_FAILED",
] as const satisfies readonly (keyof typeof errorCodes)[];

/**
 * One destination code, or `NOT_CONFIGURED`: the relay's own setup is missing something (the
 * operator's AWS credentials), never the customer's (docs/errors.md).
 */
export type DestinationErrorCode = (typeof destinationErrorCodes)[number] | "NOT_CONFIGURED";

/** A stable error code. */
export type ErrorCode = keyof typeof errorCodes;
