/**
 * The Blob Storage half, path-style like Azurite (`/{account}/{container}/{blob}`): bearer
 * authentication, RBAC, then the block blob operations a delivery needs — Put Blob, Put Block,
 * Put Block List, Get Block List, Get/Head/Delete Blob, List Blobs — plus create/get container.
 * Request bodies stream straight to disk; nothing holds a blob in memory.
 */
import { createHash, randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { unlink } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { readSmallBody } from "../shared/http.ts";
import { xmlElement, xmlEscape } from "../shared/xml.ts";
import { authenticate, type BlobAuthContext, headerValue } from "./blob-auth.ts";
import { type BlobError, blobErrors, writeBlobError } from "./blob-errors.ts";
import {
  blockListXml,
  isValidBlockId,
  maxBlockBytes,
  maxCommittedBlocks,
  maxPutBlobBytes,
  parseBlockList,
} from "./blocks.ts";
import type { Directory } from "./directory.ts";
import type { FaultDecision } from "./faults.ts";
import { afterBody } from "./http.ts";
import { isAllowed, type RequiredAction } from "./rbac.ts";
import type { BlobProperties, BlobRecord, BlobStore, BlockRef, ContainerState } from "./store.ts";

/** What the Blob handlers need from the emulator. */
export interface BlobContext {
  origin: string;
  directory: Directory;
  store: BlobStore;
  auth: BlobAuthContext;
  now: () => number;
  maxUncommittedBlocks: number;
  stats: { blobRequests: number; operations: Record<string, number> };
}

/** The version answered when a request names none (what @azure/storage-blob 12.32 sends). */
const defaultServiceVersion = "2026-04-06";

interface Request {
  ctx: BlobContext;
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  requestId: string;
  headOnly: boolean;
  decision: FaultDecision;
}

/** Handles a request whose first path segment is a storage account name. */
export async function handleBlob(
  ctx: BlobContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  decision: FaultDecision,
): Promise<void> {
  ctx.stats.blobRequests++;
  const r: Request = {
    ctx,
    req,
    res,
    url,
    requestId: randomUUID(),
    headOnly: req.method === "HEAD",
    decision,
  };
  const [accountSegment = "", containerSegment = "", ...blobSegments] = url.pathname
    .slice(1)
    .split("/");
  const account = decodeURIComponent(accountSegment);
  const tenant = ctx.directory.accountTenant(account);
  if (!tenant) {
    // <account>.blob.core.windows.net of an unknown account does not resolve in DNS, so a
    // client never gets an HTTP answer; the closest loopback equivalent is a dropped connection.
    req.socket.destroy();
    return;
  }
  res.setHeader("x-ms-request-id", r.requestId);
  res.setHeader("x-ms-version", headerValue(req, "x-ms-version") ?? defaultServiceVersion);
  const clientRequestId = headerValue(req, "x-ms-client-request-id");
  if (clientRequestId) res.setHeader("x-ms-client-request-id", clientRequestId);
  res.setHeader("date", new Date(ctx.now()).toUTCString());
  res.setHeader("server", "Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0");

  if (decision.errorStatus) {
    return fail(
      r,
      decision.errorStatus === 503 ? blobErrors.serverBusy() : blobErrors.internalError(),
    );
  }
  const auth = await authenticate(ctx.auth, req, account, tenant.tenantId, decision.earlyExpiry);
  if (!auth.ok) return fail(r, auth.error);

  const container = decodeURIComponent(containerSegment);
  const blob = decodeURIComponent(blobSegments.join("/"));
  const op = classify(req.method ?? "", url.searchParams, container, blob);
  if ("error" in op) return fail(r, op.error);
  ctx.stats.operations[op.name] = (ctx.stats.operations[op.name] ?? 0) + 1;
  if (op.name === "GetAccountInfo") return sendAccountInfo(r);

  const target =
    op.name === "ListBlobs"
      ? { account, container, listPrefix: url.searchParams.get("prefix") ?? "" }
      : op.scope === "blob"
        ? { account, container, blob }
        : { account, container };
  // A container that does not exist is ContainerNotFound (404) for an authenticated caller, before
  // the role check: a role assignment is scoped to containers that exist, so checking the role
  // first would call a misspelt container a missing permission (AuthorizationPermissionMismatch).
  const state = op.name === "CreateContainer" ? undefined : ctx.store.container(account, container);
  if (op.name !== "CreateContainer" && !state) return fail(r, blobErrors.containerNotFound());
  if (!isAllowed(ctx.directory.roleAssignments(tenant), auth.claims.oid, op.action, target)) {
    return fail(r, blobErrors.permissionMismatch());
  }
  if (op.name === "CreateContainer") return createContainer(r, account, container);
  if (!state) return fail(r, blobErrors.containerNotFound());

  switch (op.name) {
    case "GetContainerProperties":
      return sendContainerProperties(r, state);
    case "DeleteContainer":
      await ctx.store.deleteContainer(account, container);
      return afterBody(req, res, () => reply(r, 202));
    case "ListBlobs":
      return listBlobs(r, account, state);
    case "PutBlob":
      return putBlob(r, state, blob);
    case "PutBlock":
      return putBlock(r, state, blob);
    case "PutBlockList":
      return putBlockList(r, state, blob);
    case "GetBlockList":
      return getBlockList(r, state, blob);
    case "GetBlob":
      return getBlob(r, state, blob);
    case "DeleteBlob":
      return deleteBlob(r, state, blob);
  }
}

type Operation =
  | {
      name:
        | "GetAccountInfo"
        | "CreateContainer"
        | "GetContainerProperties"
        | "DeleteContainer"
        | "ListBlobs"
        | "PutBlob"
        | "PutBlock"
        | "PutBlockList"
        | "GetBlockList"
        | "GetBlob"
        | "DeleteBlob";
      action: RequiredAction;
      scope: "account" | "container" | "blob";
    }
  | { error: BlobError };

function classify(
  method: string,
  query: URLSearchParams,
  container: string,
  blob: string,
): Operation {
  const comp = query.get("comp");
  const restype = query.get("restype");
  const read = method === "GET" || method === "HEAD";
  if (!container) {
    if (restype === "account" && comp === "properties" && read) {
      return { name: "GetAccountInfo", action: "containers/read", scope: "account" };
    }
    return { error: blobErrors.invalidQueryParameter("comp", comp ?? "") };
  }
  if (!blob) {
    if (restype !== "container")
      return { error: blobErrors.invalidQueryParameter("restype", restype ?? "") };
    if (comp === "list" && method === "GET") {
      return { name: "ListBlobs", action: "read", scope: "container" };
    }
    if (comp !== null) return { error: blobErrors.invalidQueryParameter("comp", comp) };
    if (method === "PUT")
      return { name: "CreateContainer", action: "containers/write", scope: "container" };
    if (read)
      return { name: "GetContainerProperties", action: "containers/read", scope: "container" };
    if (method === "DELETE")
      return { name: "DeleteContainer", action: "containers/write", scope: "container" };
    return { error: blobErrors.unsupportedVerb() };
  }
  if (method === "PUT") {
    if (comp === "block") return { name: "PutBlock", action: "write", scope: "blob" };
    if (comp === "blocklist") return { name: "PutBlockList", action: "write", scope: "blob" };
    if (comp === null) return { name: "PutBlob", action: "write", scope: "blob" };
    return { error: blobErrors.invalidQueryParameter("comp", comp) };
  }
  if (read) {
    if (comp === "blocklist" && method === "GET")
      return { name: "GetBlockList", action: "read", scope: "blob" };
    if (comp === null) return { name: "GetBlob", action: "read", scope: "blob" };
    return { error: blobErrors.invalidQueryParameter("comp", comp) };
  }
  if (method === "DELETE" && comp === null)
    return { name: "DeleteBlob", action: "delete", scope: "blob" };
  return { error: blobErrors.unsupportedVerb() };
}

function fail(r: Request, error: BlobError): void {
  afterBody(r.req, r.res, () => writeBlobError(r.res, error, r.requestId, r.headOnly, r.ctx.now()));
}

function reply(r: Request, status: number, headers: Record<string, string | number> = {}): void {
  r.res.writeHead(status, { "content-length": 0, ...headers });
  r.res.end();
}

function sendAccountInfo(r: Request): void {
  afterBody(r.req, r.res, () =>
    reply(r, 200, {
      "x-ms-sku-name": "Standard_LRS",
      "x-ms-account-kind": "StorageV2",
      "x-ms-is-hns-enabled": "false",
    }),
  );
}

function createContainer(r: Request, account: string, container: string) {
  if (!r.ctx.store.createContainer(account, container, r.ctx.now())) {
    return fail(r, blobErrors.containerAlreadyExists());
  }
  const state = r.ctx.store.container(account, container);
  afterBody(r.req, r.res, () =>
    reply(r, 201, {
      etag: state?.etag ?? "",
      "last-modified": (state?.createdOn ?? new Date()).toUTCString(),
    }),
  );
}

function sendContainerProperties(r: Request, state: ContainerState): void {
  afterBody(r.req, r.res, () =>
    reply(r, 200, {
      etag: state.etag,
      "last-modified": state.createdOn.toUTCString(),
      "x-ms-lease-status": "unlocked",
      "x-ms-lease-state": "available",
      "x-ms-has-immutability-policy": "false",
      "x-ms-has-legal-hold": "false",
      "x-ms-default-encryption-scope": "$account-encryption-key",
      "x-ms-deny-encryption-scope-override": "false",
    }),
  );
}

// ---- writes -------------------------------------------------------------------------------

/** Content-Length of a write, or the error Azure gives for a missing/oversized one. */
function contentLength(r: Request, maxBytes: number): number | BlobError {
  const header = headerValue(r.req, "content-length");
  if (header === undefined) return blobErrors.missingContentLength();
  const length = Number(header);
  if (!Number.isSafeInteger(length) || length < 0) {
    return blobErrors.invalidHeaderValue("Content-Length", header);
  }
  if (length > maxBytes) return blobErrors.requestBodyTooLarge(maxBytes);
  return length;
}

/** The transactional Content-MD5 header, decoded; an error if it is not 16 bytes of base64. */
function transactionalMd5(r: Request): string | undefined | BlobError {
  const header = headerValue(r.req, "content-md5");
  if (header === undefined) return undefined;
  return isMd5(header) ? header : blobErrors.invalidMd5();
}

function isMd5(value: string): boolean {
  return /^[A-Za-z0-9+/]{22}==$/.test(value) && Buffer.from(value, "base64").length === 16;
}

/** Evaluates If-Match / If-None-Match for a write against the current blob. */
function writeConditions(r: Request, existing: BlobRecord | undefined): BlobError | undefined {
  const ifMatch = headerValue(r.req, "if-match");
  const ifNoneMatch = headerValue(r.req, "if-none-match");
  if (ifNoneMatch === "*" && existing) return blobErrors.blobAlreadyExists();
  if (ifNoneMatch && ifNoneMatch !== "*" && existing && etagMatches(ifNoneMatch, existing.etag)) {
    return blobErrors.conditionNotMet();
  }
  if (ifMatch && (!existing || (ifMatch !== "*" && !etagMatches(ifMatch, existing.etag)))) {
    return blobErrors.conditionNotMet();
  }
  return undefined;
}

function etagMatches(header: string, etag: string): boolean {
  const bare = etag.replaceAll('"', "");
  return header.split(",").some((t) => t.trim().replaceAll('"', "") === bare);
}

/**
 * Streams the request body into `file`, hashing it on the way. When the fault injector drew a
 * reset, the connection is destroyed part-way, leaving the client with a half-sent body.
 */
async function receiveBody(r: Request, file: string, length: number) {
  const md5 = createHash("md5");
  let size = 0;
  const fraction = r.decision.resetAfterFraction;
  const resetAt = fraction === undefined ? undefined : Math.floor(length * fraction);
  if (resetAt !== undefined && resetAt === 0) {
    r.req.socket.destroy();
    throw new Error("fault injection: connection reset");
  }
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      size += chunk.length;
      md5.update(chunk);
      if (resetAt !== undefined && size >= resetAt) {
        r.req.socket.destroy();
        callback(new Error("fault injection: connection reset"));
        return;
      }
      callback(null, chunk);
    },
  });
  try {
    await pipeline(r.req, meter, createWriteStream(file));
  } catch (error) {
    await unlink(file).catch(() => {});
    throw error;
  }
  return { size, md5Base64: md5.digest("base64") };
}

