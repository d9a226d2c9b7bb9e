import { createHash } from "node:crypto";
import { closeSync, createReadStream, openSync, readSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { checksumElementName, checksumHeaderName } from "./checksums.ts";
import type { AwsEmulatorConfig } from "./config.ts";
import { s3Errors } from "./errors.ts";
import { header, httpDate, isoDate, openBody, type S3Request, send, sendXml } from "./http.ts";
import { declaredChecksums, receiveBody, receiveUpload } from "./ingest.ts";
import { isAllowed, mayListBucket } from "./permissions.ts";
import { awsUriEncode } from "./sigv4.ts";
import { compareKeys, type ObjectSegment, type ObjectStore, type StoredObject } from "./store.ts";
import { parseXml, s3Document, xmlElement, xmlNode } from "./xml.ts";

/** What object handlers need. */
export interface ObjectEnv {
  store: ObjectStore;
  config: AwsEmulatorConfig;
}

const STORED_HEADERS = ["cache-control", "content-disposition", "content-language", "expires"];

/** Content-Type, representation headers and `x-amz-meta-*` to store with a new object. */
export function objectHeadersFromRequest(r: S3Request): {
  contentType: string;
  headers: Record<string, string>;
  metadata: Record<string, string>;
} {
  const headers: Record<string, string> = {};
  for (const name of STORED_HEADERS) {
    const value = header(r, name);
    if (value !== undefined) headers[name] = value;
  }
  // aws-chunked is transfer framing, not a property of the object.
  const encoding = header(r, "content-encoding")
    ?.split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "" && e !== "aws-chunked")
    .join(",");
  if (encoding) headers["content-encoding"] = encoding;
  const metadata: Record<string, string> = {};
  for (const [name, values] of r.headers) {
    if (name.startsWith("x-amz-meta-"))
      metadata[name.slice("x-amz-meta-".length)] = values.join(",");
  }
  return { contentType: header(r, "content-type") ?? "binary/octet-stream", headers, metadata };
}

function checkWritePreconditions(r: S3Request, existing: StoredObject | undefined): void {
  const ifNoneMatch = header(r, "if-none-match");
  if (ifNoneMatch === "*" && existing) throw s3Errors.preconditionFailed("If-None-Match");
  const ifMatch = header(r, "if-match");
  if (ifMatch !== undefined) {
    if (!existing) throw s3Errors.noSuchKey(r.key);
    if (!etagListMatches(ifMatch, existing.etag)) throw s3Errors.preconditionFailed("If-Match");
  }
}

