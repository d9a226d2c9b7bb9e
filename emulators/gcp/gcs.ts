/**
 * The GCS JSON API surface `@google-cloud/storage` uses: uploads (media, multipart, resumable),
 * object metadata, media download, delete and list, with Google's permission checks and errors.
 */
import { createReadStream } from "node:fs";
import { open, rm } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { pipeline } from "node:stream/promises";
import { BodyTooLargeError, drain, mediaType, readSmallBody, sendJson } from "../shared/http.ts";
import { ByteReader, MalformedBodyError, parsePartHeaders } from "./byte-reader.ts";
import type { Bucket, CustomerModel, StoragePermission } from "./config.ts";
import { type ContentDigests, ContentHasher } from "./content-hasher.ts";
import { authenticate, authorize, findBucket, type GcsDenial } from "./gcs-access.ts";
import { gcsError } from "./google-errors.ts";
import type { Principal } from "./principals.ts";
import {
  checkGoogHash,
  type FinalizeOutcome,
  type ResumableSession,
  type ResumableSessions,
} from "./resumable.ts";
import type { ObjectStore, StoredObject, WritableObjectMetadata } from "./store.ts";
import type { TokenRegistry } from "./tokens.ts";

/** What the GCS handlers need. */
export interface GcsDeps {
  model: CustomerModel;
  tokens: TokenRegistry;
  store: ObjectStore;
  sessions: ResumableSessions;
  now: () => number;
  /** The emulator's base URL, for selfLink/mediaLink/session URIs. */
  endpoint: () => string;
  sessionTtlMs: number;
}

/** Per-request fault instructions from the router. */
export interface GcsRequestFaults {
  resetAfterFraction: number | undefined;
}

const send = (res: ServerResponse, denial: GcsDenial) => sendJson(res, denial.status, denial.body);

/** Routes a request under /storage/v1, /upload/storage/v1 or /download/storage/v1; false if no route. */
export async function handleGcs(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  deps: GcsDeps,
  faults: GcsRequestFaults,
): Promise<boolean> {
  const path = url.pathname;
  // `/resumable/upload/…` is the path google-apitools (gcloud) starts resumable uploads on;
  // GCS treats it as `/upload/…?uploadType=resumable`.
  let match = /^\/(resumable\/)?upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(path);
  if (match) {
    const bucketName = decodeURIComponent(match[2]!);
    const uploadId = url.searchParams.get("upload_id");
    if (uploadId !== null) {
      await sessionRequest(req, res, bucketName, uploadId, deps, faults);
      return true;
    }
    if (req.method !== "POST") return false;
    const uploadType = url.searchParams.get("uploadType") ?? (match[1] ? "resumable" : null);
    await startUpload(req, res, bucketName, uploadType, url, deps, faults);
    return true;
  }
  match = /^\/(storage|download\/storage)\/v1\/b\/([^/]+)\/o\/(.+)$/.exec(path);
  if (match) {
    const bucketName = decodeURIComponent(match[2]!);
    const objectName = decodeURIComponent(match[3]!);
    const media = match[1] === "download/storage" || url.searchParams.get("alt") === "media";
    if (req.method === "GET" || req.method === "HEAD") {
      await getObject(req, res, bucketName, objectName, media, url, deps, faults);
      return true;
    }
    if (req.method === "DELETE" && match[1] === "storage") {
      await deleteObject(req, res, bucketName, objectName, url, deps);
      return true;
    }
    return false;
  }
  match = /^\/storage\/v1\/b\/([^/]+)\/o$/.exec(path);
  if (match && req.method === "GET") {
    await listObjects(req, res, decodeURIComponent(match[1]!), url, deps);
    return true;
  }
  match = /^\/storage\/v1\/b\/([^/]+)$/.exec(path);
  if (match && req.method === "GET") {
    await getBucket(req, res, decodeURIComponent(match[1]!), deps);
    return true;
  }
  return false;
}

