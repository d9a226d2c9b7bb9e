import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import type { OidcKeyCache } from "../shared/oidc-keys.ts";
import { chunkSigner, verifySigV4 } from "./auth.ts";
import type { AwsEmulatorConfig, BucketConfig, RoleConfig } from "./config.ts";
import type { CredentialStore } from "./credentials.ts";
import { AwsError, s3ErrorBody, s3Errors, stsErrorBody, stsErrors } from "./errors.ts";
import type { FaultInjector, FaultPlan } from "./faults.ts";
import { type BodyGate, discardBody, type PayloadMode, type S3Request, send } from "./http.ts";
import { ConnectionResetByFault } from "./ingest.ts";
import type { UploadRegistry } from "./multipart.ts";
import { runS3Operation, s3Operation } from "./s3.ts";
import {
  groupRawHeaders,
  lenientDecode,
  parseAuthorization,
  parseQuery,
  type SigV4Authorization,
  sha256Hex,
} from "./sigv4.ts";
import type { ObjectStore } from "./store.ts";
import { runStsAction } from "./sts.ts";
import { assumeRoleWithWebIdentity } from "./web-identity.ts";

/** One handled request, for tests that assert on what the emulator saw. */
export interface RequestLogEntry {
  service: "s3" | "sts";
  operation: string;
  status: number;
  /** AWS error code when the answer was an error. */
  code?: string;
  bucket?: string;
  key?: string;
  /** S3: the `x-amz-content-sha256` mode the client used (`signed` for a hex hash). */
  payload?: string;
  /** Fault injected, if any. */
  fault?: "error" | "reset" | "error-in-200";
  /** STS AssumeRole: the `ExternalId` the caller sent, `null` when it sent none. */
  externalId?: string | null;
}

/** Shared state of a running emulator. */
export interface EmulatorState {
  config: AwsEmulatorConfig;
  credentials: CredentialStore;
  roles: ReadonlyMap<string, RoleConfig>;
  buckets: ReadonlyMap<string, BucketConfig>;
  store: ObjectStore;
  uploads: UploadRegistry;
  faults: FaultInjector;
  /** Discovery + JWKS of OIDC providers' issuers (AssumeRoleWithWebIdentity). */
  oidcKeys: OidcKeyCache;
  now: () => number;
  endpoint: () => string;
  log: RequestLogEntry[];
}

const MAX_LOG_ENTRIES = 10_000;
const MAX_STS_BODY_BYTES = 64 * 1024;
const CONTENT_SHA256_ERROR =
  "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER or a valid sha256 value.";

interface Parsed {
  requestId: string;
  method: string;
  rawPath: string;
  queryPairs: Array<[string, string]>;
  query: Map<string, string>;
  headers: Map<string, string[]>;
}

/** Builds the handler shared by `request` and `checkContinue` events. */
export function createRequestHandler(state: EmulatorState) {
  return async (req: IncomingMessage, res: ServerResponse, gate: BodyGate): Promise<void> => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const queryPairs = parseQuery(q < 0 ? "" : url.slice(q + 1));
    const parsed: Parsed = {
      requestId: randomBytes(8).toString("hex").toUpperCase(),
      method: (req.method ?? "GET").toUpperCase(),
      rawPath: q < 0 ? url : url.slice(0, q),
      queryPairs,
      query: new Map(queryPairs.slice().reverse()),
      headers: groupRawHeaders(req.rawHeaders),
    };
    const isSts =
      parsed.rawPath === "/" &&
      (parsed.method === "POST" ||
        parsed.query.has("Action") ||
        /\/sts\/aws4_request/.test(req.headers.authorization ?? ""));
    const entry: RequestLogEntry = { service: isSts ? "sts" : "s3", operation: "", status: 0 };
    res.setHeader(isSts ? "x-amzn-RequestId" : "x-amz-request-id", parsed.requestId);
    if (!isSts) {
      res.setHeader("x-amz-id-2", Buffer.from(`emulator/${parsed.requestId}`).toString("base64"));
      res.setHeader("Server", "AmazonS3");
    }
    res.once("finish", () => {
      entry.status = res.statusCode;
      state.log.push(entry);
      if (state.log.length > MAX_LOG_ENTRIES)
        state.log.splice(0, state.log.length - MAX_LOG_ENTRIES);
    });
    try {
      if (isSts) await handleSts(state, req, res, parsed, entry);
      else await handleS3(state, req, res, gate, parsed, entry);
    } catch (caught) {
      if (caught instanceof ConnectionResetByFault) {
        entry.fault = "reset";
        state.log.push(entry);
        return;
      }
      const error = caught instanceof AwsError ? caught : internalError(isSts, caught);
      entry.code = error.code;
      await discardBody(req, res, gate);
      if (isSts) {
        send(
          res,
          error.status,
          { "Content-Type": "text/xml", ...error.headers },
          stsErrorBody(error, parsed.requestId),
        );
      } else {
        const body =
          parsed.method === "HEAD"
            ? undefined
            : s3ErrorBody(error, parsed.requestId, parsed.rawPath);
        send(res, error.status, { "Content-Type": "application/xml", ...error.headers }, body);
      }
    }
  };
}