function etagListMatches(list: string, etag: string): boolean {
  return list.split(",").some((candidate) => {
    const c = candidate.trim();
    return c === "*" || c.replace(/^W\//, "").replace(/"/g, "") === etag.replace(/"/g, "");
  });
}

/** PutObject (`PUT /bucket/key`). */
export async function putObject(r: S3Request, env: ObjectEnv): Promise<void> {
  if (
    r.payload.kind !== "chunked" &&
    header(r, "content-length") === undefined &&
    header(r, "transfer-encoding") !== undefined
  ) {
    throw s3Errors.missingContentLength();
  }
  const declared = declaredChecksums(r.headers, r.payload);
  checkWritePreconditions(r, env.store.get(r.bucket, r.key));
  const file = env.store.newObjectFile();
  const received = await receiveUpload(r, file, declared, env.config.s3.maxPutObjectBytes);
  try {
    // Conditional writes are decided when the write commits, as S3 does.
    checkWritePreconditions(r, env.store.get(r.bucket, r.key));
  } catch (error) {
    await rm(file, { force: true });
    throw error;
  }
  const { contentType, headers, metadata } = objectHeadersFromRequest(r);
  const object: StoredObject = {
    bucket: r.bucket,
    key: r.key,
    segments: [{ file, size: received.size }],
    size: received.size,
    etag: `"${received.md5.toString("hex")}"`,
    ...(received.sha256Hex ? { sha256Hex: received.sha256Hex } : {}),
    lastModifiedMs: r.nowMs,
    contentType,
    headers,
    metadata,
    ...(received.checksum
      ? {
          checksum: {
            algorithm: received.checksum.algorithm,
            value: received.checksum.value,
            type: "FULL_OBJECT" as const,
          },
        }
      : {}),
  };
  await env.store.commit(object);
  const responseHeaders: Record<string, string> = { ETag: object.etag };
  if (object.checksum) {
    responseHeaders[checksumHeaderName(object.checksum.algorithm)] = object.checksum.value;
    responseHeaders["x-amz-checksum-type"] = "FULL_OBJECT";
  }
  send(r.res, 200, responseHeaders);
}

function missingObject(r: S3Request): Error {
  // Without s3:ListBucket, S3 will not confirm that a key is absent.
  return mayListBucket(r.principal.permissions, r.bucket, r.key)
    ? s3Errors.noSuchKey(r.key)
    : s3Errors.accessDenied();
}

function objectHeaders(object: StoredObject, r: S3Request): Record<string, string | number> {
  const out: Record<string, string | number> = {
    "Content-Type": r.query.get("response-content-type") ?? object.contentType,
    ETag: object.etag,
    "Last-Modified": httpDate(object.lastModifiedMs),
    "Accept-Ranges": "bytes",
  };
  for (const [name, value] of Object.entries(object.headers)) out[name] = value;
  for (const name of [
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
  ]) {
    const override = r.query.get(`response-${name}`);
    if (override !== undefined) out[name] = override;
  }
  for (const [name, value] of Object.entries(object.metadata)) out[`x-amz-meta-${name}`] = value;
  if (object.partsCount !== undefined && r.query.has("partNumber"))
    out["x-amz-mp-parts-count"] = object.partsCount;
  return out;
}

type RangeResult =
  | { kind: "all" }
  | { kind: "range"; start: number; end: number }
  | { kind: "unsatisfiable" };

/** Parses a single `bytes=` range; S3 ignores multi-range and malformed headers. */
function parseRange(value: string | undefined, size: number): RangeResult {
  if (value === undefined) return { kind: "all" };
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (!m || (m[1] === "" && m[2] === "")) return { kind: "all" };
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return { kind: "unsatisfiable" };
    return { kind: "range", start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || (m[2] !== "" && Number(m[2]) < start)) {
    return m[2] !== "" && Number(m[2]) < start ? { kind: "all" } : { kind: "unsatisfiable" };
  }
  return { kind: "range", start, end };
}

function checkReadPreconditions(r: S3Request, object: StoredObject): "ok" | "not-modified" {
  const ifMatch = header(r, "if-match");
  if (ifMatch !== undefined && !etagListMatches(ifMatch, object.etag))
    throw s3Errors.preconditionFailed("If-Match");
  const ifUnmodifiedSince = header(r, "if-unmodified-since");
  if (ifMatch === undefined && ifUnmodifiedSince !== undefined) {
    const since = Date.parse(ifUnmodifiedSince);
    if (!Number.isNaN(since) && Math.floor(object.lastModifiedMs / 1000) * 1000 > since) {
      throw s3Errors.preconditionFailed("If-Unmodified-Since");
    }
  }
  const ifNoneMatch = header(r, "if-none-match");
  if (ifNoneMatch !== undefined && etagListMatches(ifNoneMatch, object.etag)) return "not-modified";
  const ifModifiedSince = header(r, "if-modified-since");
  if (ifNoneMatch === undefined && ifModifiedSince !== undefined) {
    const since = Date.parse(ifModifiedSince);
    if (!Number.isNaN(since) && Math.floor(object.lastModifiedMs / 1000) * 1000 <= since)
      return "not-modified";
  }
  return "ok";
}

/** GetObject and HeadObject; GetObject streams from disk (optionally one byte range). */
export async function getObject(r: S3Request, env: ObjectEnv, headOnly: boolean): Promise<void> {
  const object = env.store.get(r.bucket, r.key);
  if (!object) throw missingObject(r);
  if (r.query.has("partNumber")) throw s3Errors.notImplemented();
  const headers = objectHeaders(object, r);
  if (checkReadPreconditions(r, object) === "not-modified") {
    send(r.res, 304, { ETag: object.etag, "Last-Modified": httpDate(object.lastModifiedMs) });
    return;
  }
  const range = parseRange(header(r, "range"), object.size);
  if (range.kind === "unsatisfiable")
    throw s3Errors.invalidRange(object.size, header(r, "range") ?? "");
  if (
    range.kind === "all" &&
    object.checksum &&
    header(r, "x-amz-checksum-mode")?.toUpperCase() === "ENABLED"
  ) {
    headers[checksumHeaderName(object.checksum.algorithm)] = object.checksum.value;
    headers["x-amz-checksum-type"] = object.checksum.type;
  }
  const start = range.kind === "range" ? range.start : 0;
  const end = range.kind === "range" ? range.end : object.size - 1;
  const length = Math.max(0, end - start + 1);
  headers["Content-Length"] = length;
  let status = 200;
  if (range.kind === "range") {
    status = 206;
    headers["Content-Range"] = `bytes ${start}-${end}/${object.size}`;
  }
  r.res.writeHead(status, headers);
  if (headOnly || length === 0) {
    r.res.end();
    return;
  }
  const reset = r.fault.resetAfterBytes;
  let sent = 0;
  const cutter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (reset !== undefined && sent + chunk.length >= reset) {
        this.push(chunk.subarray(0, Math.max(0, reset - sent)));
        // Let the partial bytes leave before the reset, like a connection dropping mid-body.
        setImmediate(() => r.res.socket?.destroy());
        callback();
        return;
      }
      sent += chunk.length;
      callback(null, chunk);
    },
  });
  await pipeline(readSegments(object.segments, start, end), cutter, r.res).catch(() => undefined);
}