async function putBlock(r: Request, state: ContainerState, blob: string): Promise<void> {
  const blockId = r.url.searchParams.get("blockid");
  if (blockId === null) return fail(r, blobErrors.missingQueryParameter("blockid"));
  if (!isValidBlockId(blockId)) return fail(r, blobErrors.invalidBlockId());
  const length = contentLength(r, maxBlockBytes);
  if (typeof length !== "number") return fail(r, length);
  const md5 = transactionalMd5(r);
  if (typeof md5 === "object") return fail(r, md5);

  const uncommitted = state.uncommitted.get(blob);
  const committed = state.blobs.get(blob)?.blocks.filter((b) => b.id !== "") ?? [];
  const knownIds = [...(uncommitted?.keys() ?? []), ...committed.map((b) => b.id)];
  // Every block id of one blob must have the same length (Azure's rule, InvalidBlobOrBlock).
  if (knownIds.some((id) => id.length !== blockId.length))
    return fail(r, blobErrors.invalidBlobOrBlock());
  if ((uncommitted?.size ?? 0) >= r.ctx.maxUncommittedBlocks && !uncommitted?.has(blockId)) {
    return fail(r, blobErrors.blockCountExceedsLimit());
  }

  const file = r.ctx.store.newBlockFile();
  let received: { size: number; md5Base64: string };
  try {
    received = await receiveBody(r, file, length);
  } catch {
    return; // connection gone (client abort or injected reset): nobody to answer
  }
  if (md5 !== undefined && md5 !== received.md5Base64) {
    await unlink(file).catch(() => {});
    return fail(r, blobErrors.md5Mismatch(md5, received.md5Base64));
  }
  r.ctx.store.stageBlock(state, blob, { id: blockId, file, size: received.size });
  reply(r, 201, { "content-md5": received.md5Base64, "x-ms-request-server-encrypted": "true" });
}