function internalError(isSts: boolean, cause: unknown): AwsError {
  // A bug in the emulator must still look like an AWS answer, but loudly.
  console.error("aws emulator: unexpected error", cause);
  return isSts ? stsErrors.internalFailure() : s3Errors.internalError();
}

async function applyFaultStart(
  plan: FaultPlan,
  entry: RequestLogEntry,
  isSts: boolean,
): Promise<void> {
  if (plan.latencyMs > 0) await sleep(plan.latencyMs);
  if (plan.error) {
    entry.fault = "error";
    if (isSts)
      throw plan.error === "SlowDown" ? stsErrors.throttling() : stsErrors.internalFailure();
    throw plan.error === "SlowDown" ? s3Errors.slowDown() : s3Errors.internalError();
  }
}

async function readSmallBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit)
      throw new AwsError(413, "RequestEntityTooLarge", "Request body is too large.");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

async function handleSts(
  state: EmulatorState,
  req: IncomingMessage,
  res: ServerResponse,
  p: Parsed,
  entry: RequestLogEntry,
): Promise<void> {
  const body = await readSmallBody(req, MAX_STS_BODY_BYTES);
  const params = new URLSearchParams(p.method === "POST" ? body.toString("utf8") : "");
  for (const [name, value] of p.queryPairs) if (!params.has(name)) params.set(name, value);
  entry.operation = params.get("Action") ?? "";
  if (entry.operation === "AssumeRole") entry.externalId = params.get("ExternalId");
  const plan = state.faults.plan({ service: "sts", operation: entry.operation });
  await applyFaultStart(plan, entry, true);
  if (plan.resetAfterBytes !== undefined) {
    req.socket.destroy();
    throw new ConnectionResetByFault();
  }
  if (entry.operation === "AssumeRoleWithWebIdentity") {
    // An anonymous action: the token is the credential, a signature (if any) is not looked at.
    const xml = await assumeRoleWithWebIdentity(params, {
      roles: state.roles,
      providers: state.config.oidcProviders,
      keys: state.oidcKeys,
      credentials: state.credentials,
      nowMs: state.now(),
      sessionLifetimeCapSeconds: state.faults.config.sessionLifetimeCapSeconds,
      requestId: p.requestId,
    });
    send(res, 200, { "Content-Type": "text/xml" }, xml);
    return;
  }
  const parsedAuth = parseAuthorization(req.headers, p.queryPairs);
  if (parsedAuth.kind === "none") throw stsErrors.missingAuthenticationToken();
  if (parsedAuth.kind === "malformed")
    throw stsErrors.incompleteSignature(`Authorization header requires ${parsedAuth.reason}.`);
  const nowMs = state.now();
  const authenticated = await verifySigV4({
    service: "sts",
    request: { method: p.method, rawPath: p.rawPath, query: p.queryPairs, headers: p.headers },
    auth: parsedAuth.auth,
    payloadHash: sha256Hex(body),
    credentials: state.credentials,
    nowMs,
    maxClockSkewMs: state.config.s3.maxClockSkewMs,
  });
  const xml = runStsAction(params, authenticated.record.principal, {
    roles: state.roles,
    credentials: state.credentials,
    nowMs,
    sessionLifetimeCapSeconds: state.faults.config.sessionLifetimeCapSeconds,
    requestId: p.requestId,
  });
  send(res, 200, { "Content-Type": "text/xml" }, xml);
}

function payloadMode(p: Parsed, auth: SigV4Authorization): PayloadMode | "needs-signer" {
  const value = p.headers.get("x-amz-content-sha256")?.[0];
  if (value === undefined) {
    if (auth.source === "query") return { kind: "unsigned" };
    throw s3Errors.missingSecurityHeader("x-amz-content-sha256");
  }
  if (/^[0-9a-fA-F]{64}$/.test(value)) return { kind: "signed", sha256Hex: value };
  switch (value) {
    case "UNSIGNED-PAYLOAD":
      return { kind: "unsigned" };
    case "STREAMING-UNSIGNED-PAYLOAD-TRAILER":
    case "STREAMING-AWS4-HMAC-SHA256-PAYLOAD":
    case "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER":
      return "needs-signer";
    case "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD":
    case "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER":
      throw s3Errors.notImplemented();
    default:
      throw s3Errors.invalidArgument(CONTENT_SHA256_ERROR, "x-amz-content-sha256", value);
  }
}