/** DeleteObject (`DELETE /bucket/key`): 204 whether or not the key existed. */
export async function deleteObject(r: S3Request, env: ObjectEnv): Promise<void> {
  await env.store.delete(r.bucket, r.key);
  send(r.res, 204, {});
}

/** DeleteObjects (`POST /bucket?delete`), each key authorised on its own. */
export async function deleteObjects(r: S3Request, env: ObjectEnv): Promise<void> {
  const declared = declaredChecksums(r.headers, r.payload);
  if (!declared.contentMd5 && !declared.flexible) {
    throw s3Errors.invalidRequest("Missing required header for this request: Content-MD5");
  }
  const file = env.store.newObjectFile();
  openBody(r.res, r.gate);
  await receiveBody({ req: r.req, file, payload: r.payload, declared, maxBytes: 2 * 1024 * 1024 });
  const xml = await readFile(file, "utf8");
  await rm(file, { force: true });
  const root = parseXml(xml)?.Delete as { Object?: unknown; Quiet?: unknown } | undefined;
  if (
    !root ||
    !Array.isArray(root.Object) ||
    root.Object.length === 0 ||
    root.Object.length > 1000
  ) {
    throw s3Errors.malformedXml();
  }
  const quiet = String(root.Quiet ?? "").toLowerCase() === "true";
  const results: string[] = [];
  for (const entry of root.Object as Array<{ Key?: unknown }>) {
    const key = typeof entry?.Key === "string" ? entry.Key : "";
    if (
      !isAllowed(r.principal.permissions, "s3:DeleteObject", {
        kind: "object",
        bucket: r.bucket,
        key,
      })
    ) {
      results.push(
        xmlNode("Error", [
          xmlElement("Key", key),
          xmlElement("Code", "AccessDenied"),
          xmlElement("Message", "Access Denied"),
        ]),
      );
      continue;
    }
    await env.store.delete(r.bucket, key);
    if (!quiet) results.push(xmlNode("Deleted", xmlElement("Key", key)));
  }
  sendXml(r.res, 200, s3Document("DeleteResult", results));
}