/** Authenticates, finds the bucket and checks one permission; sends the refusal itself. */
function access(
  req: IncomingMessage,
  res: ServerResponse,
  bucketName: string,
  permission: StoragePermission,
  objectName: string,
  deps: GcsDeps,
): { bucket: Bucket; principal: Principal } | undefined {
  const caller = authenticate(req, deps.tokens, permission);
  if (!caller.ok) {
    send(res, caller);
    return undefined;
  }
  const bucket = findBucket(deps.model, bucketName);
  if (!bucket.ok) {
    send(res, bucket);
    return undefined;
  }
  const denial = authorize(bucket.bucket, caller.principal, permission, objectName);
  if (denial) {
    send(res, denial);
    return undefined;
  }
  return { bucket: bucket.bucket, principal: caller.principal };
}

const preconditionFailed = (): GcsDenial => ({
  status: 412,
  body: gcsError(
    412,
    "conditionNotMet",
    "At least one of the pre-conditions you specified did not hold.",
  ),
});

/**
 * Names GCS refuses to create: `.`, `..`, anything under `.well-known/acme-challenge/`, and
 * names with a carriage return or line feed.
 */
function invalidObjectName(name: string): GcsDenial | undefined {
  if (
    name === "." ||
    name === ".." ||
    name.startsWith(".well-known/acme-challenge/") ||
    /[\r\n]/.test(name)
  ) {
    return {
      status: 400,
      body: gcsError(400, "invalid", "The specified object name is not valid."),
    };
  }
  return undefined;
}

/**
 * Checks the name, create (+ delete when overwriting) and `ifGenerationMatch` for a write of
 * `name`.
 */
function writeAllowed(
  bucket: Bucket,
  principal: Principal,
  name: string,
  ifGenerationMatch: string | undefined,
  deps: GcsDeps,
): GcsDenial | undefined {
  const invalid = invalidObjectName(name);
  if (invalid) return invalid;
  const create = authorize(bucket, principal, "storage.objects.create", name);
  if (create) return create;
  const existing = deps.store.get(bucket.name, name);
  if (ifGenerationMatch !== undefined && ifGenerationMatch !== (existing?.generation ?? "0")) {
    return preconditionFailed();
  }
  if (existing) return authorize(bucket, principal, "storage.objects.delete", name);
  return undefined;
}

function pickMetadata(
  json: Record<string, unknown>,
  fallbackContentType: string | undefined,
): WritableObjectMetadata {
  const metadata: WritableObjectMetadata = {};
  for (const key of [
    "contentType",
    "cacheControl",
    "contentDisposition",
    "contentEncoding",
    "contentLanguage",
  ] as const) {
    const value = json[key];
    if (typeof value === "string") metadata[key] = value;
  }
  if (metadata.contentType === undefined && fallbackContentType)
    metadata.contentType = fallbackContentType;
  const custom = json.metadata;
  if (typeof custom === "object" && custom !== null && !Array.isArray(custom)) {
    metadata.metadata = Object.fromEntries(
      Object.entries(custom as Record<string, unknown>).map(([k, v]) => [
        k,
        typeof v === "string" ? v : JSON.stringify(v),
      ]),
    );
  }
  return metadata;
}

/** The `storage#object` resource. */
export function objectResource(object: StoredObject, endpoint: string): Record<string, unknown> {
  const encoded = encodeURIComponent(object.name);
  const time = object.timeCreated;
  return {
    kind: "storage#object",
    id: `${object.bucket}/${object.name}/${object.generation}`,
    selfLink: `${endpoint}/storage/v1/b/${object.bucket}/o/${encoded}`,
    mediaLink: `${endpoint}/download/storage/v1/b/${object.bucket}/o/${encoded}?generation=${object.generation}&alt=media`,
    name: object.name,
    bucket: object.bucket,
    generation: object.generation,
    metageneration: object.metageneration,
    contentType: object.contentType,
    storageClass: "STANDARD",
    size: String(object.sizeBytes),
    md5Hash: object.md5Base64,
    crc32c: object.crc32cBase64,
    etag: Buffer.from(object.generation).toString("base64"),
    timeCreated: time,
    updated: time,
    timeStorageClassUpdated: time,
    timeFinalized: time,
    ...(object.metadata.cacheControl ? { cacheControl: object.metadata.cacheControl } : {}),
    ...(object.metadata.contentDisposition
      ? { contentDisposition: object.metadata.contentDisposition }
      : {}),
    ...(object.metadata.contentEncoding
      ? { contentEncoding: object.metadata.contentEncoding }
      : {}),
    ...(object.metadata.contentLanguage
      ? { contentLanguage: object.metadata.contentLanguage }
      : {}),
    ...(object.metadata.metadata ? { metadata: object.metadata.metadata } : {}),
  };
}

