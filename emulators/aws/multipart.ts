import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import {
  type ChecksumAlgorithm,
  checksumElementName,
  checksumHeaderName,
  createDigest,
  parseChecksumAlgorithm,
} from "./checksums.ts";
import type { AwsEmulatorConfig } from "./config.ts";
import type { Principal } from "./credentials.ts";
import { s3Errors } from "./errors.ts";
import { header, isoDate, openBody, type S3Request, send, sendXml } from "./http.ts";
import { declaredChecksums, receiveBody, receiveUpload } from "./ingest.ts";
import { objectHeadersFromRequest } from "./objects.ts";
import { compareKeys, type ObjectStore, type StoredObject } from "./store.ts";
import { parseXml, s3Document, xmlElement, xmlNode } from "./xml.ts";

const MAX_PART_NUMBER = 10_000;

/** One uploaded part. */
export interface UploadedPart {
  partNumber: number;
  size: number;
  etag: string;
  md5: Buffer;
  checksum?: string;
  file: string;
  lastModifiedMs: number;
}

/** An in-progress multipart upload. */
export interface MultipartUpload {
  uploadId: string;
  bucket: string;
  key: string;
  initiatedMs: number;
  algorithm?: ChecksumAlgorithm;
  checksumType?: "COMPOSITE" | "FULL_OBJECT";
  contentType: string;
  headers: Record<string, string>;
  metadata: Record<string, string>;
  initiator: Principal;
  parts: Map<number, UploadedPart>;
  /** Set while CompleteMultipartUpload assembles the parts: an abort waits for it. */
  completing?: Promise<unknown>;
}

/** In-progress uploads by id. */
export class UploadRegistry {
  #uploads = new Map<string, MultipartUpload>();

  /** Adds an upload. */
  add(upload: MultipartUpload): void {
    this.#uploads.set(upload.uploadId, upload);
  }

  /** The upload if it exists for this bucket and key. */
  find(bucket: string, key: string, uploadId: string): MultipartUpload | undefined {
    const upload = this.#uploads.get(uploadId);
    return upload && upload.bucket === bucket && upload.key === key ? upload : undefined;
  }

  /** Forgets an upload and deletes its part files. */
  async remove(upload: MultipartUpload): Promise<void> {
    this.#uploads.delete(upload.uploadId);
    await Promise.all([...upload.parts.values()].map((p) => rm(p.file, { force: true })));
  }

