/** Small node:http helpers for the JSON APIs of the emulated clouds. */
import type { IncomingMessage, ServerResponse } from "node:http";

/** Thrown when a buffered request body exceeds its limit. */
export class BodyTooLargeError extends Error {
  override name = "BodyTooLargeError";
}

/** Buffers a small request body (JSON, forms, block lists); larger ones throw BodyTooLargeError. */
export async function readSmallBody(req: IncomingMessage, limitBytes = 1_048_576): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) throw new BodyTooLargeError(`request body exceeds ${limitBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Reads and discards the rest of a request body so the connection can be reused. */
export async function drain(req: IncomingMessage): Promise<void> {
  if (req.readableEnded) return;
  try {
    for await (const _ of req) {
      // discard
    }
  } catch {
    // the client went away; nothing to drain
  }
}

/** Sends a JSON answer; `headers` add to (or override) the defaults. */
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
    ...headers,
  });
  res.end(text);
}

/** The bearer token from `Authorization`, if any. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}

/** The media type of `Content-Type`, lower-cased, without parameters. */
export function mediaType(req: IncomingMessage): string {
  return (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
}
