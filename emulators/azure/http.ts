/** Blob's early-answer helper; the generic ones live in ../shared/http.ts. */
import type { IncomingMessage, ServerResponse } from "node:http";

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
