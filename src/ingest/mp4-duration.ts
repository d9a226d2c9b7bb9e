/**
 * The duration of an MP4 from its movie header (`moov/mvhd`, ISO/IEC 14496-12 §8.2.2), for the
 * `duration` property of recording_ready. Only box headers are read, through a file handle at
 * explicit offsets (of a file, or of a staged recording): a recorder often writes `moov` after hours of `mdat`, and the file is never
 * buffered whole.
 */
import { type FileHandle, open } from "node:fs/promises";

// A real file has a handful of top-level boxes; a walk this long is garbage posing as boxes.
const MAX_BOXES = 10_000;
const printableType = /^[\x20-\x7e]{4}$/;

interface BoxSpan {
  /** Offset of the box's payload (after its header). */
  payload: number;
  /** Offset just past the box. */
  end: number;
}

/** Random access to the bytes of a file or a staged recording. */
export interface ByteSource {
  size: number;
  /** Up to `length` bytes from `position` (fewer at the end). */
  readAt(position: number, length: number): Promise<Uint8Array>;
}

async function readAt(source: ByteSource, position: number, length: number): Promise<Buffer> {
  const bytes = await source.readAt(
    position,
    Math.min(length, Math.max(0, source.size - position)),
  );
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The first box of `type` among the sibling boxes in [start, end); `undefined` when absent or malformed. */
async function findBox(
  handle: ByteSource,
  start: number,
  end: number,
  type: string,
): Promise<BoxSpan | undefined> {
  let position = start;
  for (let count = 0; position + 8 <= end && count < MAX_BOXES; count++) {
    const header = await readAt(handle, position, 16);
    if (header.byteLength < 8) return undefined;
    const size32 = header.readUInt32BE(0);
    const boxType = header.toString("latin1", 4, 8);
    if (!printableType.test(boxType)) return undefined;
    let headerBytes = 8;
    let size: number;
    if (size32 === 1) {
      // 64-bit `largesize` follows the type.
      if (header.byteLength < 16) return undefined;
      size = Number(header.readBigUInt64BE(8));
      headerBytes = 16;
    } else if (size32 === 0) {
      // The box extends to the end of its container (the file, at top level).
      size = end - position;
    } else {
      size = size32;
    }
    if (size < headerBytes || position + size > end) return undefined;
    if (boxType === type) return { payload: position + headerBytes, end: position + size };
    position += size;
  }
  return undefined;
}

/**
 * Seconds of the movie at `path` (millisecond precision), or `undefined` when the file is not an
 * MP4, is malformed, or its header does not state a duration. Errors opening the file propagate.
 */
export async function readMp4DurationSeconds(path: string): Promise<number | undefined> {
  const handle: FileHandle = await open(path, "r");
  try {
    const { size } = await handle.stat();
    return await mp4DurationSeconds({
      size,
      async readAt(position, length) {
        const buffer = Buffer.alloc(length);
        const { bytesRead } = await handle.read(buffer, 0, length, position);
        return buffer.subarray(0, bytesRead);
      },
    });
  } finally {
    await handle.close();
  }
}

/** Like {@link readMp4DurationSeconds}, over any random-access source. */
export async function mp4DurationSeconds(handle: ByteSource): Promise<number | undefined> {
  const size = handle.size;
  const moov = await findBox(handle, 0, size, "moov");
  if (!moov) return undefined;
  const mvhd = await findBox(handle, moov.payload, moov.end, "mvhd");
  if (!mvhd) return undefined;
  const body = await readAt(handle, mvhd.payload, Math.min(32, mvhd.end - mvhd.payload));
  const version = body[0];
  let timescale: number;
  let duration: number;
  if (version === 0 && body.byteLength >= 20) {
    timescale = body.readUInt32BE(12);
    const raw = body.readUInt32BE(16);
    if (raw === 0xffff_ffff) return undefined; // "unknown" per the standard
    duration = raw;
  } else if (version === 1 && body.byteLength >= 32) {
    timescale = body.readUInt32BE(20);
    const raw = body.readBigUInt64BE(24);
    if (raw === 0xffff_ffff_ffff_ffffn) return undefined;
    duration = Number(raw);
  } else {
    return undefined;
  }
  if (timescale === 0) return undefined;
  return Math.round((duration / timescale) * 1000) / 1000;
}