async function handleS3(
  state: EmulatorState,
  req: IncomingMessage,
  res: ServerResponse,
  gate: BodyGate,
  p: Parsed,
  entry: RequestLogEntry,
): Promise<void> {
  const path = p.rawPath.slice(1);
  const slash = path.indexOf("/");
  const bucket = lenientDecode(slash < 0 ? path : path.slice(0, slash));
  const key = slash < 0 ? "" : lenientDecode(path.slice(slash + 1));
  const operation = s3Operation(p.method, bucket, key, p.query, p.headers);
  Object.assign(entry, { operation, ...(bucket ? { bucket } : {}), ...(key ? { key } : {}) });

  const plan = state.faults.plan({ service: "s3", operation, ...(bucket ? { bucket } : {}) });
  await applyFaultStart(plan, entry, false);
  const hasBody =
    operation === "PutObject" || operation === "UploadPart" || operation === "GetObject";
  if (plan.resetAfterBytes !== undefined && !hasBody) {
    req.socket.destroy();
    throw new ConnectionResetByFault();
  }
  if (plan.completeErrorIn200) entry.fault = "error-in-200";

  const parsedAuth = parseAuthorization(req.headers, p.queryPairs);
  const bucketConfig = bucket ? state.buckets.get(bucket) : undefined;
  if (parsedAuth.kind === "malformed") {
    if (req.headers.authorization !== undefined)
      throw s3Errors.authorizationHeaderMalformed(parsedAuth.reason);
    throw new AwsError(
      400,
      "AuthorizationQueryParametersError",
      `Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters; ${parsedAuth.reason}.`,
    );
  }
  // Bucket existence is public information in S3: anyone learns NoSuchBucket.
  if (bucket && !bucketConfig) throw s3Errors.noSuchBucket(bucket);
  if (parsedAuth.kind === "none") throw s3Errors.accessDenied();
  const auth = parsedAuth.auth;
  if (bucketConfig && auth.scope.region !== bucketConfig.region) {
    // The global endpoint (signed for us-east-1) forwards and the bucket's region rejects the
    // scope; a client configured for any other region reached the wrong regional endpoint.
    if (auth.scope.region === "us-east-1") {
      throw s3Errors.authorizationHeaderMalformed(
        `the region '${auth.scope.region}' is wrong; expecting '${bucketConfig.region}'`,
        bucketConfig.region,
      );
    }
    throw s3Errors.permanentRedirect(bucketConfig.name, bucketConfig.region);
  }
  const mode = payloadMode(p, auth);
  const claimed = p.headers.get("x-amz-content-sha256")?.[0];
  entry.payload =
    claimed === undefined ? "none" : /^[0-9a-fA-F]{64}$/.test(claimed) ? "signed" : claimed;
  const nowMs = state.now();
  const authenticated = await verifySigV4({
    service: "s3",
    request: { method: p.method, rawPath: p.rawPath, query: p.queryPairs, headers: p.headers },
    auth,
    payloadHash: p.headers.get("x-amz-content-sha256")?.[0] ?? "UNSIGNED-PAYLOAD",
    credentials: state.credentials,
    nowMs,
    maxClockSkewMs: state.config.s3.maxClockSkewMs,
  });
  let payload: PayloadMode;
  if (mode === "needs-signer") {
    const value = p.headers.get("x-amz-content-sha256")![0]!;
    const decoded = p.headers.get("x-amz-decoded-content-length")?.[0];
    if (decoded === undefined || !/^\d+$/.test(decoded)) throw s3Errors.missingContentLength();
    const trailers = value.endsWith("-TRAILER")
      ? (p.headers.get("x-amz-trailer")?.[0] ?? "")
          .split(",")
          .map((t) => t.trim().toLowerCase())
          .filter((t) => t !== "")
      : [];
    payload = {
      kind: "chunked",
      trailers,
      decodedLength: Number(decoded),
      ...(value.startsWith("STREAMING-AWS4-HMAC-SHA256")
        ? { signer: chunkSigner(authenticated) }
        : {}),
    };
  } else {
    payload = mode;
  }
  const request: S3Request = {
    req,
    res,
    gate,
    method: p.method,
    operation,
    bucket,
    key,
    query: p.query,
    headers: p.headers,
    requestId: p.requestId,
    principal: authenticated.record.principal,
    authenticated,
    payload,
    nowMs,
    fault: plan,
  };
  await runS3Operation(request, {
    store: state.store,
    uploads: state.uploads,
    config: state.config,
    endpoint: state.endpoint,
    buckets: state.buckets,
  });
  if (!res.writableEnded && !res.destroyed) {
    // Every handler answers; reaching here means a bug, so fail visibly.
    throw new Error(`aws emulator: ${operation} returned without answering`);
  }
}
