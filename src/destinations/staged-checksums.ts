/**
 * The checksums destinations report for a whole object, recomputed over the staged copy in one
 * pass, so a redelivery can tell "the object is already there, intact" without uploading again.
 */
import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";
import { crc32c } from "@node-rs/crc32";
import type { ObjectChecksums } from "./contract.ts";

/** Accumulates MD5, CRC32C and CRC32 of a byte stream. */
export interface StagedChecksums {
  update(chunk: Uint8Array): void;
  /** The whole-object checksums in the clouds' encodings. */
  digest(): Required<Pick<ObjectChecksums, "md5Base64" | "crc32cBase64" | "crc32Base64">>;
}

/** Starts accumulating the checksums of a staged copy. */
export function stagedChecksums(): StagedChecksums {
  const md5 = createHash("md5");
  let castagnoli = 0;
  let ieee = 0;
  return {
    update(chunk) {
      md5.update(chunk);
      // CRC32C (Castagnoli, GCS's checksum): native SIMD in @node-rs/crc32; CRC32: zlib's.
      castagnoli = crc32c(chunk, castagnoli);
      ieee = crc32(chunk, ieee);
    },
    digest() {
      return {
        md5Base64: md5.digest("base64"),
        crc32cBase64: uint32Base64(castagnoli),
        crc32Base64: uint32Base64(ieee),
      };
    },
  };
}

/**
 * True only when at least one checksum is known on both sides and every one known on both sides
 * agrees. A composite checksum (S3 multipart `…-N`) depends on part boundaries, so it is not
 * comparable with a whole-object one.
 */
export function checksumsAgree(stored: ObjectChecksums, staged: ObjectChecksums): boolean {
  let compared = 0;
  for (const name of ["md5Base64", "crc32cBase64", "crc32Base64"] as const) {
    const a = stored[name];
    const b = staged[name];
    if (a === undefined || b === undefined || a.includes("-")) continue;
    if (a !== b) return false;
    compared++;
  }
  return compared > 0;
}

/** Base64 of a 32-bit checksum in big-endian order, as S3 (CRC32) and GCS (CRC32C) write them. */
export function uint32Base64(value: number): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value >>> 0);
  return out.toString("base64");
}
