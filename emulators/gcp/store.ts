/**
 * Objects on disk: every object is one file under `<dataDir>/objects`, uploads stage under
 * `<dataDir>/staging` and are renamed into place when they complete, so memory stays flat
 * whatever the object size.
 */
import { randomUUID } from "node:crypto";
import { mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { ContentDigests } from "./content-hasher.ts";

/** Object metadata a client may set (upload body / multipart first part). */
export interface WritableObjectMetadata {
  contentType?: string;
  cacheControl?: string;
  contentDisposition?: string;
  contentEncoding?: string;
  contentLanguage?: string;
  metadata?: Record<string, string>;
}

/** A stored object version, with the digests computed while its bytes arrived. */
export interface StoredObject extends ContentDigests {
  bucket: string;
  name: string;
  generation: string;
  metageneration: string;
  contentType: string;
  metadata: WritableObjectMetadata;
  timeCreated: string;
  filePath: string;
}

/** The per-bucket object index plus the files behind it. */
export class ObjectStore {
  readonly dataDir: string;
  #objects = new Map<string, Map<string, StoredObject>>();
  #lastGeneration = 0;

  constructor(dataDir: string) {
    this.dataDir = dataDir;
  }

  /** Creates the directories. */
  async init(): Promise<void> {
    await mkdir(join(this.dataDir, "objects"), { recursive: true });
    await mkdir(join(this.dataDir, "staging"), { recursive: true });
  }

  /** A fresh path for bytes that are still arriving. */
  stagingPath(): string {
    return join(this.dataDir, "staging", `${randomUUID()}.part`);
  }

  /** The live version of an object, if any. */
  get(bucket: string, name: string): StoredObject | undefined {
    return this.#objects.get(bucket)?.get(name);
  }

  /** All live objects of a bucket whose name starts with `prefix`, sorted by name. */
  list(bucket: string, prefix = ""): StoredObject[] {
    const objects = [...(this.#objects.get(bucket)?.values() ?? [])].filter((o) =>
      o.name.startsWith(prefix),
    );
    return objects.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Moves a completed staging file into place as the object's new live version. */
  async commit(
    bucket: string,
    name: string,
    stagingPath: string,
    digests: ContentDigests,
    metadata: WritableObjectMetadata,
  ): Promise<StoredObject> {
    // Microsecond timestamps like GCS, forced strictly increasing.
    this.#lastGeneration = Math.max(this.#lastGeneration + 1, Date.now() * 1000);
    const generation = String(this.#lastGeneration);
    const filePath = join(this.dataDir, "objects", `${randomUUID()}.bin`);
    await rename(stagingPath, filePath);
    const object: StoredObject = {
      ...digests,
      bucket,
      name,
      generation,
      metageneration: "1",
      contentType: metadata.contentType ?? "application/octet-stream",
      metadata,
      timeCreated: new Date().toISOString(),
      filePath,
    };
    let objects = this.#objects.get(bucket);
    if (!objects) {
      objects = new Map();
      this.#objects.set(bucket, objects);
    }
    const previous = objects.get(name);
    objects.set(name, object);
    if (previous) await rm(previous.filePath, { force: true });
    return object;
  }

  /** Deletes the live version; false when there was none. */
  async delete(bucket: string, name: string): Promise<boolean> {
    const objects = this.#objects.get(bucket);
    const object = objects?.get(name);
    if (!objects || !object) return false;
    objects.delete(name);
    await rm(object.filePath, { force: true });
    return true;
  }
}
