import { once } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Authenticated } from "./auth.ts";
import type { ChunkSigner } from "./chunked.ts";
import type { Principal } from "./credentials.ts";
import type { FaultPlan } from "./faults.ts";

/** How the request body is framed and what `x-amz-content-sha256` promised. */
export type PayloadMode =
  | { kind: "signed"; sha256Hex: string }
  | { kind: "unsigned" }
  | { kind: "chunked"; signer?: ChunkSigner; trailers: string[]; decodedLength: number };

/** Tracks whether a `100-continue` request has been told to send its body. */
export interface BodyGate {
  expectsContinue: boolean;
  continued: boolean;
}

/** Everything an S3 operation handler gets about its request. */
export interface S3Request {
  req: IncomingMessage;
  res: ServerResponse;
  gate: BodyGate;
  method: string;
  operation: string;
  bucket: string;
  key: string;
  /** First value of each query parameter. */
  query: ReadonlyMap<string, string>;
  headers: ReadonlyMap<string, readonly string[]>;
  requestId: string;
  principal: Principal;
  authenticated: Authenticated;
  payload: PayloadMode;
  nowMs: number;
  fault: FaultPlan;
}

/** First value of a header. */
export function header(
  request: { headers: ReadonlyMap<string, readonly string[]> },
  name: string,
): string | undefined {
  return request.headers.get(name)?.[0];
}

/** Lets a `100-continue` client start sending the body. */
export function openBody(res: ServerResponse, gate: BodyGate): void {
  if (gate.expectsContinue && !gate.continued) {
    gate.continued = true;
    res.writeContinue();
  }
}

/**
 * Before answering early, get rid of the unread body: drain it so the client reads our answer
 * rather than a broken pipe; a `100-continue` client that was never told to send just gets the
 * answer and a closed connection.
 */
export async function discardBody(
  req: IncomingMessage,
  res: ServerResponse,
  gate: BodyGate,
): Promise<void> {
  if (req.complete || req.destroyed) return;
  if (gate.expectsContinue && !gate.continued) {
    res.setHeader("Connection", "close");
    return;
  }
  req.resume();
  if (!req.complete)
    await Promise.race([once(req, "end"), once(req, "close")]).catch(() => undefined);
}

/** Sends a complete answer. */
export function send(
  res: ServerResponse,
  status: number,
  headers: Record<string, string | number>,
  body?: string,
): void {
  if (res.headersSent || res.destroyed) return;
  const bytes = body === undefined ? undefined : Buffer.from(body, "utf8");
  res.writeHead(status, { ...headers, "Content-Length": bytes?.length ?? 0 });
  res.end(bytes);
}

/** Sends an S3 XML document. */
export function sendXml(
  res: ServerResponse,
  status: number,
  xml: string,
  headers: Record<string, string | number> = {},
): void {
  send(res, status, { "Content-Type": "application/xml", ...headers }, xml);
}

/** RFC 7231 date, as S3 sends Last-Modified. */
export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

/** ISO-8601 with milliseconds, as S3 lists timestamps. */
export function isoDate(ms: number): string {
  return new Date(ms).toISOString();
}