async function startUpload(
  req: IncomingMessage,
  res: ServerResponse,
  bucketName: string,
  uploadType: string | null,
  url: URL,
  deps: GcsDeps,
  faults: GcsRequestFaults,
): Promise<void> {
  if (uploadType !== "resumable" && uploadType !== "media" && uploadType !== "multipart") {
    await drain(req);
    return sendJson(
      res,
      400,
      gcsError(400, "invalidParameter", `Invalid upload type: ${uploadType ?? "none"}.`),
    );
  }
  // Authentication, the bucket and the create permission come first; the name may only be known
  // from the multipart metadata, so the prefix condition is rechecked below.
  const caller = authenticate(req, deps.tokens, "storage.objects.create");
  if (!caller.ok) {
    await drain(req);
    return send(res, caller);
  }
  const bucketResult = findBucket(deps.model, bucketName);
  if (!bucketResult.ok) {
    await drain(req);
    return send(res, bucketResult);
  }
  const bucket = bucketResult.bucket;
  const ifGenerationMatch = url.searchParams.get("ifGenerationMatch") ?? undefined;
  switch (uploadType) {
    case "resumable":
      return initiateResumable(req, res, bucket, caller.principal, url, ifGenerationMatch, deps);
    case "media":
      return simpleUpload(req, res, bucket, caller.principal, url, ifGenerationMatch, deps, faults);
    case "multipart":
      return multipartUpload(
        req,
        res,
        bucket,
        caller.principal,
        url,
        ifGenerationMatch,
        deps,
        faults,
      );
  }
}

const nameRequired = (): GcsDenial => ({
  status: 400,
  body: gcsError(400, "required", "Required"),
});

async function initiateResumable(
  req: IncomingMessage,
  res: ServerResponse,
  bucket: Bucket,
  principal: Principal,
  url: URL,
  ifGenerationMatch: string | undefined,
  deps: GcsDeps,
): Promise<void> {
  let json: Record<string, unknown> = {};
  try {
    const raw = await readSmallBody(req);
    if (raw.length > 0) json = JSON.parse(raw.toString("utf8")) as Record<string, unknown>;
    if (typeof json !== "object" || json === null || Array.isArray(json))
      throw new Error("not an object");
  } catch (error) {
    const status = error instanceof BodyTooLargeError ? 413 : 400;
    return sendJson(res, status, gcsError(status, "parseError", "Parse Error"));
  }
  const name =
    url.searchParams.get("name") ?? (typeof json.name === "string" ? json.name : undefined);
  if (!name) return send(res, nameRequired());
  const denial = writeAllowed(bucket, principal, name, ifGenerationMatch, deps);
  if (denial) return send(res, denial);
  const declared = req.headers["x-upload-content-length"];
  const uploadContentType = req.headers["x-upload-content-type"];
  const session = await deps.sessions.create({
    bucket: bucket.name,
    name,
    principal,
    metadata: pickMetadata(
      json,
      typeof uploadContentType === "string" ? uploadContentType : undefined,
    ),
    declaredSizeBytes:
      typeof declared === "string" && declared !== "" ? Number(declared) : undefined,
    ifGenerationMatch,
    stagingPath: deps.store.stagingPath(),
    createdAtMs: deps.now(),
  });
  const location = `${deps.endpoint()}/upload/storage/v1/b/${encodeURIComponent(bucket.name)}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${session.id}`;
  res.writeHead(200, { location, "x-guploader-uploadid": session.id, "content-length": 0 }).end();
}

