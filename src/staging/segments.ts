/**
 * How the S3 staging store lays a recording out: objects are immutable, so each append is one
 * segment object `<prefix><id>/<offset, 16 digits>`. Boundaries come back from the keys (where a
 * segment starts) and the listed object sizes; nothing else is stored.
 */

/** One segment object as listed. */
export interface Segment {
  key: string;
  /** The recording byte the segment starts at (from its key). */
  start: number;
  sizeBytes: number;
}

/** The part of a segment that still counts: `[start, end)` of the recording. */
export interface Piece {
  segment: Segment;
  start: number;
  end: number;
}

const OFFSET_DIGITS = 16;

/** The key prefix of a recording's segments. */
export function recordingPrefix(prefix: string, id: string): string {
  return `${prefix}${id}/`;
}

/** The key of the segment starting at `start`; zero-padded so keys sort like offsets. */
export function segmentKey(prefix: string, id: string, start: number): string {
  return `${recordingPrefix(prefix, id)}${String(start).padStart(OFFSET_DIGITS, "0")}`;
}

/** The start offset a segment key encodes, or undefined for a key that is not a segment. */
export function segmentStart(recordingKeyPrefix: string, key: string): number | undefined {
  if (!key.startsWith(recordingKeyPrefix)) return undefined;
  const rest = key.slice(recordingKeyPrefix.length);
  if (rest.length !== OFFSET_DIGITS || !/^\d+$/.test(rest)) return undefined;
  const start = Number(rest);
  return Number.isSafeInteger(start) ? start : undefined;
}

/**
 * What each segment contributes, in order. An append at an offset discarded everything from
 * there on, so a segment counts only up to where the next one starts (its rest is a tail that
 * append could not cut off an immutable object).
 */
export function piecesOf(segments: readonly Segment[]): Piece[] {
  const sorted = segments.toSorted((a, b) => a.start - b.start);
  return sorted.map((segment, i) => {
    const next = sorted[i + 1];
    const end = segment.start + segment.sizeBytes;
    return { segment, start: segment.start, end: next ? Math.min(end, next.start) : end };
  });
}

/** How many bytes from byte 0 on are staged without a gap. */
export function stagedLength(pieces: readonly Piece[]): number {
  let length = 0;
  for (const piece of pieces) {
    if (piece.start > length) break;
    length = Math.max(length, piece.end);
  }
  return length;
}

/** The pieces' parts covering `[start, end)`, with the byte range to fetch from each object. */
export function readPlan(
  pieces: readonly Piece[],
  start: number,
  end: number,
): { key: string; firstByte: number; endByte: number; whole: boolean }[] {
  const plan = [];
  for (const piece of pieces) {
    const from = Math.max(start, piece.start);
    const to = Math.min(end, piece.end);
    if (from >= to) continue;
    const firstByte = from - piece.segment.start;
    const endByte = to - piece.segment.start;
    plan.push({
      key: piece.segment.key,
      firstByte,
      endByte,
      whole: firstByte === 0 && endByte === piece.segment.sizeBytes,
    });
  }
  return plan;
}
