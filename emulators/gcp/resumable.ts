/**
 * GCS resumable upload sessions: chunk PUTs with every `Content-Range` form, persistence in
 * 256 KiB units (what GCS guarantees for non-final chunks), 308 answers with `Range`, status
 * queries, cancellation, and finalization with digests computed as the bytes arrived.
 */
import { randomBytes } from "node:crypto";
import { type FileHandle, open, rm } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { drain, sendJson } from "../shared/http.ts";
import { type ContentDigests, ContentHasher } from "./content-hasher.ts";
import { type GcsErrorBody, gcsError } from "./google-errors.ts";
import type { Principal } from "./principals.ts";
import type { StoredObject, WritableObjectMetadata } from "./store.ts";

/** Non-final chunks are persisted in multiples of this many bytes. */
export const CHUNK_GRANULARITY_BYTES = 262_144;

/** One upload session; its URI (upload_id) is the credential for the PUTs. */
export interface ResumableSession {
  id: string;
  bucket: string;
  name: string;
  principal: Principal;
  metadata: WritableObjectMetadata;
  /** `X-Upload-Content-Length` from the initiation, if given. */
  declaredSizeBytes: number | undefined;
  ifGenerationMatch: string | undefined;
  stagingPath: string;
  file: FileHandle;
  /** Bytes persisted so far (a multiple of 256 KiB until the upload is final). */
  committedBytes: number;
  hasher: ContentHasher;
  createdAtMs: number;
  state:
    | { kind: "open" }
    | { kind: "finalized"; object: StoredObject }
    | { kind: "cancelled" }
    | { kind: "failed" };
  /** Serializes PUTs on one session. */
  queue: Promise<void>;
}

/** Result of trying to turn a session's bytes into an object. */
export type FinalizeOutcome =
  | { ok: true; object: StoredObject }
  | { ok: false; status: number; body: GcsErrorBody };

/** What a chunk PUT needs from the GCS layer. */
export interface ChunkContext {
  /** Reset the connection after this fraction of the body (fault injection). */
  resetAfterFraction: number | undefined;
  finalize: (session: ResumableSession, digests: ContentDigests) => Promise<FinalizeOutcome>;
  objectJson: (object: StoredObject) => unknown;
  now: () => number;
  sessionTtlMs: number;
}

type ContentRange =
  | { kind: "query"; totalBytes: number | undefined }
  | { kind: "data"; first: number; last: number | undefined; totalBytes: number | undefined }
  | { kind: "whole" }
  | { kind: "invalid" };

/** Parses every Content-Range form: `bytes A-B/T`, `bytes A-*` (to the body's end) and `*` totals, and status queries (star range). */
export function parseContentRange(header: string | undefined): ContentRange {
  if (header === undefined) return { kind: "whole" };
  const total = (text: string) => (text === "*" ? undefined : Number(text));
  const query = /^bytes \*\/(\*|[0-9]+)$/.exec(header.trim());
  if (query) return { kind: "query", totalBytes: total(query[1]!) };
  const data = /^bytes ([0-9]+)-([0-9]+|\*)\/(\*|[0-9]+)$/.exec(header.trim());
  if (!data) return { kind: "invalid" };
  const first = Number(data[1]);
  const last = data[2] === "*" ? undefined : Number(data[2]);
  if (last !== undefined && last < first) return { kind: "invalid" };
  return { kind: "data", first, last, totalBytes: total(data[3]!) };
}

const badRequest = (message: string) => gcsError(400, "invalid", message);

/** The session registry. */
export class ResumableSessions {
  #sessions = new Map<string, ResumableSession>();

  /** Opens a new session with an empty staging file. */
  async create(
    init: Omit<ResumableSession, "id" | "file" | "committedBytes" | "hasher" | "state" | "queue">,
  ): Promise<ResumableSession> {
    const id = `ADPycd${randomBytes(36).toString("base64url")}`;
    const file = await open(init.stagingPath, "w+");
    const session: ResumableSession = {
      ...init,
      id,
      file,
      committedBytes: 0,
      hasher: new ContentHasher(),
      state: { kind: "open" },
      queue: Promise.resolve(),
    };
    this.#sessions.set(id, session);
    return session;
  }