async function sessionRequest(
  req: IncomingMessage,
  res: ServerResponse,
  bucketName: string,
  uploadId: string,
  deps: GcsDeps,
  faults: GcsRequestFaults,
): Promise<void> {
  const session = deps.sessions.get(uploadId, deps.now(), deps.sessionTtlMs);
  if (!session || session.bucket !== bucketName) {
    await drain(req);
    return sendJson(
      res,
      404,
      gcsError(404, "notFound", `No upload session found for upload_id ${uploadId}.`),
    );
  }
  if (req.method === "DELETE") {
    await drain(req);
    await deps.sessions.cancel(session);
    res.writeHead(499, { "content-length": 0 }).end();
    return;
  }
  if (req.method !== "PUT" && req.method !== "POST") {
    await drain(req);
    return sendJson(res, 405, gcsError(405, "methodNotAllowed", "Method Not Allowed"));
  }
  await deps.sessions.handlePut(req, res, session, {
    resetAfterFraction: faults.resetAfterFraction,
    finalize: (s, digests) => finalizeSession(s, digests, deps),
    objectJson: (object) => objectResource(object, deps.endpoint()),
    now: deps.now,
    sessionTtlMs: deps.sessionTtlMs,
  });
}

async function finalizeSession(
  session: ResumableSession,
  digests: ContentDigests,
  deps: GcsDeps,
): Promise<FinalizeOutcome> {
  const bucket = deps.model.buckets.find((b) => b.name === session.bucket);
  if (!bucket)
    return {
      ok: false,
      status: 404,
      body: gcsError(404, "notFound", "The specified bucket does not exist."),
    };
  // Rechecked at completion: the object may have appeared (needing delete) or grants changed.
  const denial = writeAllowed(
    bucket,
    session.principal,
    session.name,
    session.ifGenerationMatch,
    deps,
  );
  if (denial) return { ok: false, ...denial };
  const object = await deps.store.commit(
    session.bucket,
    session.name,
    session.stagingPath,
    digests,
    session.metadata,
  );
  return { ok: true, object };
}

const STAGING_WRITE_BYTES = 1024 * 1024;

/** Streams `source` into a staging file with digests; resets the connection if asked. */
async function receiveToStaging(
  req: IncomingMessage,
  write: (sink: (chunk: Buffer) => Promise<void>) => Promise<void>,
  deps: GcsDeps,
  faults: GcsRequestFaults,
): Promise<{ ok: true; path: string; digests: ContentDigests } | { ok: false; reset: boolean }> {
  const path = deps.store.stagingPath();
  const file = await open(path, "w");
  const hasher = new ContentHasher();
  const expected = Number(req.headers["content-length"] ?? Number.NaN);
  const resetAt =
    faults.resetAfterFraction === undefined
      ? undefined
      : Math.floor(faults.resetAfterFraction * (Number.isFinite(expected) ? expected : 1_048_576));
  // Socket reads are ~64 KiB: written in batches of about a megabyte, not one awaited write each
  // (which made this path slower than the resumable one, whose bytes go out in 256 KiB units).
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (pendingBytes === 0) return;
    await file.writev(pending);
    pending = [];
    pendingBytes = 0;
  };
  try {
    await write(async (chunk) => {
      hasher.update(chunk);
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (resetAt !== undefined && hasher.sizeBytes >= resetAt) {
        req.socket.destroy();
        throw new ConnectionResetByFault();
      }
      if (pendingBytes >= STAGING_WRITE_BYTES) await flush();
    });
    await flush();
    await file.close();
    return { ok: true, path, digests: hasher.digest() };
  } catch (error) {
    await file.close().catch(() => {});
    await rm(path, { force: true });
    if (error instanceof ConnectionResetByFault) return { ok: false, reset: true };
    throw error;
  }
}

class ConnectionResetByFault extends Error {}