/** ListObjectsV2 (`GET /bucket?list-type=2`) and ListObjects v1 (`GET /bucket`). */
export function listObjects(r: S3Request, env: ObjectEnv, version: 1 | 2): void {
  const prefix = r.query.get("prefix") ?? "";
  const delimiter = r.query.get("delimiter") ?? "";
  const maxKeysText = r.query.get("max-keys");
  if (maxKeysText !== undefined && !/^\d+$/.test(maxKeysText)) {
    throw s3Errors.invalidArgument(
      "Provided max-keys not an integer or within integer range",
      "max-keys",
      maxKeysText,
    );
  }
  const maxKeys = Math.min(maxKeysText === undefined ? 1000 : Number(maxKeysText), 1000);
  const encodingType = r.query.get("encoding-type");
  if (encodingType !== undefined && encodingType !== "url") {
    throw s3Errors.invalidArgument(
      "Invalid Encoding Method specified in Request",
      "encoding-type",
      encodingType,
    );
  }
  const encode = (text: string) =>
    encodingType === "url" ? awsUriEncode(text, false).replace(/%20/g, "+") : text;
  const token = r.query.get("continuation-token");
  let marker: string;
  if (version === 2) {
    if (token !== undefined) {
      marker = Buffer.from(token, "base64url").toString("utf8");
      if (!marker)
        throw s3Errors.invalidArgument(
          "The continuation token provided is incorrect",
          "continuation-token",
          token,
        );
    } else {
      marker = r.query.get("start-after") ?? "";
    }
  } else {
    marker = r.query.get("marker") ?? "";
  }

  const contents: StoredObject[] = [];
  const prefixes: string[] = [];
  let truncated = false;
  let last = "";
  for (const object of env.store.list(r.bucket)) {
    if (!object.key.startsWith(prefix)) continue;
    if (marker && compareKeys(object.key, marker) <= 0) continue;
    let commonPrefix: string | undefined;
    if (delimiter) {
      const at = object.key.indexOf(delimiter, prefix.length);
      if (at >= 0) commonPrefix = object.key.slice(0, at + delimiter.length);
    }
    // Keys rolled into a common prefix that was already returned (possibly on an earlier page).
    if (
      commonPrefix !== undefined &&
      (commonPrefix === prefixes.at(-1) || commonPrefix === marker)
    ) {
      continue;
    }
    if (contents.length + prefixes.length >= maxKeys) {
      truncated = true;
      break;
    }
    if (commonPrefix !== undefined) {
      prefixes.push(commonPrefix);
      last = commonPrefix;
    } else {
      contents.push(object);
      last = object.key;
    }
  }

  const body: string[] = [xmlElement("Name", r.bucket), xmlElement("Prefix", encode(prefix))];
  if (version === 2) {
    if (token !== undefined) body.push(xmlElement("ContinuationToken", token));
    if (truncated)
      body.push(
        xmlElement("NextContinuationToken", Buffer.from(last, "utf8").toString("base64url")),
      );
    body.push(xmlElement("KeyCount", contents.length + prefixes.length));
    const startAfter = r.query.get("start-after");
    if (startAfter !== undefined) body.push(xmlElement("StartAfter", encode(startAfter)));
  } else {
    body.push(xmlElement("Marker", encode(marker)));
    if (truncated && delimiter) body.push(xmlElement("NextMarker", encode(last)));
  }
  body.push(xmlElement("MaxKeys", maxKeys));
  if (delimiter) body.push(xmlElement("Delimiter", encode(delimiter)));
  if (encodingType) body.push(xmlElement("EncodingType", encodingType));
  body.push(xmlElement("IsTruncated", truncated));
  for (const object of contents) {
    body.push(
      xmlNode("Contents", [
        xmlElement("Key", encode(object.key)),
        xmlElement("LastModified", isoDate(object.lastModifiedMs)),
        xmlElement("ETag", object.etag),
        ...(object.checksum
          ? [
              xmlElement("ChecksumAlgorithm", object.checksum.algorithm),
              xmlElement("ChecksumType", object.checksum.type),
            ]
          : []),
        xmlElement("Size", object.size),
        xmlElement("StorageClass", "STANDARD"),
      ]),
    );
  }
  for (const p of prefixes) body.push(xmlNode("CommonPrefixes", xmlElement("Prefix", encode(p))));
  sendXml(r.res, 200, s3Document("ListBucketResult", body));
}

/** Not an S3 API: what tests read back about a stored object. */
export interface ObjectInfo {
  size: number;
  sha256Hex: string;
  etag: string;
  contentType: string;
  metadata: Record<string, string>;
  checksum?: { algorithm: string; value: string; type: string; element: string };
  partsCount?: number;
}

/** Describes a stored object for tests. */
export function describeObject(object: StoredObject): ObjectInfo {
  object.sha256Hex ??= sha256OfSegments(object.segments);
  return {
    size: object.size,
    sha256Hex: object.sha256Hex,
    etag: object.etag,
    contentType: object.contentType,
    metadata: { ...object.metadata },
    ...(object.checksum
      ? {
          checksum: { ...object.checksum, element: checksumElementName(object.checksum.algorithm) },
        }
      : {}),
    ...(object.partsCount === undefined ? {} : { partsCount: object.partsCount }),
  };
}

/** Bytes `start`..`end` (inclusive) of an object, across its segment files. */
async function* readSegments(
  segments: readonly ObjectSegment[],
  start: number,
  end: number,
): AsyncGenerator<Buffer> {
  let offset = 0;
  for (const segment of segments) {
    const from = Math.max(start, offset);
    const to = Math.min(end, offset + segment.size - 1);
    if (from <= to) {
      yield* createReadStream(segment.file, { start: from - offset, end: to - offset });
    }
    offset += segment.size;
    if (offset > end) return;
  }
}

/** SHA-256 of an object's bytes, read synchronously (a test's question about what it uploaded). */
function sha256OfSegments(segments: readonly ObjectSegment[]): string {
  const hash = createHash("sha256");
  const buffer = Buffer.allocUnsafe(8 * 1024 * 1024);
  for (const { file } of segments) {
    const fd = openSync(file, "r");
    try {
      for (let read = readSync(fd, buffer); read > 0; read = readSync(fd, buffer)) {
        hash.update(buffer.subarray(0, read));
      }
    } finally {
      closeSync(fd);
    }
  }
  return hash.digest("hex");
}