async function putBlob(r: Request, state: ContainerState, blob: string): Promise<void> {
  const blobType = headerValue(r.req, "x-ms-blob-type");
  if (blobType === undefined) return fail(r, blobErrors.missingHeader("x-ms-blob-type"));
  if (blobType !== "BlockBlob") {
    // Page and append blobs exist in Azure but are outside what this emulator models.
    return fail(r, blobErrors.invalidHeaderValue("x-ms-blob-type", blobType));
  }
  const length = contentLength(r, maxPutBlobBytes);
  if (typeof length !== "number") return fail(r, length);
  const md5 = transactionalMd5(r);
  if (typeof md5 === "object") return fail(r, md5);
  const properties = blobProperties(r, "content-type");
  if ("status" in properties) return fail(r, properties);
  const precondition = writeConditions(r, state.blobs.get(blob));
  if (precondition) return fail(r, precondition);

  const file = r.ctx.store.newBlockFile();
  let received: { size: number; md5Base64: string };
  try {
    received = await receiveBody(r, file, length);
  } catch {
    return;
  }
  const failure =
    md5 !== undefined && md5 !== received.md5Base64
      ? blobErrors.md5Mismatch(md5, received.md5Base64)
      : writeConditions(r, state.blobs.get(blob));
  if (failure) {
    await unlink(file).catch(() => {});
    return fail(r, failure);
  }
  // Put Blob stores the MD5 the service computed unless the client set the blob's own.
  properties.contentMd5 ??= received.md5Base64;
  const record = r.ctx.store.commit(
    state,
    blob,
    [{ id: "", file, size: received.size }],
    properties,
    r.ctx.now(),
  );
  reply(r, 201, {
    etag: record.etag,
    "last-modified": record.lastModified.toUTCString(),
    "content-md5": received.md5Base64,
    "x-ms-request-server-encrypted": "true",
  });
}