  /** A session by upload id, if it exists and has not expired. */
  get(id: string, now: number, ttlMs: number): ResumableSession | undefined {
    const session = this.#sessions.get(id);
    if (session && now - session.createdAtMs > ttlMs) {
      void this.#discard(session);
      this.#sessions.delete(id);
      return undefined;
    }
    return session;
  }

  /** Sessions still open (neither finalized, cancelled nor failed) and not expired. */
  open(now: number, ttlMs: number): ResumableSession[] {
    return [...this.#sessions.values()].filter(
      (session) => session.state.kind === "open" && now - session.createdAtMs <= ttlMs,
    );
  }

  /** Cancels a session (`DELETE` on the session URI → 499). */
  async cancel(session: ResumableSession): Promise<void> {
    if (session.state.kind === "open") session.state = { kind: "cancelled" };
    await this.#discard(session);
  }

  /** Closes every open file and removes staged bytes (emulator shutdown). */
  async closeAll(): Promise<void> {
    await Promise.all([...this.#sessions.values()].map((s) => this.#discard(s)));
    this.#sessions.clear();
  }

  async #discard(session: ResumableSession): Promise<void> {
    await session.file.close().catch(() => {});
    if (session.state.kind !== "finalized") await rm(session.stagingPath, { force: true });
  }

  /** Handles one PUT on a session URI, serialized with other PUTs on the same session. */
  handlePut(
    req: IncomingMessage,
    res: ServerResponse,
    session: ResumableSession,
    ctx: ChunkContext,
  ): Promise<void> {
    const run = session.queue.then(() => this.#put(req, res, session, ctx));
    session.queue = run.catch(() => {});
    return run;
  }

  async #put(
    req: IncomingMessage,
    res: ServerResponse,
    session: ResumableSession,
    ctx: ChunkContext,
  ): Promise<void> {
    switch (session.state.kind) {
      case "finalized":
        await drain(req);
        return sendJson(res, 200, ctx.objectJson(session.state.object));
      case "cancelled":
        await drain(req);
        res.writeHead(499, { "content-length": 0 }).end();
        return;
      case "failed":
        await drain(req);
        return sendJson(
          res,
          404,
          gcsError(404, "notFound", "The requested upload session no longer exists."),
        );
      case "open":
        break;
    }
    const range = parseContentRange(req.headers["content-range"]);
    const contentLength =
      req.headers["content-length"] === undefined
        ? undefined
        : Number(req.headers["content-length"]);
    switch (range.kind) {
      case "invalid":
        await drain(req);
        return sendJson(res, 400, badRequest("Failed to parse Content-Range header."));
      case "query":
        return this.#query(req, res, session, range.totalBytes, contentLength, ctx);
      case "whole":
        if (session.committedBytes !== 0) {
          await drain(req);
          return sendJson(
            res,
            400,
            badRequest("Missing Content-Range header for a partially uploaded session."),
          );
        }
        return this.#data(req, res, session, 0, undefined, contentLength, ctx);
      case "data":
        return this.#data(req, res, session, range.first, range.last, range.totalBytes, ctx);
    }
  }

  async #query(
    req: IncomingMessage,
    res: ServerResponse,
    session: ResumableSession,
    totalBytes: number | undefined,
    contentLength: number | undefined,
    ctx: ChunkContext,
  ): Promise<void> {
    if (contentLength !== undefined && contentLength > 0) {
      await drain(req);
      return sendJson(res, 400, badRequest("Client sent query request with a non-empty body."));
    }
    await drain(req);
    if (totalBytes !== undefined && totalBytes < session.committedBytes) {
      return sendJson(
        res,
        400,
        badRequest(
          `The total size ${totalBytes} is smaller than the ${session.committedBytes} byte(s) already uploaded.`,
        ),
      );
    }
    // Declaring the total equal to what is persisted completes an upload of unknown size.
    if (totalBytes !== undefined && totalBytes === session.committedBytes)
      return this.#finalize(res, session, ctx, undefined);
    return this.#incomplete(res, session);
  }

