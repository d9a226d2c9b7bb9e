/**
 * Blob data on disk. Every staged block and every Put Blob body is one file; a committed blob is
 * an ordered list of references to those files, so committing 50,000 blocks moves no bytes and a
 * read streams the files one after another. Memory holds only metadata, whatever the blob size.
 */
import { createHash, randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, rm, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

/** A block's bytes on disk. */
export interface BlockRef {
  /** Block id as the client sent it (base64); empty for a Put Blob body. */
  id: string;
  file: string;
  size: number;
}

/** Properties the Blob service keeps for a committed block blob. */
export interface BlobProperties {
  contentType: string;
  contentMd5: string | undefined;
  contentEncoding: string | undefined;
  contentLanguage: string | undefined;
  contentDisposition: string | undefined;
  cacheControl: string | undefined;
  metadata: Record<string, string>;
}

/** A committed block blob. */
export interface BlobRecord extends BlobProperties {
  name: string;
  blocks: BlockRef[];
  size: number;
  etag: string;
  createdOn: Date;
  lastModified: Date;
}

/** A container and its blobs, plus the uncommitted blocks per blob name. */
export interface ContainerState {
  name: string;
  etag: string;
  createdOn: Date;
  blobs: Map<string, BlobRecord>;
  uncommitted: Map<string, Map<string, BlockRef>>;
}

/** Digest of a committed blob, computed by reading its bytes back from disk. */
export interface StoredBlobDigest {
  size: number;
  sha256: string;
  md5Base64: string;
  blockCount: number;
  contentType: string;
  contentMd5: string | undefined;
  etag: string;
  metadata: Record<string, string>;
}

let etagCounter = 0;

/** A fresh ETag value in Azure's `0x8D…` shape. */
export function newEtag(): string {
  etagCounter++;
  const stamp = (BigInt(Date.now()) * 10_000n + BigInt(etagCounter % 10_000)).toString(16);
  return `"0x8D${stamp.toUpperCase().slice(-13)}"`;
}

/** Accounts → containers → blobs, with bytes under one directory. */
export class BlobStore {
  readonly dir: string;
  readonly #ownsDir: boolean;
  readonly #accounts = new Map<string, Map<string, ContainerState>>();

  private constructor(dir: string, ownsDir: boolean) {
    this.dir = dir;
    this.#ownsDir = ownsDir;
  }

  /** Opens a store in `dir`, or in a new temporary directory that `close` removes. */
  static async open(dir: string | undefined): Promise<BlobStore> {
    const root = dir ?? (await mkdtemp(join(tmpdir(), "azure-emulator-")));
    await mkdir(join(root, "blocks"), { recursive: true });
    return new BlobStore(root, dir === undefined);
  }

  /** Declares an account (idempotent). */
  addAccount(account: string): void {
    if (!this.#accounts.has(account)) this.#accounts.set(account, new Map());
  }

  /** Creates a container; returns false if it already existed. */
  createContainer(account: string, name: string, nowMs: number): boolean {
    this.addAccount(account);
    const containers = this.#accounts.get(account);
    if (!containers || containers.has(name)) return false;
    containers.set(name, {
      name,
      etag: newEtag(),
      createdOn: new Date(nowMs),
      blobs: new Map(),
      uncommitted: new Map(),
    });
    return true;
  }

  /** Deletes a container and the files of its blobs; returns whether it existed. */
  async deleteContainer(account: string, name: string): Promise<boolean> {
    const container = this.container(account, name);
    if (!container) return false;
    this.#accounts.get(account)?.delete(name);
    const files = new Set<string>();
    for (const blob of container.blobs.values()) for (const b of blob.blocks) files.add(b.file);
    for (const blocks of container.uncommitted.values())
      for (const b of blocks.values()) files.add(b.file);
    await Promise.all([...files].map((f) => unlink(f).catch(() => {})));
    return true;
  }

  /** The container, if it exists. */
  container(account: string, name: string): ContainerState | undefined {
    return this.#accounts.get(account)?.get(name);
  }

  /** A new, unused path for incoming bytes. */
  newBlockFile(): string {
    return join(this.dir, "blocks", randomUUID());
  }

  /** Records a staged block, replacing an uncommitted block with the same id. */
  stageBlock(container: ContainerState, blobName: string, block: BlockRef): void {
    const before = this.#filesOf(container, blobName);
    let blocks = container.uncommitted.get(blobName);
    if (!blocks) {
      blocks = new Map();
      container.uncommitted.set(blobName, blocks);
    }
    blocks.set(block.id, block);
    this.#release(container, blobName, before);
  }

  /** Commits `blocks` as the blob's content; uncommitted blocks are discarded, as Azure does. */
  commit(
    container: ContainerState,
    blobName: string,
    blocks: BlockRef[],
    properties: BlobProperties,
    nowMs: number,
  ): BlobRecord {
    const before = this.#filesOf(container, blobName);
    const existing = container.blobs.get(blobName);
    const record: BlobRecord = {
      ...properties,
      name: blobName,
      blocks,
      size: blocks.reduce((sum, b) => sum + b.size, 0),
      etag: newEtag(),
      createdOn: existing?.createdOn ?? new Date(nowMs),
      lastModified: new Date(nowMs),
    };
    container.blobs.set(blobName, record);
    container.uncommitted.delete(blobName);
    this.#release(container, blobName, before);
    return record;
  }

  /** Deletes a committed blob (and its uncommitted blocks); returns whether it existed. */
  deleteBlob(container: ContainerState, blobName: string): boolean {
    const before = this.#filesOf(container, blobName);
    const existed = container.blobs.delete(blobName);
    container.uncommitted.delete(blobName);
    this.#release(container, blobName, before);
    return existed;
  }

  /** Streams bytes [start, end] (inclusive) of a committed blob, one block file at a time. */
  read(record: BlobRecord, start: number, end: number): Readable {
    const blocks = record.blocks;
    async function* bytes() {
      let offset = 0;
      for (const block of blocks) {
        const blockStart = offset;
        const blockEnd = offset + block.size - 1;
        offset += block.size;
        if (block.size === 0 || blockEnd < start || blockStart > end) continue;
        yield* createReadStream(block.file, {
          start: Math.max(start, blockStart) - blockStart,
          end: Math.min(end, blockEnd) - blockStart,
        });
      }
    }
    return Readable.from(bytes(), { objectMode: false });
  }

  /** Reads a committed blob back and hashes it (SHA-256 and MD5). */
  async digest(account: string, containerName: string, blobName: string) {
    const record = this.container(account, containerName)?.blobs.get(blobName);
    if (!record) return undefined;
    const sha256 = createHash("sha256");
    const md5 = createHash("md5");
    await pipeline(this.read(record, 0, record.size - 1), async (source) => {
      for await (const chunk of source) {
        sha256.update(chunk as Buffer);
        md5.update(chunk as Buffer);
      }
    });
    const digest: StoredBlobDigest = {
      size: record.size,
      sha256: sha256.digest("hex"),
      md5Base64: md5.digest("base64"),
      blockCount: record.blocks.filter((b) => b.id !== "").length,
      contentType: record.contentType,
      contentMd5: record.contentMd5,
      etag: record.etag,
      metadata: { ...record.metadata },
    };
    return digest;
  }

  /** Removes the data directory if the store created it. */
  async close(): Promise<void> {
    if (this.#ownsDir) await rm(this.dir, { recursive: true, force: true });
  }

  #filesOf(container: ContainerState, blobName: string): Set<string> {
    const files = new Set<string>();
    for (const b of container.blobs.get(blobName)?.blocks ?? []) files.add(b.file);
    for (const b of container.uncommitted.get(blobName)?.values() ?? []) files.add(b.file);
    return files;
  }

  /** Unlinks files the blob referenced before a change and no longer does. */
  #release(container: ContainerState, blobName: string, before: Set<string>): void {
    const after = this.#filesOf(container, blobName);
    for (const file of before) {
      // A reader may still hold the file open; unlinking is safe on POSIX and frees it after.
      if (!after.has(file)) unlink(file).catch(() => {});
    }
  }
}
