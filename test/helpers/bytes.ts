/** Deterministic test bytes and small assertions shared by the destination suites. */

import { createHash } from "node:crypto";
import { mp4File } from "../../emulators/shared/mp4.ts";

/** `size` deterministic bytes (no RNG cost), different per `seed`. */
export function testBytes(size: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed * 7 + (i >> 10)) & 0xff;
  return out;
}

/** Hex SHA-256. */
export const sha256Hex = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

/** A generous per-call signal for tests. */
export const testSignal = () => AbortSignal.timeout(60_000);

/** A minimal MP4 stating `durationMs`, with `payloadBytes` deterministic bytes of media data. */
export const testMp4 = (payloadBytes: number, durationMs: number, seed = 1): Buffer =>
  mp4File(testBytes(payloadBytes, seed), durationMs);
