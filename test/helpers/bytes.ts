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

/** An ISO BMFF box: 32-bit size, type, payload. */
function box(type: string, ...payload: Buffer[]): Buffer {
  const body = Buffer.concat(payload);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(8 + body.length, 0);
  header.write(type, 4, "latin1");
  return Buffer.concat([header, body]);
}

/**
 * A minimal MP4 (`ftyp`, `moov/mvhd` stating `durationMs`, then `mdat` of `payloadBytes`
 * deterministic bytes): what the relay reads `duration` from.
 */
export function testMp4(payloadBytes: number, durationMs: number, seed = 1): Buffer {
  const mvhd = Buffer.alloc(100);
  mvhd.writeUInt32BE(1000, 12); // timescale: milliseconds
  mvhd.writeUInt32BE(durationMs, 16);
  return Buffer.concat([
    box("ftyp", Buffer.from("isom\0\0\x02\0isomiso2mp41", "latin1")),
    box("moov", box("mvhd", mvhd)),
    box("mdat", testBytes(payloadBytes, seed)),
  ]);
}
