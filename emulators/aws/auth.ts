import type { ChunkSigner } from "./chunked.ts";
import type { CredentialRecord, CredentialStore } from "./credentials.ts";
import { AwsError, s3Errors, stsErrors } from "./errors.ts";
import {
  chunkStringToSign,
  expectedSignature,
  parseAmzDate,
  type SigV4Authorization,
  sign,
  signaturesEqual,
  toAmzDate,
  trailerStringToSign,
} from "./sigv4.ts";

/** The parts of an HTTP request a signature covers. */
export interface SignedRequest {
  method: string;
  rawPath: string;
  query: ReadonlyArray<readonly [string, string]>;
  headers: ReadonlyMap<string, readonly string[]>;
}

/** A verified caller, and what is needed to verify streamed chunk signatures. */
export interface Authenticated {
  record: CredentialRecord;
  auth: SigV4Authorization;
  signingKey: Buffer;
}

/** Verifies key, session token, expiry, clock skew and the signature, in AWS's order. */
export async function verifySigV4(input: {
  service: "s3" | "sts";
  request: SignedRequest;
  auth: SigV4Authorization;
  payloadHash: string;
  credentials: CredentialStore;
  nowMs: number;
  maxClockSkewMs: number;
}): Promise<Authenticated> {
  const { service, request, auth, nowMs } = input;
  const errors = service === "s3" ? s3Catalogue : stsCatalogue;
  const { scope } = auth;
  if (scope.service !== service) throw errors.wrongService(scope.service, service);
  if (!auth.amzDate.startsWith(scope.date)) throw errors.wrongDate();

  const record = input.credentials.get(scope.accessKeyId);
  if (!record) throw errors.unknownKey(scope.accessKeyId);
  const token =
    auth.source === "query" ? auth.securityToken : request.headers.get("x-amz-security-token")?.[0];
  if (record.sessionToken !== undefined && token === undefined) {
    throw errors.unknownKey(scope.accessKeyId);
  }
  if (token !== undefined && token !== record.sessionToken) throw errors.badToken();
  if (record.invalidAfterMs !== undefined && nowMs >= record.invalidAfterMs) {
    throw errors.expired(token ?? "");
  }

  const requestMs = parseAmzDate(auth.amzDate);
  if (Number.isNaN(requestMs)) throw errors.wrongDate();
  if (auth.source === "query") {
    if (nowMs > requestMs + (auth.expiresSeconds ?? 0) * 1000) throw s3Errors.requestExpired();
  } else if (Math.abs(nowMs - requestMs) > input.maxClockSkewMs) {
    throw errors.skewed(auth.amzDate, nowMs);
  }

  if (service === "s3" && auth.source === "header") {
    const unsigned = [...request.headers.keys()].filter(
      (name) => name.startsWith("x-amz-") && !auth.signedHeaders.includes(name),
    );
    if (unsigned.length > 0) {
      throw new AwsError(
        403,
        "AccessDenied",
        "There were headers present in the request which were not signed",
        { fields: [["HeadersNotSigned", unsigned.join(", ")]] },
      );
    }
  }
  if (!auth.signedHeaders.includes("host")) throw errors.hostNotSigned();

  const expected = await expectedSignature({
    method: request.method,
    rawPath: request.rawPath,
    query: request.query,
    headers: request.headers,
    signedHeaders: auth.signedHeaders,
    payloadHash: input.payloadHash,
    amzDate: auth.amzDate,
    scope,
    secretAccessKey: record.secretAccessKey,
  });
  if (!signaturesEqual(expected.signature, auth.signature)) {
    throw errors.mismatch(
      scope.accessKeyId,
      expected.stringToSign,
      auth.signature,
      expected.canonicalRequest,
    );
  }
  return { record, auth, signingKey: expected.signingKey };
}

/** The chunk/trailer signature chain of a `STREAMING-AWS4-HMAC-SHA256-PAYLOAD*` body. */
export function chunkSigner(authenticated: Authenticated): ChunkSigner {
  const { auth, signingKey: key } = authenticated;
  return {
    seedSignature: auth.signature.toLowerCase(),
    chunkSignature: (previous, hash) =>
      sign(key, chunkStringToSign(auth.amzDate, auth.scope, previous, hash)),
    trailerSignature: (previous, hash) =>
      sign(key, trailerStringToSign(auth.amzDate, auth.scope, previous, hash)),
  };
}

interface Catalogue {
  wrongService(got: string, expected: string): AwsError;
  wrongDate(): AwsError;
  unknownKey(accessKeyId: string): AwsError;
  badToken(): AwsError;
  expired(token: string): AwsError;
  skewed(amzDate: string, nowMs: number): AwsError;
  hostNotSigned(): AwsError;
  mismatch(accessKeyId: string, toSign: string, provided: string, canonical: string): AwsError;
}

const s3Catalogue: Catalogue = {
  wrongService: (got, expected) =>
    s3Errors.authorizationHeaderMalformed(
      `incorrect service '${got}'. This endpoint belongs to '${expected}'.`,
    ),
  wrongDate: () =>
    s3Errors.authorizationHeaderMalformed(
      "Invalid credential date. Date is not the same as X-Amz-Date.",
    ),
  unknownKey: (id) => s3Errors.invalidAccessKeyId(id),
  badToken: () => s3Errors.invalidToken(),
  expired: (token) => s3Errors.expiredToken(token),
  skewed: (amzDate, nowMs) =>
    s3Errors.requestTimeTooSkewed(
      new Date(parseAmzDate(amzDate)).toISOString(),
      new Date(nowMs).toISOString(),
    ),
  hostNotSigned: () => s3Errors.authorizationHeaderMalformed("the host header must be signed"),
  mismatch: (id, toSign, provided, canonical) =>
    s3Errors.signatureDoesNotMatch(id, toSign, provided, canonical),
};

const stsCatalogue: Catalogue = {
  wrongService: (_got, expected) =>
    stsErrors.signatureExpired(`Credential should be scoped to correct service: '${expected}'. `),
  wrongDate: () => stsErrors.signatureExpired("Credential should be scoped to a valid date."),
  unknownKey: () => stsErrors.invalidClientTokenId(),
  badToken: () => stsErrors.invalidClientTokenId(),
  expired: () => stsErrors.expiredToken(),
  skewed: (amzDate, nowMs) =>
    stsErrors.signatureExpired(
      `Signature expired: ${amzDate} is now earlier than ${toAmzDate(nowMs - 15 * 60_000)} (${toAmzDate(nowMs)} - 15 min.)`,
    ),
  hostNotSigned: () =>
    stsErrors.incompleteSignature("'Host' must be a 'SignedHeader' in the AWS Authorization."),
  mismatch: () => stsErrors.signatureDoesNotMatch(),
};
