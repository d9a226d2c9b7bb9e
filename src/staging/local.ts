/**
 * The local-directory staging store: one file per recording, `<dir>/<id>.rec` (0600, directory
 * 0700). Appends truncate to the offset, write, and fsync before they resolve.
 */
import { randomUUID } from "node:crypto";
import { constants } from "node:fs";
import { type FileHandle, mkdir, open, opendir, unlink } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import {
  type AppendOptions,
  assertBytePosition,
  canonicalRecordingId,
  checkedRange,
  isRecordingId,
  isStagingError,
  type ReadRange,
  StagedBytesMissingError,
  StagingError,
  type StagingStore,
} from "./contract.ts";
import { meteredSource, type SourceMeter } from "./source.ts";

/** Settings of {@link createLocalStagingStore}. */
export interface LocalStagingOptions {
  /** The directory; created (0700) on first use when missing. */
  dir: string;
}

const SUFFIX = ".rec";
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
const READ_CHUNK_BYTES = 256 * 1024;
/** Larger when one buffer serves the whole read: fewer reads, less garbage per gigabyte. */
const REUSED_READ_CHUNK_BYTES = 1024 * 1024;

/** Creates the local-directory staging store (no I/O until first used). */
export function createLocalStagingStore(options: LocalStagingOptions): StagingStore {
  const dir = resolve(options.dir);
  const description = `local directory ${dir}`;
  const pathOf = (id: string) => join(dir, `${id}${SUFFIX}`);
  const fail = (what: string, error: unknown, recordingId?: string) =>
    new StagingError(description, `${what} (${description}): ${reason(error)}`, {
      ...(recordingId ? { recordingId } : {}),
      cause: error,
    });

  return {
    description,

    async append(rawId, offset, source, appendOptions: AppendOptions = {}) {
      const id = canonicalRecordingId(description, rawId);
      assertBytePosition(description, id, "offset", offset);
      const meter: SourceMeter = { bytes: 0 };
      const what = `could not append recording ${id} at byte ${offset}`;
      let file: FileHandle | undefined;
      try {
        await ensureDir(dir);
        const opened = await openForAppend(pathOf(id));
        file = opened.file;
        // The directory entry of a new file is durable only once the directory is synced.
        if (opened.created) await fsyncDir(dir);
        const { size } = await file.stat();
        if (size < offset) {
          // Do not leave an empty file behind for a recording that had nothing staged.
          if (opened.created) await unlink(pathOf(id)).catch(() => {});
          throw new StagedBytesMissingError(description, id, size, offset);
        }
        // Whatever lies at or past `offset` is a torn earlier append: never let it show through.
        await file.truncate(offset);
        let position = offset;
        for await (const chunk of meteredSource(source, meter, {
          store: description,
          recordingId: id,
          maxBytes: appendOptions.maxBytes,
          signal: appendOptions.signal,
        })) {
          await writeAll(file, chunk, position);
          position += chunk.byteLength;
        }
        await file.sync();
        return { bytesWritten: position - offset };
      } catch (error) {
        if (meter.failure) throw meter.failure.error;
        if (isStagingError(error)) throw error;
        throw fail(what, error, id);
      } finally {
        await file?.close().catch(() => {});
      }
    },

    read(rawId, range: ReadRange) {
      const id = canonicalRecordingId(description, rawId);
      const { start, end } = checkedRange(description, id, range);
      return readFileRange(id, start, end, range.signal, range.reuseBuffer === true);
    },

    async delete(rawId) {
      const id = canonicalRecordingId(description, rawId);
      try {
        await unlink(pathOf(id));
      } catch (error) {
        if (errorCode(error) === "ENOENT") return;
        throw fail(`could not delete recording ${id}`, error, id);
      }
    },

    async *list(signal) {
      let entries: AsyncIterable<{ name: string; isFile(): boolean }>;
      try {
        entries = await opendir(dir, { bufferSize: 256 });
      } catch (error) {
        if (errorCode(error) === "ENOENT") return;
        throw fail("could not list staged recordings", error);
      }
      for await (const entry of entries) {
        signal?.throwIfAborted();
        if (!entry.isFile() || !entry.name.endsWith(SUFFIX)) continue;
        const id = entry.name.slice(0, -SUFFIX.length);
        if (isRecordingId(id) && id === id.toLowerCase()) yield id;
      }
    },

    async check(signal) {
      signal?.throwIfAborted();
      // A probe named unlike any recording, so `list` never reports a leftover one.
      const probe = join(dir, `.probe-${randomUUID()}`);
      try {
        await ensureDir(dir);
        const file = await open(probe, "wx", FILE_MODE);
        try {
          await file.writeFile("staging probe\n");
          await file.sync();
        } finally {
          await file.close();
        }
        await unlink(probe);
      } catch (error) {
        throw fail("the staging directory cannot be written", error);
      }
    },
  };

  async function* readFileRange(
    id: string,
    start: number,
    end: number,
    signal: AbortSignal | undefined,
    reuseBuffer: boolean,
  ): AsyncGenerator<Uint8Array, void, undefined> {
    const what = `could not read recording ${id} bytes ${start}-${end}`;
    signal?.throwIfAborted();
    let file: FileHandle;
    try {
      file = await open(pathOf(id), "r");
    } catch (error) {
      if (errorCode(error) === "ENOENT") {
        if (end === 0) return;
        throw new StagedBytesMissingError(description, id, 0, end);
      }
      throw fail(what, error, id);
    }
    try {
      const { size } = await file.stat();
      if (size < end) throw new StagedBytesMissingError(description, id, size, end);
      let position = start;
      // One buffer for the whole read when the caller is done with each chunk before the next.
      const shared = reuseBuffer
        ? Buffer.allocUnsafeSlow(Math.min(REUSED_READ_CHUNK_BYTES, end - start))
        : undefined;
      while (position < end) {
        signal?.throwIfAborted();
        const length = Math.min(shared?.length ?? READ_CHUNK_BYTES, end - position);
        // Otherwise a fresh buffer per chunk: the consumer may keep what it was given.
        const buffer = shared ? shared.subarray(0, length) : Buffer.allocUnsafe(length);
        let bytesRead: number;
        try {
          ({ bytesRead } = await file.read(buffer, 0, buffer.byteLength, position));
        } catch (error) {
          throw fail(what, error, id);
        }
        // The file shrank under us: the recording was deleted or re-appended meanwhile.
        if (bytesRead === 0) throw new StagedBytesMissingError(description, id, position, end);
        position += bytesRead;
        yield buffer.subarray(0, bytesRead);
      }
    } finally {
      await file.close().catch(() => {});
    }
  }
}

/**
 * Creates the directory (0700) when missing, syncing its parent so the new entry survives a
 * crash. Not cached: one mkdir per append is cheap, and a directory removed while running comes
 * back instead of failing every append.
 */
async function ensureDir(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true, mode: DIR_MODE });
  if (first !== undefined) await fsyncDir(dirname(first));
}

/** Opens the recording's file for writing, creating it (0600) if needed; says whether it did. */
async function openForAppend(path: string): Promise<{ file: FileHandle; created: boolean }> {
  try {
    return { file: await open(path, constants.O_WRONLY), created: false };
  } catch (error) {
    if (errorCode(error) !== "ENOENT") throw error;
  }
  try {
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;
    return { file: await open(path, flags, FILE_MODE), created: true };
  } catch (error) {
    // Created in between (the caller's lease makes this unlikely): open the existing file.
    if (errorCode(error) !== "EEXIST") throw error;
    return { file: await open(path, constants.O_WRONLY), created: false };
  }
}

async function writeAll(file: FileHandle, chunk: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < chunk.byteLength) {
    const { bytesWritten } = await file.write(
      chunk,
      done,
      chunk.byteLength - done,
      position + done,
    );
    done += bytesWritten;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