async function simpleUpload(
  req: IncomingMessage,
  res: ServerResponse,
  bucket: Bucket,
  principal: Principal,
  url: URL,
  ifGenerationMatch: string | undefined,
  deps: GcsDeps,
  faults: GcsRequestFaults,
): Promise<void> {
  const name = url.searchParams.get("name");
  if (!name) {
    await drain(req);
    return send(res, nameRequired());
  }
  const denial = writeAllowed(bucket, principal, name, ifGenerationMatch, deps);
  if (denial) {
    await drain(req);
    return send(res, denial);
  }
  let received: Awaited<ReturnType<typeof receiveToStaging>>;
  try {
    received = await receiveToStaging(
      req,
      async (sink) => {
        for await (const chunk of req as AsyncIterable<Buffer>) await sink(chunk);
      },
      deps,
      faults,
    );
  } catch {
    return; // client went away
  }
  if (!received.ok) return;
  const contentType = req.headers["content-type"];
  return commitUpload(
    res,
    bucket,
    principal,
    name,
    ifGenerationMatch,
    received,
    req.headers["x-goog-hash"],
    {
      ...(contentType ? { contentType } : {}),
    },
    deps,
  );
}

async function commitUpload(
  res: ServerResponse,
  bucket: Bucket,
  principal: Principal,
  name: string,
  ifGenerationMatch: string | undefined,
  received: { path: string; digests: ContentDigests },
  googHash: string | string[] | undefined,
  metadata: WritableObjectMetadata,
  deps: GcsDeps,
): Promise<void> {
  const mismatch = checkGoogHash(
    typeof googHash === "string" ? googHash : undefined,
    received.digests,
  );
  const denial = mismatch
    ? { status: 400, body: gcsError(400, "invalid", mismatch) }
    : writeAllowed(bucket, principal, name, ifGenerationMatch, deps);
  if (denial) {
    await rm(received.path, { force: true });
    return send(res, denial);
  }
  const object = await deps.store.commit(
    bucket.name,
    name,
    received.path,
    received.digests,
    metadata,
  );
  sendJson(res, 200, objectResource(object, deps.endpoint()));
}

async function multipartUpload(
  req: IncomingMessage,
  res: ServerResponse,
  bucket: Bucket,
  principal: Principal,
  url: URL,
  ifGenerationMatch: string | undefined,
  deps: GcsDeps,
  faults: GcsRequestFaults,
): Promise<void> {
  const boundary = multipartBoundary(req.headers["content-type"] ?? "");
  if (mediaType(req) !== "multipart/related" || !boundary) {
    await drain(req);
    return sendJson(
      res,
      400,
      gcsError(
        400,
        "invalid",
        "Multipart uploads need Content-Type multipart/related with a boundary.",
      ),
    );
  }
  const reader = new ByteReader(req);
  let delimiter: Buffer;
  let metadataJson: Record<string, unknown>;
  let mediaContentType: string | undefined;
  try {
    // The first boundary line tells the line ending: google-apitools (gcloud, gsutil) frames
    // with bare LF, as Python's email generator writes; the other clients with CRLF.
    await reader.readUntil(Buffer.from(`--${boundary}`), 65_536);
    const eol = (await reader.readUntil(Buffer.from("\n"), 1024)).toString().endsWith("\r")
      ? "\r\n"
      : "\n";
    const headersEnd = Buffer.from(eol + eol);
    delimiter = Buffer.from(`${eol}--${boundary}`);
    parsePartHeaders(await reader.readUntil(headersEnd, 65_536));
    metadataJson = JSON.parse(
      (await reader.readUntil(delimiter, 1_048_576)).toString("utf8"),
    ) as Record<string, unknown>;
    if ((await reader.read(eol.length)).toString() !== eol)
      throw new MalformedBodyError("expected a media part");
    mediaContentType = parsePartHeaders(await reader.readUntil(headersEnd, 65_536))["content-type"];
  } catch {
    await reader.drain().catch(() => {});
    return sendJson(res, 400, gcsError(400, "parseError", "Parse Error"));
  }
  const name =
    url.searchParams.get("name") ??
    (typeof metadataJson.name === "string" ? metadataJson.name : undefined);
  const denial = name
    ? writeAllowed(bucket, principal, name, ifGenerationMatch, deps)
    : nameRequired();
  if (!name || denial) {
    await reader.drain().catch(() => {});
    return send(res, denial!);
  }
  let received: Awaited<ReturnType<typeof receiveToStaging>>;
  try {
    received = await receiveToStaging(
      req,
      async (sink) => {
        await reader.streamUntil(delimiter, sink);
        await reader.drain();
      },
      deps,
      faults,
    );
  } catch (error) {
    if (error instanceof MalformedBodyError && !res.headersSent && !req.socket.destroyed) {
      return sendJson(res, 400, gcsError(400, "parseError", "Parse Error"));
    }
    return;
  }
  if (!received.ok) return;
  return commitUpload(
    res,
    bucket,
    principal,
    name,
    ifGenerationMatch,
    received,
    req.headers["x-goog-hash"],
    pickMetadata(metadataJson, mediaContentType),
    deps,
  );
}

