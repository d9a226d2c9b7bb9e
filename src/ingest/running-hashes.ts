/**
 * SHA-256 computed on the way in: this process keeps, per recording, the hash of the bytes
 * received so far. An append continues a copy of it and the copy replaces it only when the
 * append commits, so a failed or retried append never mixes bytes into it. When an append went
 * through another process (or this one restarted), the hash is recomputed from staging at
 * `complete` instead.
 */
import { createHash, type Hash } from "node:crypto";

/** Recordings received in parallel are few; the bound only guards against leaks. */
const MAX_TRACKED = 10_000;

/** The running hashes of one process. */
export class RunningHashes {
  readonly #hashes = new Map<string, { offset: number; hash: Hash }>();

  /** A hash to continue at `offset`, or `undefined` when this process did not see every byte before it. */
  continueAt(id: string, offset: number): Hash | undefined {
    if (offset === 0) return createHash("sha256");
    const current = this.#hashes.get(id);
    return current?.offset === offset ? current.hash.copy() : undefined;
  }

  /** Keeps `hash` as covering the first `offset` bytes (after an append committed). */
  commit(id: string, offset: number, hash: Hash | undefined): void {
    if (!hash) {
      this.#hashes.delete(id);
      return;
    }
    if (!this.#hashes.has(id) && this.#hashes.size >= MAX_TRACKED) {
      const oldest = this.#hashes.keys().next().value;
      if (oldest !== undefined) this.#hashes.delete(oldest);
    }
    this.#hashes.set(id, { offset, hash });
  }

  /** Drops the recording's hash (it was discarded). */
  forget(id: string): void {
    this.#hashes.delete(id);
  }

  /** The hex digest of the first `size` bytes, when this process has it. Forgets the recording. */
  take(id: string, size: number): string | undefined {
    const current = this.#hashes.get(id);
    this.#hashes.delete(id);
    if (size === 0) return createHash("sha256").digest("hex");
    return current?.offset === size ? current.hash.digest("hex") : undefined;
  }
}