async function putBlockList(r: Request, state: ContainerState, blob: string): Promise<void> {
  const md5 = transactionalMd5(r);
  if (typeof md5 === "object") return fail(r, md5);
  const properties = blobProperties(r, "x-ms-blob-content-type");
  if ("status" in properties) return fail(r, properties);
  let body: Buffer;
  try {
    body = await readSmallBody(r.req, 32 * 1024 * 1024);
  } catch {
    return fail(r, blobErrors.requestBodyTooLarge(32 * 1024 * 1024));
  }
  const bodyMd5 = createHash("md5").update(body).digest("base64");
  if (md5 !== undefined && md5 !== bodyMd5) return fail(r, blobErrors.md5Mismatch(md5, bodyMd5));
  const xml = body.toString("utf8");
  // Count entries before parsing: a list over the limit is refused without building it.
  if ((xml.match(/<(Latest|Committed|Uncommitted)>/g)?.length ?? 0) > maxCommittedBlocks) {
    return fail(r, blobErrors.blockListTooLong());
  }
  const entries = parseBlockList(xml);
  if (!entries) return fail(r, blobErrors.invalidXml());

  const existing = state.blobs.get(blob);
  const precondition = writeConditions(r, existing);
  if (precondition) return fail(r, precondition);
  const uncommitted = state.uncommitted.get(blob) ?? new Map<string, BlockRef>();
  const committed = new Map(
    (existing?.blocks ?? []).filter((b) => b.id !== "").map((b) => [b.id, b]),
  );
  const blocks: BlockRef[] = [];
  for (const entry of entries) {
    const found =
      entry.kind === "Committed"
        ? committed.get(entry.id)
        : entry.kind === "Uncommitted"
          ? uncommitted.get(entry.id)
          : (uncommitted.get(entry.id) ?? committed.get(entry.id));
    if (!found) return fail(r, blobErrors.invalidBlockList());
    blocks.push(found);
  }
  const record = r.ctx.store.commit(state, blob, blocks, properties, r.ctx.now());
  reply(r, 201, {
    etag: record.etag,
    "last-modified": record.lastModified.toUTCString(),
    "x-ms-request-server-encrypted": "true",
  });
}