/**
 * The boundary parameter of a Content-Type, double-quoted, bare, or single-quoted as
 * google-apitools writes it (`boundary='===============123=='`, Python's repr).
 */
function multipartBoundary(contentType: string): string | undefined {
  const match = /;\s*boundary=(?:"([^"]+)"|'([^']+)'|([^\s;]+))/i.exec(contentType);
  return match?.[1] ?? match?.[2] ?? match?.[3];
}

const noSuchObject = (bucket: string, name: string): GcsDenial => ({
  status: 404,
  body: gcsError(404, "notFound", `No such object: ${bucket}/${name}`),
});

async function getObject(
  req: IncomingMessage,
  res: ServerResponse,
  bucketName: string,
  objectName: string,
  media: boolean,
  url: URL,
  deps: GcsDeps,
  faults: GcsRequestFaults,
): Promise<void> {
  await drain(req);
  if (!access(req, res, bucketName, "storage.objects.get", objectName, deps)) return;
  const object = deps.store.get(bucketName, objectName);
  const generation = url.searchParams.get("generation");
  if (!object || (generation !== null && generation !== object.generation)) {
    return send(res, noSuchObject(bucketName, objectName));
  }
  const ifGenerationMatch = url.searchParams.get("ifGenerationMatch");
  if (ifGenerationMatch !== null && ifGenerationMatch !== object.generation)
    return send(res, preconditionFailed());
  if (!media) return sendJson(res, 200, objectResource(object, deps.endpoint()));

  const headers: Record<string, string | number> = {
    "content-type": object.contentType,
    "x-goog-hash": `crc32c=${object.crc32cBase64},md5=${object.md5Base64}`,
    "x-goog-generation": object.generation,
    "x-goog-metageneration": object.metageneration,
    "x-goog-stored-content-length": object.sizeBytes,
    "x-goog-stored-content-encoding": object.metadata.contentEncoding ?? "identity",
    "x-goog-storage-class": "STANDARD",
    etag: `"${object.md5Base64}"`,
    "accept-ranges": "bytes",
  };
  let start = 0;
  let end = object.sizeBytes - 1;
  let status = 200;
  const range = req.headers.range;
  if (range) {
    const parsed = /^bytes=([0-9]*)-([0-9]*)$/.exec(range.trim());
    if (parsed && (parsed[1] !== "" || parsed[2] !== "")) {
      if (parsed[1] === "") {
        start = Math.max(0, object.sizeBytes - Number(parsed[2]));
      } else {
        start = Number(parsed[1]);
        if (parsed[2] !== "") end = Math.min(end, Number(parsed[2]));
      }
      if (start >= object.sizeBytes || start > end) {
        headers["content-range"] = `bytes */${object.sizeBytes}`;
        return sendJson(
          res,
          416,
          gcsError(416, "requestedRangeNotSatisfiable", "The requested range cannot be satisfied."),
          headers as Record<string, string>,
        );
      }
      status = 206;
      headers["content-range"] = `bytes ${start}-${end}/${object.sizeBytes}`;
    }
  }
  const length = object.sizeBytes === 0 ? 0 : end - start + 1;
  headers["content-length"] = length;
  res.writeHead(status, headers);
  if (req.method === "HEAD" || length === 0) {
    res.end();
    return;
  }
  const cutAfter =
    faults.resetAfterFraction === undefined
      ? undefined
      : Math.floor(faults.resetAfterFraction * length);
  const source = createReadStream(object.filePath, {
    start,
    end: cutAfter === undefined ? end : start + Math.max(0, cutAfter - 1),
  });
  try {
    await pipeline(source, res, { end: cutAfter === undefined });
  } catch {
    return; // the client went away
  }
  if (cutAfter !== undefined) res.socket?.destroy();
}

