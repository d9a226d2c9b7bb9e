import { createHash, type Hash } from "node:crypto";
import { crc32 as zlibCrc32 } from "node:zlib";
import { Crc64Nvme } from "@aws-sdk/crc64-nvme";
import { crc32c } from "@node-rs/crc32";

/** The flexible-checksum algorithms S3 accepts in `x-amz-checksum-*`. */
export const CHECKSUM_ALGORITHMS = ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"] as const;
/** One of {@link CHECKSUM_ALGORITHMS}. */
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

/**
 * An incremental digest; `digest()` gives the raw big-endian bytes S3 base64-encodes. It is
 * asynchronous because the AWS SDK's CRC-64/NVME digest is.
 */
export interface Digest {
  update(chunk: Uint8Array): void;
  digest(): Promise<Buffer>;
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
      return crc32Digest(zlibCrc32);
    case "CRC32C":
      return crc32Digest(crc32c);
    case "CRC64NVME":
      return crc64NvmeDigest();
    case "SHA1":
      return hashDigest(createHash("sha1"));
    case "SHA256":
      return hashDigest(createHash("sha256"));
  }
}

/** One-shot base64 checksum of a buffer. */
export async function checksumOf(algorithm: ChecksumAlgorithm, data: Uint8Array): Promise<string> {
  const digest = createDigest(algorithm);
  digest.update(data);
  return (await digest.digest()).toString("base64");
}

function hashDigest(hash: Hash): Digest {
  return { update: (chunk) => hash.update(chunk), digest: async () => hash.digest() };
}

/** CRC-32 (zlib) and CRC-32C (@node-rs/crc32) both extend a running value from 0. */
function crc32Digest(update: (chunk: Uint8Array, previous: number) => number): Digest {
  let value = 0;
  return {
    update: (chunk) => {
      value = update(chunk, value);
    },
    digest: async () => {
      const out = Buffer.alloc(4);
      out.writeUInt32BE(value >>> 0);
      return out;
    },
  };
}

/** CRC-64/NVME as the AWS SDK computes it for `x-amz-checksum-crc64nvme`. */
function crc64NvmeDigest(): Digest {
  const crc = new Crc64Nvme();
  return {
    update: (chunk) => crc.update(chunk),
    digest: async () => Buffer.from(await crc.digest()),
  };
}

/** True when `value` is base64 of exactly the algorithm's digest length. */
export function isWellFormedChecksum(algorithm: ChecksumAlgorithm, value: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return false;
  return Buffer.from(value, "base64").length === checksumByteLength(algorithm);
}