  async #data(
    req: IncomingMessage,
    res: ServerResponse,
    session: ResumableSession,
    first: number,
    last: number | undefined,
    totalBytes: number | undefined,
    ctx: ChunkContext,
  ): Promise<void> {
    const committedAtStart = session.committedBytes;
    if (first > committedAtStart) {
      await drain(req);
      return sendJson(
        res,
        400,
        badRequest(
          `Invalid request.  According to the Content-Range header, the upload offset is ${first} byte(s), which exceeds already uploaded size of ${committedAtStart} byte(s).`,
        ),
      );
    }
    if (totalBytes !== undefined && last !== undefined && last + 1 > totalBytes) {
      await drain(req);
      return sendJson(
        res,
        400,
        badRequest(`The Content-Range end ${last} exceeds the declared total ${totalBytes}.`),
      );
    }
    const declaredLength = last === undefined ? undefined : last - first + 1;
    const headerLength =
      req.headers["content-length"] === undefined
        ? undefined
        : Number(req.headers["content-length"]);
    if (
      declaredLength !== undefined &&
      headerLength !== undefined &&
      headerLength !== declaredLength
    ) {
      await drain(req);
      return sendJson(
        res,
        400,
        badRequest(
          `Content-Length ${headerLength} does not match the ${declaredLength} byte(s) of the Content-Range.`,
        ),
      );
    }
    const finalByRange = last !== undefined && totalBytes !== undefined && last + 1 === totalBytes;
    if (last !== undefined && !finalByRange && declaredLength! < CHUNK_GRANULARITY_BYTES) {
      await drain(req);
      return sendJson(
        res,
        400,
        badRequest(
          `Invalid request. The number of bytes uploaded is required to be equal or greater than ${CHUNK_GRANULARITY_BYTES}, except for the final request (it's recommended to be the exact multiple of ${CHUNK_GRANULARITY_BYTES}). The received request contained ${declaredLength} bytes, which does not meet this requirement.`,
        ),
      );
    }

    const expected = declaredLength ?? headerLength;
    const resetAt =
      ctx.resetAfterFraction === undefined
        ? undefined
        : Math.floor(ctx.resetAfterFraction * (expected ?? CHUNK_GRANULARITY_BYTES * 4));
    let skip = committedAtStart - first;
    let received = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flushAligned = async () => {
      const aligned = pendingBytes - (pendingBytes % CHUNK_GRANULARITY_BYTES);
      if (aligned === 0) return;
      const all = Buffer.concat(pending, pendingBytes);
      await this.#append(session, all.subarray(0, aligned));
      pending = aligned < pendingBytes ? [all.subarray(aligned)] : [];
      pendingBytes -= aligned;
    };
    try {
      for await (const chunk of req as AsyncIterable<Buffer>) {
        received += chunk.length;
        if (expected !== undefined && received > expected) {
          await drain(req);
          return sendJson(
            res,
            400,
            badRequest("The request body is longer than its Content-Range or Content-Length."),
          );
        }
        if (totalBytes !== undefined && first + received > totalBytes) {
          await drain(req);
          return sendJson(
            res,
            400,
            badRequest(`The upload exceeds the declared total of ${totalBytes} byte(s).`),
          );
        }
        let data = chunk;
        if (skip > 0) {
          const dropped = Math.min(skip, data.length);
          skip -= dropped;
          data = data.subarray(dropped);
        }
        if (data.length > 0) {
          pending.push(data);
          pendingBytes += data.length;
          if (pendingBytes >= CHUNK_GRANULARITY_BYTES) await flushAligned();
        }
        if (resetAt !== undefined && received >= resetAt) {
          // What already reached 256 KiB boundaries stays persisted, as on a real cut.
          req.socket.destroy();
          return;
        }
      }
    } catch {
      // The client disconnected mid-body: keep the aligned bytes, answer nobody.
      return;
    }
    if (req.readableAborted) return;
    if (expected !== undefined && received < expected) {
      return sendJson(
        res,
        400,
        badRequest("The request body is shorter than its Content-Range or Content-Length."),
      );
    }
    const final =
      finalByRange ||
      (last === undefined && (totalBytes === undefined || first + received === totalBytes));
    if (!final) return this.#incomplete(res, session);
    if (pendingBytes > 0) await this.#append(session, Buffer.concat(pending, pendingBytes));
    return this.#finalize(res, session, ctx, req.headers["x-goog-hash"]);
  }

  async #append(session: ResumableSession, data: Buffer): Promise<void> {
    await session.file.write(data, 0, data.length, session.committedBytes);
    session.hasher.update(data);
    session.committedBytes += data.length;
  }

  #incomplete(res: ServerResponse, session: ResumableSession): void {
    const headers: Record<string, string | number> = {
      "content-length": 0,
      "x-guploader-uploadid": session.id,
    };
    if (session.committedBytes > 0) headers.range = `bytes=0-${session.committedBytes - 1}`;
    // Google's Go client (rclone) asks, with `X-GUploader-No-308: yes`, for a 200 carrying the
    // real status in a header instead: Go's HTTP client would treat a bare 308 as a redirect.
    if (res.req?.headers["x-guploader-no-308"] === "yes") {
      headers["x-http-status-code-override"] = "308";
      res.writeHead(200, headers).end();
      return;
    }
    res.statusMessage = "Resume Incomplete";
    res.writeHead(308, headers).end();
  }

  async #finalize(
    res: ServerResponse,
    session: ResumableSession,
    ctx: ChunkContext,
    googHash: string | string[] | undefined,
  ): Promise<void> {
    const digests = session.hasher.digest();
    const failure = checkDigests(
      session,
      digests,
      typeof googHash === "string" ? googHash : undefined,
    );
    let outcome: FinalizeOutcome;
    if (failure) {
      outcome = { ok: false, status: 400, body: badRequest(failure) };
    } else {
      await session.file.close();
      outcome = await ctx.finalize(session, digests);
    }
    if (!outcome.ok) {
      session.state = { kind: "failed" };
      await this.#discard(session);
      return sendJson(res, outcome.status, outcome.body);
    }
    session.state = { kind: "finalized", object: outcome.object };
    sendJson(res, 200, ctx.objectJson(outcome.object));
  }
}