  /** Uploads of a bucket in ListMultipartUploads order (key, then initiation). */
  list(bucket: string): MultipartUpload[] {
    return [...this.#uploads.values()]
      .filter((u) => u.bucket === bucket)
      .sort(
        (a, b) =>
          compareKeys(a.key, b.key) ||
          a.initiatedMs - b.initiatedMs ||
          (a.uploadId < b.uploadId ? -1 : 1),
      );
  }
}

/** What multipart handlers need. */
export interface MultipartEnv {
  store: ObjectStore;
  uploads: UploadRegistry;
  config: AwsEmulatorConfig;
  endpoint: () => string;
}

function owner(principal: Principal): string {
  return (
    xmlElement("ID", principal.userId) +
    xmlElement("DisplayName", principal.arn.split("/").pop() ?? "")
  );
}

/** CreateMultipartUpload (`POST /bucket/key?uploads`). */
export function createMultipartUpload(r: S3Request, env: MultipartEnv): void {
  const algorithmHeader = header(r, "x-amz-checksum-algorithm");
  const algorithm = parseChecksumAlgorithm(algorithmHeader);
  if (algorithmHeader !== undefined && !algorithm) {
    throw s3Errors.invalidRequest(
      "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]",
    );
  }
  const typeHeader = header(r, "x-amz-checksum-type")?.toUpperCase();
  if (typeHeader !== undefined && typeHeader !== "COMPOSITE" && typeHeader !== "FULL_OBJECT") {
    throw s3Errors.invalidRequest("Value for x-amz-checksum-type header is invalid.");
  }
  if (typeHeader !== undefined && !algorithm) {
    throw s3Errors.invalidRequest(
      "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.",
    );
  }
  let checksumType: "COMPOSITE" | "FULL_OBJECT" | undefined;
  if (algorithm) {
    checksumType = typeHeader ?? (algorithm === "CRC64NVME" ? "FULL_OBJECT" : "COMPOSITE");
    if (checksumType === "FULL_OBJECT" && (algorithm === "SHA1" || algorithm === "SHA256")) {
      throw s3Errors.invalidRequest(
        `The FULL_OBJECT checksum type cannot be used with the ${algorithm.toLowerCase()} checksum algorithm.`,
      );
    }
    if (checksumType === "COMPOSITE" && algorithm === "CRC64NVME") {
      throw s3Errors.invalidRequest(
        "The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.",
      );
    }
  }
  const { contentType, headers, metadata } = objectHeadersFromRequest(r);
  const upload: MultipartUpload = {
    uploadId: randomBytes(48).toString("base64url"),
    bucket: r.bucket,
    key: r.key,
    initiatedMs: r.nowMs,
    contentType,
    headers,
    metadata,
    initiator: r.principal,
    parts: new Map(),
    ...(algorithm ? { algorithm } : {}),
    ...(checksumType ? { checksumType } : {}),
  };
  env.uploads.add(upload);
  const responseHeaders: Record<string, string> = {};
  if (algorithm && checksumType) {
    responseHeaders["x-amz-checksum-algorithm"] = algorithm;
    responseHeaders["x-amz-checksum-type"] = checksumType;
  }
  sendXml(
    r.res,
    200,
    s3Document("InitiateMultipartUploadResult", [
      xmlElement("Bucket", r.bucket),
      xmlElement("Key", r.key),
      xmlElement("UploadId", upload.uploadId),
    ]),
    responseHeaders,
  );
}

/** Parses `partNumber` as S3 does. */
function partNumberOf(r: S3Request): number {
  const text = r.query.get("partNumber") ?? "";
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > MAX_PART_NUMBER) {
    throw s3Errors.invalidArgument(
      "Part number must be an integer between 1 and 10000, inclusive",
      "partNumber",
      text,
    );
  }
  return n;
}

function requireUpload(r: S3Request, env: MultipartEnv): MultipartUpload {
  const uploadId = r.query.get("uploadId") ?? "";
  const upload = env.uploads.find(r.bucket, r.key, uploadId);
  if (!upload) throw s3Errors.noSuchUpload(uploadId);
  return upload;
}

function checksumName(a: ChecksumAlgorithm | undefined): string {
  return a ? a.toLowerCase() : "null";
}

/** UploadPart (`PUT /bucket/key?partNumber=N&uploadId=…`). */
export async function uploadPart(r: S3Request, env: MultipartEnv): Promise<void> {
  const partNumber = partNumberOf(r);
  const upload = requireUpload(r, env);
  const declared = declaredChecksums(r.headers, r.payload);
  const sent = declared.flexible?.algorithm;
  // A part may carry a checksum the upload did not declare (the SDK adds CRC32 by default);
  // an upload that declared one refuses parts without it or with another algorithm.
  if (upload.algorithm && sent !== upload.algorithm) {
    throw s3Errors.invalidRequest(
      `Checksum Type mismatch occurred, expected checksum Type: ${checksumName(upload.algorithm)}, actual checksum Type: ${checksumName(sent)}`,
    );
  }
  const file = env.store.newPartFile();
  const received = await receiveUpload(r, file, declared, env.config.s3.maxPartSizeBytes);
  if (env.uploads.find(r.bucket, r.key, upload.uploadId) !== upload) {
    // Aborted or completed while this part was in flight.
    await rm(file, { force: true });
    throw s3Errors.noSuchUpload(upload.uploadId);
  }
  const part: UploadedPart = {
    partNumber,
    size: received.size,
    etag: `"${received.md5.toString("hex")}"`,
    md5: received.md5,
    file,
    lastModifiedMs: r.nowMs,
    ...(received.checksum ? { checksum: received.checksum.value } : {}),
  };
  const previous = upload.parts.get(partNumber);
  upload.parts.set(partNumber, part);
  if (previous) await rm(previous.file, { force: true });
  const headers: Record<string, string> = { ETag: part.etag };
  if (received.checksum)
    headers[checksumHeaderName(received.checksum.algorithm)] = received.checksum.value;
  send(r.res, 200, headers);
}

