/**
 * Small request/response helpers shared by the Entra and Blob halves of the emulator.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

/** Thrown when a small request body is larger than its handler accepts. */
export class BodyTooLargeError extends Error {}

/** Reads a small request body (form posts, block lists) into memory, up to `limitBytes`. */
export async function readSmallBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) throw new BodyTooLargeError(`body exceeds ${limitBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Sends a JSON answer. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store, no-cache",
    ...headers,
  });
  res.end(text);
}

/** Bodies up to this size are read and discarded before an early answer; larger ones are not. */
const maxDrainBytes = 64 * 1024 * 1024;

/**
 * Answers only after the client has finished sending its body, so an early refusal of an upload
 * is read by the client instead of being lost to a reset on a half-written request. A body too
 * large to be worth reading (e.g. a declared 5 GiB) gets the answer at once and the connection
 * closed behind it, as Azure's front ends do.
 */
export function afterBody(req: IncomingMessage, res: ServerResponse, send: () => void): void {
  if (req.complete || req.readableEnded) {
    send();
    return;
  }
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > maxDrainBytes || req.headers["transfer-encoding"] !== undefined) {
    res.setHeader("connection", "close");
    send();
    return;
  }
  req.once("end", send);
  req.resume();
}