/** Blob properties from `x-ms-blob-*` headers (Put Blob also honours plain Content-Type). */
function blobProperties(r: Request, contentTypeHeader: string): BlobProperties | BlobError {
  const h = (name: string) => headerValue(r.req, name);
  const blobMd5 = h("x-ms-blob-content-md5");
  if (blobMd5 !== undefined && !isMd5(blobMd5)) {
    return blobErrors.invalidHeaderValue("x-ms-blob-content-md5", blobMd5);
  }
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(r.req.headers)) {
    if (name.startsWith("x-ms-meta-") && typeof value === "string") {
      metadata[name.slice("x-ms-meta-".length)] = value;
    }
  }
  return {
    contentType: h("x-ms-blob-content-type") ?? h(contentTypeHeader) ?? "application/octet-stream",
    contentMd5: blobMd5,
    contentEncoding: h("x-ms-blob-content-encoding"),
    contentLanguage: h("x-ms-blob-content-language"),
    contentDisposition: h("x-ms-blob-content-disposition"),
    cacheControl: h("x-ms-blob-cache-control"),
    metadata,
  };
}

// ---- reads --------------------------------------------------------------------------------

function getBlockList(r: Request, state: ContainerState, blob: string) {
  const record = state.blobs.get(blob);
  const uncommitted = state.uncommitted.get(blob);
  if (!record && !uncommitted) return fail(r, blobErrors.blobNotFound());
  const type = r.url.searchParams.get("blocklisttype") ?? "committed";
  const committedBlocks = (record?.blocks ?? []).filter((b) => b.id !== "");
  const xml = blockListXml(
    type === "uncommitted" ? [] : committedBlocks,
    type === "committed" ? undefined : [...(uncommitted?.values() ?? [])],
  );
  const headers: Record<string, string | number> = {
    "content-type": "application/xml",
    "content-length": Buffer.byteLength(xml),
    "x-ms-blob-content-length": record?.size ?? 0,
  };
  if (record) headers.etag = record.etag;
  afterBody(r.req, r.res, () => {
    r.res.writeHead(200, headers);
    r.res.end(xml);
  });
}