interface RequestedPart {
  partNumber: number;
  etag: string;
  checksums: Map<ChecksumAlgorithm, string>;
}

function parseCompleteBody(xml: string): RequestedPart[] {
  const doc = parseXml(xml);
  const root = doc?.CompleteMultipartUpload;
  if (typeof root !== "object" || root === null) throw s3Errors.malformedXml();
  const parts = (root as { Part?: unknown }).Part;
  if (!Array.isArray(parts) || parts.length === 0) throw s3Errors.malformedXml();
  return parts.map((p: unknown) => {
    if (typeof p !== "object" || p === null) throw s3Errors.malformedXml();
    const fields = p as Record<string, unknown>;
    const partNumber = Number(fields.PartNumber);
    if (!Number.isInteger(partNumber) || typeof fields.ETag !== "string")
      throw s3Errors.malformedXml();
    const checksums = new Map<ChecksumAlgorithm, string>();
    for (const [name, value] of Object.entries(fields)) {
      const algorithm = name.startsWith("Checksum")
        ? parseChecksumAlgorithm(name.slice("Checksum".length))
        : undefined;
      if (algorithm && typeof value === "string") checksums.set(algorithm, value);
    }
    return { partNumber, etag: fields.ETag, checksums };
  });
}

function unquote(etag: string): string {
  return etag.replace(/^"|"$/g, "").replace(/^&quot;|&quot;$/g, "");
}

/** CompleteMultipartUpload (`POST /bucket/key?uploadId=…`). */
export async function completeMultipartUpload(r: S3Request, env: MultipartEnv): Promise<void> {
  const upload = requireUpload(r, env);
  const declared = declaredChecksums(r.headers, r.payload);
  const bodyFile = env.store.newPartFile();
  openBody(r.res, r.gate);
  await receiveBody({
    req: r.req,
    file: bodyFile,
    payload: r.payload,
    declared: {},
    maxBytes: 4 * 1024 * 1024,
  });
  const xml = await readFile(bodyFile, "utf8");
  await rm(bodyFile, { force: true });
  // Aborted while the body arrived? From here to `completing` nothing waits, so an abort can
  // only come before (NoSuchUpload now) or after (it waits for the completion).
  requireUpload(r, env);

  if (r.fault.completeErrorIn200) {
    // S3 may commit to 200 (it streams keep-alive whitespace) and then report an error.
    const error = s3Errors.internalError();
    sendXml(
      r.res,
      200,
      `<?xml version="1.0" encoding="UTF-8"?>\n\n<Error>${xmlElement("Code", error.code)}${xmlElement("Message", error.message)}${xmlElement("RequestId", r.requestId)}<HostId>emulator</HostId></Error>`,
    );
    return;
  }

  const requested = parseCompleteBody(xml);
  for (let i = 1; i < requested.length; i++) {
    if (requested[i]!.partNumber <= requested[i - 1]!.partNumber)
      throw s3Errors.invalidPartOrder(upload.uploadId);
  }
  const parts: UploadedPart[] = [];
  for (const want of requested) {
    const part = upload.parts.get(want.partNumber);
    if (!part || unquote(part.etag) !== unquote(want.etag)) {
      throw s3Errors.invalidPart(upload.uploadId, want.partNumber, want.etag);
    }
    if (upload.algorithm) {
      const given = want.checksums.get(upload.algorithm);
      if (given === undefined && upload.checksumType === "COMPOSITE") {
        throw s3Errors.invalidRequest(
          `The upload was created using a ${upload.algorithm.toLowerCase()} checksum. The complete request must include the checksum for each part. It was missing for part ${want.partNumber} in the request.`,
        );
      }
      if (given !== undefined && given !== part.checksum) {
        throw s3Errors.invalidPart(upload.uploadId, want.partNumber, want.etag);
      }
    }
    parts.push(part);
  }
  const minPart = env.config.s3.minPartSizeBytes;
  for (const part of parts.slice(0, -1)) {
    if (part.size < minPart)
      throw s3Errors.entityTooSmall(part.size, minPart, part.partNumber, part.etag);
  }
  const typeHeader = header(r, "x-amz-checksum-type")?.toUpperCase();
  if (typeHeader !== undefined && typeHeader !== (upload.checksumType ?? "")) {
    throw s3Errors.invalidRequest(
      `The upload was created using the ${upload.checksumType ?? "null"} checksum mode. The complete request must use the same checksum mode.`,
    );
  }
  if (declared.flexible && declared.flexible.algorithm !== upload.algorithm) {
    throw s3Errors.invalidRequest(
      `The upload was created using a ${checksumName(upload.algorithm)} checksum. The complete request must use the same algorithm.`,
    );
  }

  const committing = (async () => {
    const object = await assemble(upload, parts, r.nowMs);
    const expected = declared.flexible?.value;
    if (expected !== undefined && object.checksum && expected !== object.checksum.value) {
      throw s3Errors.badDigestChecksum(object.checksum.algorithm);
    }
    if (env.uploads.find(r.bucket, r.key, upload.uploadId) !== upload) {
      throw s3Errors.noSuchUpload(upload.uploadId);
    }
    // The object now owns the listed parts' files; removing the upload deletes only the others.
    for (const part of parts) upload.parts.delete(part.partNumber);
    await env.store.commit(object);
    await env.uploads.remove(upload);
    return object;
  })();
  upload.completing = committing.catch(() => {});
  const object = await committing;

  const body = [
    xmlElement("Location", `${env.endpoint()}/${r.bucket}/${encodeURI(r.key)}`),
    xmlElement("Bucket", r.bucket),
    xmlElement("Key", r.key),
    xmlElement("ETag", object.etag),
  ];
  const headers: Record<string, string> = {};
  if (object.checksum) {
    body.push(xmlElement(checksumElementName(object.checksum.algorithm), object.checksum.value));
    body.push(xmlElement("ChecksumType", object.checksum.type));
    headers[checksumHeaderName(object.checksum.algorithm)] = object.checksum.value;
    headers["x-amz-checksum-type"] = object.checksum.type;
  }
  sendXml(r.res, 200, s3Document("CompleteMultipartUploadResult", body), headers);
}

