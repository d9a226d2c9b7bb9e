/**
 * Cuts a byte stream into parts of the sizes a cloud accepts, holding one part in memory at a
 * time: `write` copies into a single reused buffer and sends each part as soon as it is full.
 */

/** Sends one part; `final` is true only for the tail sent by `finish` (possibly empty). */
export type SendPart = (
  part: Buffer,
  partNumber: number,
  final: boolean,
  signal: AbortSignal,
) => Promise<void>;

/** Size of part `partNumber` (1-based). */
export type PartSizePlan = (partNumber: number) => number;

/** One mebibyte, the unit of part sizes. */
export const MiB = 1_048_576;

/**
 * A plan whose part size doubles every `growEvery` parts from `baseBytes`, so a stream of unknown
 * length never runs out of part numbers: with 8 MiB, 1 000 parts per step and 10 000 parts, the
 * reachable size is 8 MiB × 1 000 × 1 023 ≈ 7.8 TiB (S3's object limit is 5 TiB).
 */
export function growingPartSizes(baseBytes: number, growEvery: number): PartSizePlan {
  return (partNumber) => baseBytes * 2 ** Math.floor((partNumber - 1) / growEvery);
}

/**
 * The starting part size: `defaultBytes`, or larger when the expected size needs it to fit in
 * `maxParts` (rounded up to `multipleOf`).
 */
export function basePartSize(options: {
  expectedSizeBytes: number | undefined;
  defaultBytes: number;
  maxParts: number;
  multipleOf?: number;
}): number {
  const multiple = options.multipleOf ?? MiB;
  const needed =
    options.expectedSizeBytes === undefined
      ? 0
      : Math.ceil(options.expectedSizeBytes / options.maxParts);
  const size = Math.max(options.defaultBytes, needed);
  return Math.ceil(size / multiple) * multiple;
}

/** Buffers writes into parts and hands each full part to `send`. */
export class PartWriter {
  #buffer: Buffer | undefined;
  #filled = 0;
  #partNumber = 1;
  #bytesWritten = 0;
  #finished = false;
  readonly #plan: PartSizePlan;
  readonly #send: SendPart;

  constructor(plan: PartSizePlan, send: SendPart) {
    this.#plan = plan;
    this.#send = send;
  }

  /** Bytes accepted so far. */
  get bytesWritten(): number {
    return this.#bytesWritten;
  }

  /** Number of the part being filled. */
  get partNumber(): number {
    return this.#partNumber;
  }

  /** Copies `chunk` in, sending every part that fills up (awaited: natural backpressure). */
  async write(chunk: Uint8Array, signal: AbortSignal): Promise<void> {
    if (this.#finished) throw new Error("the upload is already completed or aborted");
    let offset = 0;
    while (offset < chunk.length) {
      signal.throwIfAborted();
      const size = this.#plan(this.#partNumber);
      if (!this.#buffer || this.#buffer.length !== size) {
        // Allocated once per part size: parts of equal size reuse it after each send.
        const previous = this.#buffer;
        this.#buffer = Buffer.allocUnsafe(size);
        if (previous && this.#filled > 0) previous.copy(this.#buffer, 0, 0, this.#filled);
      }
      const take = Math.min(size - this.#filled, chunk.length - offset);
      this.#buffer.set(chunk.subarray(offset, offset + take), this.#filled);
      this.#filled += take;
      offset += take;
      this.#bytesWritten += take;
      if (this.#filled === size) {
        await this.#send(this.#buffer.subarray(0, size), this.#partNumber, false, signal);
        this.#partNumber++;
        this.#filled = 0;
      }
    }
  }

  /** Sends the tail as the final part (empty when the stream ended on a part boundary). */
  async finish(signal: AbortSignal): Promise<void> {
    if (this.#finished) throw new Error("the upload is already completed or aborted");
    this.#finished = true;
    const tail = this.#buffer ? this.#buffer.subarray(0, this.#filled) : Buffer.alloc(0);
    await this.#send(tail, this.#partNumber, true, signal);
    this.#buffer = undefined;
  }

  /** Drops the buffer; later writes fail. */
  close(): void {
    this.#finished = true;
    this.#buffer = undefined;
  }
}