function getBlob(r: Request, state: ContainerState, blob: string) {
  const record = state.blobs.get(blob);
  if (!record) return fail(r, blobErrors.blobNotFound());
  const ifMatch = headerValue(r.req, "if-match");
  if (ifMatch && ifMatch !== "*" && !etagMatches(ifMatch, record.etag)) {
    return fail(r, blobErrors.conditionNotMet());
  }
  const ifNoneMatch = headerValue(r.req, "if-none-match");
  if (ifNoneMatch && (ifNoneMatch === "*" || etagMatches(ifNoneMatch, record.etag))) {
    return afterBody(r.req, r.res, () => reply(r, 304, { etag: record.etag }));
  }
  const range = parseRange(
    headerValue(r.req, "x-ms-range") ?? headerValue(r.req, "range"),
    record.size,
  );
  if (range === "unsatisfiable") return fail(r, blobErrors.invalidRange(record.size));
  const [start, end] = range ?? [0, record.size - 1];
  const length = Math.max(0, end - start + 1);
  const headers: Record<string, string | number> = {
    "content-length": length,
    "content-type": record.contentType,
    etag: record.etag,
    "last-modified": record.lastModified.toUTCString(),
    "x-ms-creation-time": record.createdOn.toUTCString(),
    "x-ms-blob-type": "BlockBlob",
    "x-ms-lease-status": "unlocked",
    "x-ms-lease-state": "available",
    "x-ms-server-encrypted": "true",
    "x-ms-access-tier": "Hot",
    "x-ms-access-tier-inferred": "true",
    "accept-ranges": "bytes",
  };
  if (record.blocks.some((b) => b.id !== "")) {
    headers["x-ms-blob-committed-block-count"] = record.blocks.length;
  }
  if (record.contentMd5) {
    // A ranged read returns the whole blob's MD5 in its own header, as Azure does.
    headers[range ? "x-ms-blob-content-md5" : "content-md5"] = record.contentMd5;
  }
  if (range) headers["content-range"] = `bytes ${start}-${end}/${record.size}`;
  for (const [name, value] of [
    ["content-encoding", record.contentEncoding],
    ["content-language", record.contentLanguage],
    ["content-disposition", record.contentDisposition],
    ["cache-control", record.cacheControl],
  ] as const) {
    if (value !== undefined) headers[name] = value;
  }
  for (const [key, value] of Object.entries(record.metadata)) headers[`x-ms-meta-${key}`] = value;

  afterBody(r.req, r.res, () => {
    r.res.writeHead(range ? 206 : 200, headers);
    if (r.headOnly || length === 0) {
      r.res.end();
      return;
    }
    const fraction = r.decision.resetAfterFraction;
    const resetAt = fraction === undefined ? undefined : Math.max(1, Math.floor(length * fraction));
    let sent = 0;
    const cutter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        sent += chunk.length;
        if (resetAt !== undefined && sent >= resetAt) {
          r.res.socket?.destroy();
          callback(new Error("fault injection: connection reset"));
          return;
        }
        callback(null, chunk);
      },
    });
    pipeline(r.ctx.store.read(record, start, end), cutter, r.res).catch(() => {
      r.res.destroy();
    });
  });
}

/** Parses `bytes=a-b` / `bytes=a-`; undefined for no (or an ignorable) range. */
function parseRange(
  header: string | undefined,
  size: number,
): [number, number] | "unsatisfiable" | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d+)-(\d*)$/.exec(header.trim());
  if (!match) return undefined;
  const start = Number(match[1]);
  const end = match[2] ? Math.min(Number(match[2]), size - 1) : size - 1;
  if (start >= size || end < start) return "unsatisfiable";
  return [start, end];
}

