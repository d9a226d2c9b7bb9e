import { randomUUID } from "node:crypto";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { ChecksumAlgorithm } from "./checksums.ts";

/** A flexible checksum stored with an object (`COMPOSITE` values end in `-<parts>`). */
export interface ObjectChecksum {
  algorithm: ChecksumAlgorithm;
  value: string;
  type: "FULL_OBJECT" | "COMPOSITE";
}

/** One file of an object's bytes. */
export interface ObjectSegment {
  file: string;
  size: number;
}

/** An object's metadata; its bytes live in `segments`, in order. */
export interface StoredObject {
  bucket: string;
  key: string;
  /**
   * One file for a single PUT; a completed multipart upload keeps its part files, so that
   * completing is bookkeeping, as in S3, instead of a copy of the whole object.
   */
  segments: ObjectSegment[];
  size: number;
  /** Quoted, as S3 returns it. */
  etag: string;
  /**
   * Not an S3 field: lets tests compare what landed with what was sent. Known from the upload when
   * its payload was signed (SigV4 needs it); otherwise, and for a multipart object, it is computed
   * when a test first asks, so the emulator does no hashing S3 would not (an unsigned payload is
   * not SHA-256'd; completing an upload does not read the whole object again).
   */
  sha256Hex?: string;
  lastModifiedMs: number;
  contentType: string;
  /** Stored representation headers (Content-Encoding, Content-Disposition, …). */
  headers: Record<string, string>;
  /** `x-amz-meta-*` without the prefix. */
  metadata: Record<string, string>;
  checksum?: ObjectChecksum;
  partsCount?: number;
}

/** Object metadata in memory, object bytes on disk (one file per object, parts per upload). */
export class ObjectStore {
  readonly dataDir: string;
  #buckets = new Map<string, Map<string, StoredObject>>();

  constructor(dataDir: string) {
    this.dataDir = dataDir;
  }

  /** Creates the directory layout. */
  async init(bucketNames: readonly string[]): Promise<void> {
    await mkdir(join(this.dataDir, "objects"), { recursive: true });
    await mkdir(join(this.dataDir, "parts"), { recursive: true });
    for (const name of bucketNames) this.#buckets.set(name, new Map());
  }

  /** Whether the bucket exists. */
  hasBucket(bucket: string): boolean {
    return this.#buckets.has(bucket);
  }

  /** A fresh file path for an object being written. */
  newObjectFile(): string {
    return join(this.dataDir, "objects", randomUUID());
  }

  /** A fresh file path for a multipart part being written. */
  newPartFile(): string {
    return join(this.dataDir, "parts", randomUUID());
  }

  /** Makes a fully written object visible, replacing (and deleting) any previous version. */
  async commit(object: StoredObject): Promise<void> {
    const objects = this.#objects(object.bucket);
    const previous = objects.get(object.key);
    objects.set(object.key, object);
    // Readers holding the old files open keep reading them; unlink only drops the names.
    if (previous) await removeSegments(previous);
  }

  /** The object, if present. */
  get(bucket: string, key: string): StoredObject | undefined {
    return this.#buckets.get(bucket)?.get(key);
  }

  /** Deletes the object; true if it existed. */
  async delete(bucket: string, key: string): Promise<boolean> {
    const objects = this.#objects(bucket);
    const previous = objects.get(key);
    if (!previous) return false;
    objects.delete(key);
    await removeSegments(previous);
    return true;
  }

  /** Every object of a bucket in S3's listing order (UTF-8 byte order of keys). */
  list(bucket: string): StoredObject[] {
    return [...this.#objects(bucket).values()].sort((a, b) => compareKeys(a.key, b.key));
  }

  #objects(bucket: string): Map<string, StoredObject> {
    const objects = this.#buckets.get(bucket);
    if (!objects) throw new Error(`unknown bucket ${bucket}`);
    return objects;
  }
}

/** S3 orders keys by their UTF-8 bytes. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** Deletes an object's files. */
async function removeSegments(object: Pick<StoredObject, "segments">): Promise<void> {
  await Promise.all(object.segments.map((segment) => rm(segment.file, { force: true })));
}
