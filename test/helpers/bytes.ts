/** Deterministic test bytes and small assertions shared by the destination suites. */
import { createHash } from "node:crypto";

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
