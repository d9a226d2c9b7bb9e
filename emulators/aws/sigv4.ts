import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { Sha256 } from "@smithy/core/checksum";
import { ALGORITHM_IDENTIFIER, getSigningKey, SignatureV4 } from "@smithy/signature-v4";

/** sha256("") in hex: the payload hash of an empty body and of every aws-chunked chunk header. */
export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** The parsed `Credential=` scope. */
export interface CredentialScope {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
}

/** A SigV4 authorization, from the `Authorization` header or a presigned URL's query. */
export interface SigV4Authorization {
  source: "header" | "query";
  scope: CredentialScope;
  signedHeaders: string[];
  signature: string;
  /** `X-Amz-Date` / `x-amz-date` (or `Date`) value, ISO basic format. */
  amzDate: string;
  /** Presigned URLs only. */
  expiresSeconds?: number;
  /** Presigned URLs carry the token in the query. */
  securityToken?: string;
}

/** Either an authorization or the reason it is malformed. */
export type ParsedAuthorization =
  | { kind: "none" }
  | { kind: "ok"; auth: SigV4Authorization }
  | { kind: "malformed"; reason: string };

const ALGORITHM = "AWS4-HMAC-SHA256";

/** Parses `Credential=AKID/yyyymmdd/region/service/aws4_request`. */
export function parseCredential(value: string): CredentialScope | undefined {
  const parts = value.split("/");
  if (parts.length !== 5 || parts[4] !== "aws4_request") return undefined;
  const [accessKeyId, date, region, service] = parts as [string, string, string, string];
  if (!accessKeyId || !/^\d{8}$/.test(date) || !region || !service) return undefined;
  return { accessKeyId, date, region, service };
}

/** Reads the SigV4 authorization of a request from its headers or its presigned query. */
export function parseAuthorization(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  query: ReadonlyArray<readonly [string, string]>,
): ParsedAuthorization {
  const header = headers.authorization;
  const amzDate = firstHeader(headers["x-amz-date"]);
  if (typeof header === "string") {
    if (!header.startsWith(`${ALGORITHM} `)) {
      return { kind: "malformed", reason: "the authorization mechanism is not supported" };
    }
    const fields = new Map<string, string>();
    for (const part of header.slice(ALGORITHM.length + 1).split(",")) {
      const eq = part.indexOf("=");
      if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
    }
    const credential = fields.get("Credential");
    const signedHeaders = fields.get("SignedHeaders");
    const signature = fields.get("Signature");
    if (!credential || !signedHeaders || !signature) {
      return { kind: "malformed", reason: "missing Credential, SignedHeaders or Signature" };
    }
    const scope = parseCredential(credential);
    if (!scope) return { kind: "malformed", reason: `incorrect Credential '${credential}'` };
    const date = amzDate ?? isoBasicFromHttpDate(firstHeader(headers.date));
    if (!date) return { kind: "malformed", reason: "missing x-amz-date or Date header" };
    return {
      kind: "ok",
      auth: {
        source: "header",
        scope,
        signedHeaders: signedHeaders.split(";"),
        signature,
        amzDate: date,
      },
    };
  }
  const q = new Map(query);
  if (!q.has("X-Amz-Algorithm")) return { kind: "none" };
  if (q.get("X-Amz-Algorithm") !== ALGORITHM) {
    return { kind: "malformed", reason: "the authorization mechanism is not supported" };
  }
  const scope = parseCredential(q.get("X-Amz-Credential") ?? "");
  const signedHeaders = q.get("X-Amz-SignedHeaders");
  const signature = q.get("X-Amz-Signature");
  const date = q.get("X-Amz-Date");
  const expires = Number(q.get("X-Amz-Expires"));
  if (!scope || !signedHeaders || !signature || !date || !Number.isInteger(expires)) {
    return { kind: "malformed", reason: "invalid presigned URL query parameters" };
  }
  const token = q.get("X-Amz-Security-Token");
  return {
    kind: "ok",
    auth: {
      source: "query",
      scope,
      signedHeaders: signedHeaders.split(";"),
      signature,
      amzDate: date,
      expiresSeconds: expires,
      ...(token === undefined ? {} : { securityToken: token }),
    },
  };
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function isoBasicFromHttpDate(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : toAmzDate(ms);
}

/** `yyyymmddThhmmssZ` for a timestamp. */
export function toAmzDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
}

/** Parses `yyyymmddThhmmssZ`; NaN when malformed. */
export function parseAmzDate(value: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return Number.NaN;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

/** RFC 3986 encoding as SigV4 defines it (unreserved characters kept, everything else %XX). */
export function awsUriEncode(text: string, encodeSlash: boolean): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-._~]/.test(c) || (c === "/" && !encodeSlash)) out += c;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** Decodes percent-escapes leniently: a malformed escape stays as it was sent. */
export function lenientDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Splits a raw query string into decoded name/value pairs, keeping order and duplicates. */
export function parseQuery(rawQuery: string): Array<[string, string]> {
  if (!rawQuery) return [];
  return rawQuery
    .split("&")
    .filter((p) => p.length > 0)
    .map((p) => {
      const eq = p.indexOf("=");
      return eq < 0
        ? [lenientDecode(p), ""]
        : [lenientDecode(p.slice(0, eq)), lenientDecode(p.slice(eq + 1))];
    });
}