async function deleteObject(
  req: IncomingMessage,
  res: ServerResponse,
  bucketName: string,
  objectName: string,
  url: URL,
  deps: GcsDeps,
): Promise<void> {
  await drain(req);
  if (!access(req, res, bucketName, "storage.objects.delete", objectName, deps)) return;
  const object = deps.store.get(bucketName, objectName);
  if (!object) return send(res, noSuchObject(bucketName, objectName));
  const ifGenerationMatch = url.searchParams.get("ifGenerationMatch");
  if (ifGenerationMatch !== null && ifGenerationMatch !== object.generation)
    return send(res, preconditionFailed());
  await deps.store.delete(bucketName, objectName);
  res.writeHead(204).end();
}

async function listObjects(
  req: IncomingMessage,
  res: ServerResponse,
  bucketName: string,
  url: URL,
  deps: GcsDeps,
): Promise<void> {
  await drain(req);
  const prefix = url.searchParams.get("prefix") ?? "";
  if (!access(req, res, bucketName, "storage.objects.list", prefix, deps)) return;
  const delimiter = url.searchParams.get("delimiter") ?? "";
  const maxResults = Math.min(
    1000,
    Math.max(1, Number(url.searchParams.get("maxResults") ?? 1000) || 1000),
  );
  const pageToken = url.searchParams.get("pageToken");
  const after = pageToken ? Buffer.from(pageToken, "base64url").toString("utf8") : undefined;
  const items: StoredObject[] = [];
  const prefixes = new Set<string>();
  let nextPageToken: string | undefined;
  for (const object of deps.store.list(bucketName, prefix)) {
    if (after !== undefined && object.name <= after) continue;
    let entryName = object.name;
    if (delimiter) {
      const cut = object.name.indexOf(delimiter, prefix.length);
      if (cut >= 0) entryName = object.name.slice(0, cut + delimiter.length);
    }
    if (items.length + prefixes.size >= maxResults && !prefixes.has(entryName)) {
      nextPageToken = Buffer.from(items.at(-1)?.name ?? [...prefixes].at(-1) ?? "").toString(
        "base64url",
      );
      break;
    }
    if (entryName !== object.name) prefixes.add(entryName);
    else items.push(object);
  }
  const endpoint = deps.endpoint();
  sendJson(res, 200, {
    kind: "storage#objects",
    ...(nextPageToken ? { nextPageToken } : {}),
    ...(prefixes.size > 0 ? { prefixes: [...prefixes] } : {}),
    ...(items.length > 0 ? { items: items.map((o) => objectResource(o, endpoint)) } : {}),
  });
}

async function getBucket(
  req: IncomingMessage,
  res: ServerResponse,
  bucketName: string,
  deps: GcsDeps,
): Promise<void> {
  await drain(req);
  if (!access(req, res, bucketName, "storage.buckets.get", "", deps)) return;
  const bucket = deps.model.buckets.find((b) => b.name === bucketName)!;
  sendJson(res, 200, {
    kind: "storage#bucket",
    id: bucket.name,
    name: bucket.name,
    projectNumber: bucket.projectNumber ?? deps.model.projects[0]?.projectNumber ?? "0",
    location: "US",
    storageClass: "STANDARD",
    locationType: "multi-region",
  });
}