/**
 * The object the listed parts make: their files in order (no copy), and its checksum — a
 * FULL_OBJECT one read over the parts' bytes, a COMPOSITE one from the parts' checksums.
 */
async function assemble(
  upload: MultipartUpload,
  parts: UploadedPart[],
  nowMs: number,
): Promise<StoredObject> {
  const fullDigest =
    upload.algorithm && upload.checksumType === "FULL_OBJECT"
      ? createDigest(upload.algorithm)
      : undefined;
  if (fullDigest) {
    for (const part of parts) {
      for await (const chunk of createReadStream(part.file) as AsyncIterable<Buffer>) {
        fullDigest.update(chunk);
      }
    }
  }
  const size = parts.reduce((total, part) => total + part.size, 0);
  const etagMd5 = createHash("md5");
  for (const part of parts) etagMd5.update(part.md5);
  const object: StoredObject = {
    bucket: upload.bucket,
    key: upload.key,
    segments: parts.map((part) => ({ file: part.file, size: part.size })),
    size,
    etag: `"${etagMd5.digest("hex")}-${parts.length}"`,
    lastModifiedMs: nowMs,
    contentType: upload.contentType,
    headers: upload.headers,
    metadata: upload.metadata,
    partsCount: parts.length,
  };
  if (upload.algorithm && fullDigest) {
    object.checksum = {
      algorithm: upload.algorithm,
      value: (await fullDigest.digest()).toString("base64"),
      type: "FULL_OBJECT",
    };
  } else if (upload.algorithm) {
    const composite = createDigest(upload.algorithm);
    for (const part of parts) composite.update(Buffer.from(part.checksum ?? "", "base64"));
    object.checksum = {
      algorithm: upload.algorithm,
      value: `${(await composite.digest()).toString("base64")}-${parts.length}`,
      type: "COMPOSITE",
    };
  }
  return object;
}

/** AbortMultipartUpload (`DELETE /bucket/key?uploadId=…`). */
export async function abortMultipartUpload(r: S3Request, env: MultipartEnv): Promise<void> {
  const found = requireUpload(r, env);
  // An abort racing a completion waits for it (its part files are being read); if the completion
  // won, the upload is gone and the abort answers NoSuchUpload, as S3 does.
  await found.completing;
  const upload = requireUpload(r, env);
  await env.uploads.remove(upload);
  r.res.writeHead(204, { "Content-Length": 0 }).end();
}