/** Groups Node's `rawHeaders` by lower-case name, keeping every value in order. */
export function groupRawHeaders(rawHeaders: readonly string[]): Map<string, string[]> {
  const grouped = new Map<string, string[]>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    const values = grouped.get(name) ?? [];
    values.push(rawHeaders[i + 1]!);
    grouped.set(name, values);
  }
  return grouped;
}

/** `date/region/service/aws4_request`. */
export function scopeString(scope: CredentialScope): string {
  return `${scope.date}/${scope.region}/${scope.service}/aws4_request`;
}

type SdkRequest = Parameters<SignatureV4["presign"]>[0];

/**
 * The AWS SDK's signer, opened up to verify instead of sign: a received request's signed
 * headers, date and scope are given, not chosen by the signer.
 */
class VerifyingSigner extends SignatureV4 {
  async expected(
    request: SdkRequest,
    canonicalHeaders: Record<string, string>,
    payloadHash: string,
    amzDate: string,
    scope: CredentialScope,
  ): Promise<{ canonicalRequest: string; stringToSign: string; signature: string }> {
    const canonicalRequest = this.createCanonicalRequest(request, canonicalHeaders, payloadHash);
    const stringToSign = await this.createStringToSign(
      amzDate,
      scopeString(scope),
      canonicalRequest,
      ALGORITHM_IDENTIFIER,
    );
    const signature = await this.sign(stringToSign, {
      signingDate: new Date(parseAmzDate(amzDate)),
      signingRegion: scope.region,
      signingService: scope.service,
    });
    return { canonicalRequest, stringToSign, signature };
  }
}

/** The SigV4 computation for a request as received, and the signature it must carry. */
export interface ExpectedSignature {
  canonicalRequest: string;
  stringToSign: string;
  signature: string;
  /** For the aws-chunked chunk and trailer signatures. */
  signingKey: Buffer;
}

/**
 * Computes the signature a request must carry with `@smithy/signature-v4`, the AWS SDK's signer.
 * S3 signs the path encoded once and not normalised; other services (STS) sign it normalised and
 * encoded a second time, which is the signer's `uriEscapePath`. Header values are trimmed and
 * their inner whitespace squeezed; repeated headers are joined with commas.
 */
export async function expectedSignature(input: {
  method: string;
  rawPath: string;
  query: ReadonlyArray<readonly [string, string]>;
  headers: ReadonlyMap<string, readonly string[]>;
  signedHeaders: readonly string[];
  payloadHash: string;
  amzDate: string;
  scope: CredentialScope;
  secretAccessKey: string;
}): Promise<ExpectedSignature> {
  const { scope } = input;
  const s3 = scope.service === "s3";
  const credentials = { accessKeyId: scope.accessKeyId, secretAccessKey: input.secretAccessKey };
  const signer = new VerifyingSigner({
    service: scope.service,
    region: scope.region,
    credentials,
    sha256: Sha256,
    uriEscapePath: !s3,
    applyChecksum: false,
  });
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of input.query) {
    const existing = query[name];
    query[name] =
      existing === undefined
        ? value
        : [...(Array.isArray(existing) ? existing : [existing]), value];
  }
  const canonicalHeaders: Record<string, string> = {};
  for (const name of input.signedHeaders) {
    const values = input.headers.get(name) ?? [];
    canonicalHeaders[name] = values.map((v) => v.trim().replace(/\s+/g, " ")).join(",");
  }
  const request: SdkRequest = {
    method: input.method,
    protocol: "http:",
    hostname: input.headers.get("host")?.[0] ?? "",
    path: s3 ? awsUriEncode(lenientDecode(input.rawPath), false) || "/" : input.rawPath,
    query,
    headers: canonicalHeaders,
  };
  const expected = await signer.expected(
    request,
    canonicalHeaders,
    input.payloadHash,
    input.amzDate,
    scope,
  );
  const signingKey = await getSigningKey(
    Sha256,
    credentials,
    scope.date,
    scope.region,
    scope.service,
  );
  return { ...expected, signingKey: Buffer.from(signingKey) };
}

/** The string to sign for one aws-chunked chunk (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`). */
export function chunkStringToSign(
  amzDate: string,
  scope: CredentialScope,
  previousSignature: string,
  chunkSha256Hex: string,
): string {
  return `${ALGORITHM}-PAYLOAD\n${amzDate}\n${scopeString(scope)}\n${previousSignature}\n${EMPTY_SHA256}\n${chunkSha256Hex}`;
}

/** The string to sign for the trailing headers of a signed aws-chunked body. */
export function trailerStringToSign(
  amzDate: string,
  scope: CredentialScope,
  previousSignature: string,
  trailerSha256Hex: string,
): string {
  return `${ALGORITHM}-TRAILER\n${amzDate}\n${scopeString(scope)}\n${previousSignature}\n${trailerSha256Hex}`;
}

/** Hex HMAC-SHA256 signature of a chunk or trailer string to sign (synchronous, per chunk). */
export function sign(key: Buffer, text: string): string {
  return createHmac("sha256", key).update(text, "utf8").digest("hex");
}

/** Hex sha256 of a string or bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Constant-time comparison of two hex signatures. */
export function signaturesEqual(expected: string, provided: string): boolean {
  const a = Buffer.from(expected, "utf8");
  const b = Buffer.from(provided.toLowerCase(), "utf8");
  return a.length === b.length && timingSafeEqual(a, b);
}
