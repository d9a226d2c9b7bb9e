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
  NOT_FOUND: "The route or the object does not exist, or belongs to another workspace.",
  NOT_CONFIGURED:
    "The feature needs an operator setting that is not set (e.g. RELAY_AWS_ACCOUNT_ID for S3).",
  NOT_READY: "A dependency (database, staging) is not reachable; the process is not ready.",
  INTERNAL_ERROR: "An unexpected failure inside the relay; the log has the details.",
  INVALID_CONFIG:
    "The configuration (environment or flags) is invalid; the message lists every problem.",
  ADDRESS_IN_USE: "The HTTP server cannot listen: another process holds the address and port.",
  DATA_DIR_LOCKED: "Another process is using the embedded database in this data directory.",
  DATABASE_NEWER_THAN_CODE: "The database has migrations this version of the relay does not know.",
  MASTER_KEY_MISMATCH:
    "The master key does not decrypt the OIDC signing keys stored in the database (or is missing while keys exist).",
} as const;

/** A stable error code. */
export type ErrorCode = keyof typeof errorCodes;
