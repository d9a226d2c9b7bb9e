/**
 * `GET /v2/recordings/{id}/content` (docs/api.md, "Recovering a failed recording"): the retained
 * staged copy, streamed from the staging store (local or S3-compatible) while it is kept, whole or
 * one byte range. `ETag` is the SHA-256 fixed at `complete`, so a client can resume a download
 * with `If-Range` and check what it got.
 */
import { Readable } from "node:stream";
import type { FastifyReply, FastifyRequest } from "fastify";
import { AppError } from "../../errors/index.ts";
import type { Recording } from "../../recordings/store.ts";
import type { StagingStore } from "../../staging/index.ts";

/** A satisfiable byte range `[start, end)`, or why the header is not one. */
type RangeRequest =
  | { kind: "whole" }
  | { kind: "range"; start: number; end: number }
  | { kind: "unsatisfiable" };

/**
 * One `bytes=` range of RFC 9110 §14.1.2 (`a-b`, `a-`, `-n`) against `size`. A header that is
 * not one well-formed range (several ranges, another unit) is ignored: the whole copy is sent.
 */
export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (header === undefined) return { kind: "whole" };
  const match = /^bytes=\s*(\d*)-(\d*)\s*$/i.exec(header.trim());
  if (!match || (match[1] === "" && match[2] === "")) return { kind: "whole" };
  const [, first, last] = match as unknown as [string, string, string];
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: "unsatisfiable" };
    return { kind: "range", start: Math.max(0, size - suffix), end: size };
  }
  const start = Number(first);
  if (last !== "" && Number(last) < start) return { kind: "whole" };
  if (start >= size) return { kind: "unsatisfiable" };
  const end = last === "" ? size : Math.min(size, Number(last) + 1);
  return { kind: "range", start, end };
}

/** Sends the recording's retained copy (or the error that says why not). */
export async function sendRecordingContent(
  request: FastifyRequest,
  reply: FastifyReply,
  input: { recording: Recording; staging: Pick<StagingStore, "read">; nowMs: number },
): Promise<FastifyReply> {
  const { recording, nowMs } = input;
  const retainedUntil = recording.retainedUntil?.toISOString() ?? null;
  if (
    recording.state === "purged" ||
    (recording.retainedUntil !== null && recording.retainedUntil.getTime() <= nowMs)
  ) {
    throw new AppError(
      "RECORDING_PURGED",
      `recording ${recording.id} was kept until ${retainedUntil ?? "its retention ended"}; its staged copy is gone`,
      { details: { retained_until: retainedUntil } },
    );
  }
  if (recording.state === "receiving" || recording.sha256 === null) {
    throw new AppError(
      "RECORDING_STATE_CONFLICT",
      `recording ${recording.id} is still receiving: it can be downloaded once complete`,
    );
  }
  const size = recording.bytesReceived;
  const etag = `"${recording.sha256}"`;
  const ifRange = request.headers["if-range"];
  const rangeHeader = ifRange === undefined || ifRange === etag ? request.headers.range : undefined;
  const range = parseRange(rangeHeader, size);
  reply
    .header("accept-ranges", "bytes")
    .header("etag", etag)
    .header("cache-control", "private, no-store");
  if (retainedUntil) reply.header("x-retained-until", retainedUntil);
  if (range.kind === "unsatisfiable") {
    reply.header("content-range", `bytes */${size}`);
    throw new AppError(
      "RANGE_NOT_SATISFIABLE",
      `the range ${rangeHeader} is outside the recording's ${size} bytes`,
      { details: { size_bytes: size } },
    );
  }
  const start = range.kind === "range" ? range.start : 0;
  const end = range.kind === "range" ? range.end : size;
  const controller = new AbortController();
  reply.raw.once("close", () => controller.abort());
  const body = Readable.from(
    input.staging.read(recording.id, { start, end, signal: controller.signal }),
    { objectMode: false },
  );
  reply
    .status(range.kind === "range" ? 206 : 200)
    .type("video/mp4")
    .header("content-length", String(end - start))
    .header("content-disposition", `attachment; filename="${recording.id}.mp4"`);
  if (range.kind === "range") reply.header("content-range", `bytes ${start}-${end - 1}/${size}`);
  return reply.send(body);
}
