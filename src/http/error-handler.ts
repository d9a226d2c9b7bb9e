/**
 * The only place error codes meet HTTP: every failure leaves as
 * `{"error": {"code", "message", "field"?}}` with the status its code implies, and nothing about
 * an unexpected failure (stack, SQL, secrets) reaches the caller.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import { AppError, type ErrorCode } from "../errors/index.ts";

const statusOf = {
  VALIDATION_FAILED: 400,
  MALFORMED_JSON: 400,
  UNSUPPORTED_MEDIA_TYPE: 415,
  PAYLOAD_TOO_LARGE: 413,
  UNAUTHENTICATED: 401,
  CSRF_REJECTED: 403,
  NOT_FOUND: 404,
  NOT_CONFIGURED: 409,
  RECORDING_NOT_ENABLED: 409,
  UPLOAD_OFFSET_MISMATCH: 409,
  UPLOAD_INCOMPLETE: 400,
  UPLOAD_CHECKSUM_MISMATCH: 460,
  TUS_VERSION_UNSUPPORTED: 412,
  RECORDING_BUSY: 409,
  RECORDING_STATE_CONFLICT: 409,
  RECORDING_EMPTY: 400,
  RECORDING_CONTENT_MISMATCH: 409,
  RECORDING_PURGED: 410,
  RANGE_NOT_SATISFIABLE: 416,
  RATE_LIMITED: 429,
  NOT_READY: 503,
  // Staging codes never leave as HTTP answers (ingest maps them); 500 if one ever did.
  STAGING_FAILED: 500,
  STAGING_LIMIT_EXCEEDED: 500,
  STAGED_BYTES_MISSING: 500,
  INVALID_RECORDING_ID: 500,
  INTERNAL_ERROR: 500,
  INVALID_CONFIG: 500,
  DATA_DIR_LOCKED: 500,
  EMBEDDED_DATABASE_AS_ROOT: 500,
  EMBEDDED_DATABASE_FAILED: 500,
  ADDRESS_IN_USE: 500,
  DATABASE_NEWER_THAN_CODE: 500,
  DATABASE_NOT_MIGRATED: 500,
  MASTER_KEY_MISMATCH: 500,
  DEMO_FAILED: 500,
  // Destination failures are handled where they occur (delivery, verify, the S3 creation check);
  // one that reached a route would be the cloud's failure, not the caller's.
  DESTINATION_AUTH_FAILED: 502,
  DESTINATION_NOT_FOUND: 502,
  DESTINATION_REGION_MISMATCH: 502,
  DESTINATION_REJECTED: 502,
  DESTINATION_UNAVAILABLE: 502,
  INTEGRITY_CHECK_FAILED: 502,
} as const satisfies Record<ErrorCode, number>;

/** The JSON error body. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; field?: string; details?: Record<string, unknown> };
}

/** Turns a validation issue path (`/properties/recording_storage/0`) into `properties.recording_storage[0]`. */
function fieldFromPath(context: string, instancePath: string): string | undefined {
  const parts = instancePath.split("/").filter(Boolean);
  const path = parts
    .map((part, i) => (/^\d+$/.test(part) ? `[${part}]` : i ? `.${part}` : part))
    .join("");
  if (context === "body") return path || undefined;
  const prefix = context === "params" ? "path" : context === "querystring" ? "query" : context;
  return path ? `${prefix}.${path}` : prefix;
}

/** Maps anything thrown by a route or by Fastify itself to an {@link AppError}. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (hasZodFastifySchemaValidationErrors(error)) {
    const [first] = error.validation;
    const params = (first?.params ?? {}) as { keys?: string[]; expected?: string };
    let field = fieldFromPath(error.validationContext ?? "body", first?.instancePath ?? "");
    let message = first?.message ?? "invalid request";
    if (first?.keyword === "unrecognized_keys") {
      const key = params.keys?.[0] ?? "";
      field = field ? `${field}.${key}` : key;
      message = "unknown field";
    } else if (first?.keyword === "invalid_type" && message.startsWith("Invalid input: expected")) {
      // Zod's default wording, for schemas without a message of their own.
      const expected = params.expected ?? "value";
      message = message.endsWith("received undefined")
        ? "is required"
        : `must be ${/^[aeiou]/.test(expected) ? "an" : "a"} ${expected}`;
    }
    return new AppError("VALIDATION_FAILED", `${field || "body"}: ${message}`, {
      ...(field ? { field } : {}),
    });
  }
  const fastifyError = error as Partial<FastifyError>;
  switch (fastifyError.code) {
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new AppError(
        "MALFORMED_JSON",
        `request body is not valid JSON: ${fastifyError.message}`,
      );
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new AppError("UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json");
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new AppError("PAYLOAD_TOO_LARGE", "request body is larger than this endpoint accepts");
  }
  if (error instanceof SyntaxError) {
    return new AppError("MALFORMED_JSON", `request body is not valid JSON: ${error.message}`);
  }
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    // A client error Fastify raised that has no code of ours (bad URL encoding, proto
    // poisoning, bad Content-Length): its message is about the request, safe to show.
    return new AppError("VALIDATION_FAILED", fastifyError.message ?? "invalid request");
  }
  return new AppError("INTERNAL_ERROR", "internal error; the relay's log has the details", {
    cause: error,
  });
}

/** Sends `error` as the JSON error body with its status. */
export function sendError(reply: FastifyReply, error: AppError): FastifyReply {
  const body: ErrorBody = {
    error: {
      code: error.code,
      message: error.message,
      ...(error.field ? { field: error.field } : {}),
      ...(error.details ? { details: error.details } : {}),
    },
  };
  // Ingest conflicts tell the producer where to resume (tus-style), in a header as well.
  if (typeof error.details?.upload_offset === "number")
    reply.header("upload-offset", String(error.details.upload_offset));
  if (typeof error.details?.retry_after_seconds === "number")
    reply.header("retry-after", String(error.details.retry_after_seconds));
  if (error.code === "UNAUTHENTICATED")
    reply.header("www-authenticate", 'Bearer realm="recording-relay"');
  return reply.status(statusOf[error.code]).type("application/json").send(body);
}

/** Fastify's `frameworkErrors` hook: URL decoding failures, before any route runs. */
export function frameworkErrors(
  error: FastifyError,
  _request: FastifyRequest,
  reply: FastifyReply,
): void {
  sendError(reply, toAppError(error));
}

/** Installs the error and not-found handlers on the root instance. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const appError = toAppError(error);
    if (statusOf[appError.code] >= 500) request.log.error({ err: error }, "request failed");
    else request.log.info({ code: appError.code, field: appError.field }, appError.message);
    return sendError(reply, appError);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      new AppError("NOT_FOUND", `no route ${request.method} ${request.url.split("?")[0]}`),
    ),
  );
}