function deleteBlob(r: Request, state: ContainerState, blob: string) {
  const existing = state.blobs.get(blob);
  if (!existing) return fail(r, blobErrors.blobNotFound());
  const ifMatch = headerValue(r.req, "if-match");
  if (ifMatch && ifMatch !== "*" && !etagMatches(ifMatch, existing.etag)) {
    return fail(r, blobErrors.conditionNotMet());
  }
  r.ctx.store.deleteBlob(state, blob);
  afterBody(r.req, r.res, () => reply(r, 202, { "x-ms-delete-type-permanent": "true" }));
}

function listBlobs(r: Request, account: string, state: ContainerState) {
  const q = r.url.searchParams;
  const prefix = q.get("prefix") ?? "";
  const delimiter = q.get("delimiter") ?? "";
  const marker = q.get("marker") ?? "";
  const maxText = q.get("maxresults");
  const maxResults = maxText === null ? 5000 : Number(maxText);
  if (!Number.isInteger(maxResults) || maxResults < 1) {
    return fail(r, blobErrors.invalidQueryParameter("maxresults", maxText ?? ""));
  }
  const includeMetadata = (q.get("include") ?? "").split(",").includes("metadata");

  const names = [...state.blobs.keys()].filter((n) => n.startsWith(prefix) && n >= marker).sort();
  const items: string[] = [];
  const seenPrefixes = new Set<string>();
  let nextMarker = "";
  for (const name of names) {
    const cut = delimiter ? name.indexOf(delimiter, prefix.length) : -1;
    const groupPrefix = cut >= 0 ? name.slice(0, cut + delimiter.length) : undefined;
    if (groupPrefix !== undefined && seenPrefixes.has(groupPrefix)) continue;
    if (items.length === maxResults) {
      nextMarker = name;
      break;
    }
    if (groupPrefix !== undefined) {
      seenPrefixes.add(groupPrefix);
      items.push(`<BlobPrefix>${xmlElement("Name", groupPrefix)}</BlobPrefix>`);
      continue;
    }
    const record = state.blobs.get(name);
    if (record) items.push(blobXml(record, includeMetadata));
  }
  const endpoint = `${r.ctx.origin}/${account}/`;
  const optional = (tag: string, value: string | null) =>
    value === null ? "" : xmlElement(tag, value);
  const xml =
    `<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="${xmlEscape(endpoint)}" ContainerName="${xmlEscape(state.name)}">` +
    optional("Prefix", q.get("prefix")) +
    optional("Marker", q.get("marker")) +
    optional("MaxResults", maxText) +
    optional("Delimiter", q.get("delimiter")) +
    `<Blobs>${items.join("")}</Blobs>${xmlElement("NextMarker", nextMarker)}</EnumerationResults>`;
  afterBody(r.req, r.res, () => {
    r.res.writeHead(200, {
      "content-type": "application/xml",
      "content-length": Buffer.byteLength(xml),
    });
    r.res.end(xml);
  });
}

function blobXml(record: BlobRecord, includeMetadata: boolean): string {
  const tag = (name: string, value: string | undefined) =>
    value === undefined ? `<${name} />` : xmlElement(name, value);
  const metadata = includeMetadata
    ? `<Metadata>${Object.entries(record.metadata)
        .map(([k, v]) => xmlElement(k, v))
        .join("")}</Metadata>`
    : "";
  return (
    `<Blob>${xmlElement("Name", record.name)}<Properties>` +
    tag("Creation-Time", record.createdOn.toUTCString()) +
    tag("Last-Modified", record.lastModified.toUTCString()) +
    tag("Etag", record.etag.replaceAll('"', "")) +
    tag("Content-Length", String(record.size)) +
    tag("Content-Type", record.contentType) +
    tag("Content-Encoding", record.contentEncoding) +
    tag("Content-Language", record.contentLanguage) +
    tag("Content-CRC64", undefined) +
    tag("Content-MD5", record.contentMd5) +
    tag("Cache-Control", record.cacheControl) +
    tag("Content-Disposition", record.contentDisposition) +
    "<BlobType>BlockBlob</BlobType><AccessTier>Hot</AccessTier><AccessTierInferred>true</AccessTierInferred>" +
    "<LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState><ServerEncrypted>true</ServerEncrypted>" +
    `</Properties>${metadata}</Blob>`
  );
}
