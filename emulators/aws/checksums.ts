import { createHash, type Hash } from "node:crypto";
import { crc32 } from "node:zlib";

/** The flexible-checksum algorithms S3 accepts in `x-amz-checksum-*`. */
export const CHECKSUM_ALGORITHMS = ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"] as const;
/** One of {@link CHECKSUM_ALGORITHMS}. */
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

/** An incremental digest; `digest()` gives the raw big-endian bytes S3 base64-encodes. */
export interface Digest {
  update(chunk: Uint8Array): void;
  digest(): Buffer;
}

/** Parses an algorithm name case-insensitively, as S3 does for headers and XML. */
export function parseChecksumAlgorithm(value: string | undefined): ChecksumAlgorithm | undefined {
  const upper = value?.toUpperCase();
  return CHECKSUM_ALGORITHMS.find((a) => a === upper);
}

/** The request/response header that carries an algorithm's value. */
export function checksumHeaderName(algorithm: ChecksumAlgorithm): string {
  return `x-amz-checksum-${algorithm.toLowerCase()}`;
}

/** The XML element name S3 uses for an algorithm (`ChecksumCRC32`, …). */
export function checksumElementName(algorithm: ChecksumAlgorithm): string {
  return `Checksum${algorithm}`;
}

/** Raw digest length in bytes, to reject malformed header values before comparing. */
export function checksumByteLength(algorithm: ChecksumAlgorithm): number {
  switch (algorithm) {
    case "CRC32":
    case "CRC32C":
      return 4;
    case "CRC64NVME":
      return 8;
    case "SHA1":
      return 20;
    case "SHA256":
      return 32;
  }
}

/** Creates an incremental digest for the algorithm. */
export function createDigest(algorithm: ChecksumAlgorithm): Digest {
  switch (algorithm) {
    case "CRC32":
      return crc32Digest();
    case "CRC32C":
      return crc32cDigest();
    case "CRC64NVME":
      return crc64NvmeDigest();
    case "SHA1":
      return hashDigest(createHash("sha1"));
    case "SHA256":
      return hashDigest(createHash("sha256"));
  }
}

/** One-shot base64 checksum of a buffer. */
export function checksumOf(algorithm: ChecksumAlgorithm, data: Uint8Array): string {
  const digest = createDigest(algorithm);
  digest.update(data);
  return digest.digest().toString("base64");
}

function hashDigest(hash: Hash): Digest {
  return { update: (chunk) => hash.update(chunk), digest: () => hash.digest() };
}

function uint32Bytes(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value >>> 0);
  return out;
}

function crc32Digest(): Digest {
  let value = 0;
  return {
    update: (chunk) => {
      value = crc32(chunk, value);
    },
    digest: () => uint32Bytes(value),
  };
}

// Castagnoli polynomial, reflected; zlib has no CRC32C so it is table-driven here.
const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32cDigest(): Digest {
  let crc = 0xffffffff;
  return {
    update: (chunk) => {
      let c = crc;
      for (let i = 0; i < chunk.length; i++) c = CRC32C_TABLE[(c ^ chunk[i]!) & 0xff]! ^ (c >>> 8);
      crc = c;
    },
    digest: () => uint32Bytes(crc ^ 0xffffffff),
  };
}

// CRC-64/NVME (reflected polynomial 0x9a6c9329ac4bc9b5). The 64-bit state is kept as two
// uint32 halves because BigInt arithmetic per byte would make multi-GB objects crawl.
const CRC64_TABLE_HI = new Uint32Array(256);
const CRC64_TABLE_LO = new Uint32Array(256);
(() => {
  const polyHi = 0x9a6c9329;
  const polyLo = 0xac4bc9b5;
  for (let n = 0; n < 256; n++) {
    let hi = 0;
    let lo = n;
    for (let k = 0; k < 8; k++) {
      const lsb = lo & 1;
      lo = ((lo >>> 1) | (hi << 31)) >>> 0;
      hi = hi >>> 1;
      if (lsb) {
        hi = (hi ^ polyHi) >>> 0;
        lo = (lo ^ polyLo) >>> 0;
      }
    }
    CRC64_TABLE_HI[n] = hi;
    CRC64_TABLE_LO[n] = lo;
  }
})();

function crc64NvmeDigest(): Digest {
  let hi = 0xffffffff;
  let lo = 0xffffffff;
  return {
    update: (chunk) => {
      let h = hi;
      let l = lo;
      for (let i = 0; i < chunk.length; i++) {
        const index = (l ^ chunk[i]!) & 0xff;
        l = ((l >>> 8) | (h << 24)) ^ CRC64_TABLE_LO[index]!;
        h = (h >>> 8) ^ CRC64_TABLE_HI[index]!;
      }
      hi = h >>> 0;
      lo = l >>> 0;
    },
    digest: () => {
      const out = Buffer.alloc(8);
      out.writeUInt32BE((hi ^ 0xffffffff) >>> 0, 0);
      out.writeUInt32BE((lo ^ 0xffffffff) >>> 0, 4);
      return out;
    },
  };
}

/** True when `value` is base64 of exactly the algorithm's digest length. */
export function isWellFormedChecksum(algorithm: ChecksumAlgorithm, value: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return false;
  return Buffer.from(value, "base64").length === checksumByteLength(algorithm);
}
