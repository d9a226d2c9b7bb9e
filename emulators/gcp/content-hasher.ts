import { createHash, type Hash } from "node:crypto";
import { crc32c } from "@node-rs/crc32";

/** The checksums GCS reports for an object, plus the SHA-256 tests compare with. */
export interface ContentDigests {
  sizeBytes: number;
  md5Base64: string;
  crc32cBase64: string;
  sha256Hex: string;
}

/** Incremental MD5 + CRC-32C + SHA-256 + size over a stream of chunks. */
export class ContentHasher {
  #md5: Hash = createHash("md5");
  #sha256: Hash = createHash("sha256");
  #crc32c = 0;
  #sizeBytes = 0;

  /** Feeds more bytes. */
  update(chunk: Uint8Array): void {
    this.#md5.update(chunk);
    this.#sha256.update(chunk);
    this.#crc32c = crc32c(chunk, this.#crc32c);
    this.#sizeBytes += chunk.length;
  }

  /** Bytes hashed so far. */
  get sizeBytes(): number {
    return this.#sizeBytes;
  }

  /** Final digests; the hasher must not be updated afterwards. */
  digest(): ContentDigests {
    return {
      sizeBytes: this.#sizeBytes,
      md5Base64: this.#md5.digest("base64"),
      crc32cBase64: crc32cToBase64(this.#crc32c),
      sha256Hex: this.#sha256.digest("hex"),
    };
  }
}

/** A CRC-32C value the way GCS reports it in `crc32c` and `x-goog-hash`: big-endian, base64. */
function crc32cToBase64(crc: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(crc >>> 0, 0);
  return bytes.toString("base64");
}