function boundedInt(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text))
    throw s3Errors.invalidArgument(
      `Provided ${name} not an integer or within integer range`,
      name,
      text,
    );
  return Math.min(n, 1000);
}

/** ListParts (`GET /bucket/key?uploadId=…`). */
export function listParts(r: S3Request, env: MultipartEnv): void {
  const upload = requireUpload(r, env);
  const maxParts = boundedInt(r.query.get("max-parts"), "max-parts", 1000);
  const marker = boundedInt(r.query.get("part-number-marker"), "part-number-marker", 0);
  const all = [...upload.parts.values()]
    .filter((p) => p.partNumber > marker)
    .sort((a, b) => a.partNumber - b.partNumber);
  const page = all.slice(0, maxParts);
  const truncated = all.length > page.length;
  const body = [
    xmlElement("Bucket", upload.bucket),
    xmlElement("Key", upload.key),
    xmlElement("UploadId", upload.uploadId),
    xmlElement("PartNumberMarker", marker),
    xmlElement("NextPartNumberMarker", page.at(-1)?.partNumber ?? 0),
    xmlElement("MaxParts", maxParts),
    xmlElement("IsTruncated", truncated),
    ...page.map((p) =>
      xmlNode("Part", [
        ...(p.checksum && upload.algorithm
          ? [xmlElement(checksumElementName(upload.algorithm), p.checksum)]
          : []),
        xmlElement("ETag", p.etag),
        xmlElement("LastModified", isoDate(p.lastModifiedMs)),
        xmlElement("PartNumber", p.partNumber),
        xmlElement("Size", p.size),
      ]),
    ),
    xmlNode("Initiator", owner(upload.initiator)),
    xmlNode("Owner", owner(upload.initiator)),
    xmlElement("StorageClass", "STANDARD"),
    ...(upload.algorithm ? [xmlElement("ChecksumAlgorithm", upload.algorithm)] : []),
    ...(upload.checksumType ? [xmlElement("ChecksumType", upload.checksumType)] : []),
  ];
  sendXml(r.res, 200, s3Document("ListPartsResult", body));
}

/** ListMultipartUploads (`GET /bucket?uploads`). */
export function listMultipartUploads(r: S3Request, env: MultipartEnv): void {
  const prefix = r.query.get("prefix") ?? "";
  const keyMarker = r.query.get("key-marker") ?? "";
  const uploadIdMarker = r.query.get("upload-id-marker") ?? "";
  const maxUploads = boundedInt(r.query.get("max-uploads"), "max-uploads", 1000);
  const all = env.uploads.list(r.bucket).filter((u) => {
    if (!u.key.startsWith(prefix)) return false;
    if (!keyMarker) return true;
    const c = compareKeys(u.key, keyMarker);
    return c > 0 || (c === 0 && uploadIdMarker !== "" && u.uploadId > uploadIdMarker);
  });
  const page = all.slice(0, maxUploads);
  const truncated = all.length > page.length;
  const last = page.at(-1);
  const body = [
    xmlElement("Bucket", r.bucket),
    xmlElement("KeyMarker", keyMarker),
    xmlElement("UploadIdMarker", uploadIdMarker),
    xmlElement("NextKeyMarker", truncated && last ? last.key : ""),
    xmlElement("NextUploadIdMarker", truncated && last ? last.uploadId : ""),
    xmlElement("Prefix", prefix),
    xmlElement("MaxUploads", maxUploads),
    xmlElement("IsTruncated", truncated),
    ...page.map((u) =>
      xmlNode("Upload", [
        ...(u.algorithm ? [xmlElement("ChecksumAlgorithm", u.algorithm)] : []),
        ...(u.checksumType ? [xmlElement("ChecksumType", u.checksumType)] : []),
        xmlElement("Key", u.key),
        xmlElement("UploadId", u.uploadId),
        xmlNode("Initiator", owner(u.initiator)),
        xmlNode("Owner", owner(u.initiator)),
        xmlElement("StorageClass", "STANDARD"),
        xmlElement("Initiated", isoDate(u.initiatedMs)),
      ]),
    ),
  ];
  sendXml(r.res, 200, s3Document("ListMultipartUploadsResult", body));
}