function checkDigests(
  session: ResumableSession,
  digests: ContentDigests,
  googHash: string | undefined,
): string | undefined {
  if (session.declaredSizeBytes !== undefined && session.declaredSizeBytes !== digests.sizeBytes) {
    return `The uploaded size ${digests.sizeBytes} does not match X-Upload-Content-Length ${session.declaredSizeBytes}.`;
  }
  return checkGoogHash(googHash, digests);
}

/** Compares `X-Goog-Hash: crc32c=…,md5=…` with what arrived; returns GCS's complaint if any. */
export function checkGoogHash(
  googHash: string | undefined,
  digests: ContentDigests,
): string | undefined {
  if (!googHash) return undefined;
  for (const pair of googHash.split(",")) {
    const at = pair.indexOf("=");
    const type = pair.slice(0, at).trim().toLowerCase();
    const value = pair.slice(at + 1).trim();
    if (type === "md5" && value !== digests.md5Base64) {
      return `Provided MD5 hash "${value}" doesn't match calculated MD5 hash "${digests.md5Base64}".`;
    }
    if (type === "crc32c" && value !== digests.crc32cBase64) {
      return `Provided CRC32C "${value}" doesn't match calculated CRC32C "${digests.crc32cBase64}".`;
    }
  }
  return undefined;
}
