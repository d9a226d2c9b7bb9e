/**
 * Cuts a byte stream into parts of the sizes a cloud accepts and sends up to N of them at a time.
 * Part buffers come from a per-process {@link PartPool} whose memory budget bounds every part
 * buffered or in flight across all the uploads of the process: an upload waits for budget rather
 * than allocating, so memory stays flat whatever the number and size of recordings.
 */

import { Readable } from "node:stream";

/** Size of part `partNumber` (1-based). */
export type PartSizePlan = (partNumber: number) => number;

/** One mebibyte, the unit of part sizes. */
export const MiB = 1_048_576;

/** The documented defaults: parts in flight per upload, and the per-process memory budget. */
export const DEFAULT_PARTS_IN_FLIGHT = 4;
export const DEFAULT_MEMORY_BUDGET_BYTES = 128 * MiB;

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

interface Waiter {
  size: number;
  resolve: (buffer: Buffer) => void;
  reject: (error: unknown) => void;
  signal: AbortSignal;
  onAbort: () => void;
}

/** What a {@link PartPool} has handed out, for metrics and tests. */
export interface PartPoolStats {
  budgetBytes: number;
  /** Bytes of buffers handed out and not yet released. */
  outstandingBytes: number;
  /** The most {@link outstandingBytes} ever reached. */
  maxOutstandingBytes: number;
  /** Released buffers kept for reuse (counted in the budget with the outstanding ones). */
  idleBytes: number;
  /** Acquisitions that had to wait for budget. */
  waits: number;
  /** Buffers allocated (the rest were reused). */
  allocations: number;
}

/**
 * The part buffers of a process under one memory budget: outstanding plus idle (kept for reuse)
 * bytes never exceed `budgetBytes`; an acquisition that does not fit waits, first come first
 * served, until enough is released. One exception keeps huge parts possible: a part larger than the
 * whole budget is handed out alone, once nothing else is outstanding.
 */
export class PartPool {
  readonly budgetBytes: number;
  #outstanding = 0;
  #maxOutstanding = 0;
  #idleBytes = 0;
  #waits = 0;
  #allocations = 0;
  readonly #idle = new Map<number, Buffer[]>();
  readonly #handedOut = new WeakSet<Buffer>();
  readonly #waiters: Waiter[] = [];

  constructor(budgetBytes: number) {
    if (!(budgetBytes > 0)) throw new Error("the part memory budget must be positive");
    this.budgetBytes = budgetBytes;
  }

  /** Current figures. */
  stats(): PartPoolStats {
    return {
      budgetBytes: this.budgetBytes,
      outstandingBytes: this.#outstanding,
      maxOutstandingBytes: this.#maxOutstanding,
      idleBytes: this.#idleBytes,
      waits: this.#waits,
      allocations: this.#allocations,
    };
  }

  /** A buffer of exactly `size` bytes (contents undefined), once the budget allows it. */
  acquire(size: number, signal: AbortSignal): Promise<Buffer> {
    signal.throwIfAborted();
    if (this.#waiters.length === 0 && this.#fits(size)) return Promise.resolve(this.#take(size));
    this.#waits++;
    return new Promise<Buffer>((resolve, reject) => {
      const waiter: Waiter = {
        size,
        resolve,
        reject,
        signal,
        onAbort: () => {
          const index = this.#waiters.indexOf(waiter);
          if (index >= 0) this.#waiters.splice(index, 1);
          reject(signal.reason);
          this.#grant();
        },
      };
      signal.addEventListener("abort", waiter.onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Gives back a buffer of {@link acquire} (others, such as an empty tail, are ignored). */
  release(buffer: Buffer): void {
    if (!this.#handedOut.has(buffer)) return;
    this.#handedOut.delete(buffer);
    this.#outstanding -= buffer.length;
    if (this.#outstanding + this.#idleBytes + buffer.length <= this.budgetBytes) {
      const list = this.#idle.get(buffer.length) ?? [];
      list.push(buffer);
      this.#idle.set(buffer.length, list);
      this.#idleBytes += buffer.length;
    }
    this.#grant();
  }

  #fits(size: number): boolean {
    return this.#outstanding + size <= this.budgetBytes || this.#outstanding === 0;
  }

  #grant(): void {
    while (this.#waiters.length > 0 && this.#fits(this.#waiters[0]!.size)) {
      const waiter = this.#waiters.shift()!;
      waiter.signal.removeEventListener("abort", waiter.onAbort);
      waiter.resolve(this.#take(waiter.size));
    }
  }

  #take(size: number): Buffer {
    let buffer = this.#idle.get(size)?.pop();
    if (buffer) {
      this.#idleBytes -= size;
    } else {
      // Drop idle buffers of other sizes until the new one fits beside what is outstanding.
      for (const [length, list] of this.#idle) {
        while (list.length > 0 && this.#outstanding + this.#idleBytes + size > this.budgetBytes) {
          list.pop();
          this.#idleBytes -= length;
        }
        if (list.length === 0) this.#idle.delete(length);
      }
      buffer = Buffer.allocUnsafeSlow(size);
      this.#allocations++;
    }
    this.#handedOut.add(buffer);
    this.#outstanding += size;
    this.#maxOutstanding = Math.max(this.#maxOutstanding, this.#outstanding);
    return buffer;
  }
}

/** Slice size of {@link partBody}: a few TLS records' worth, enough to keep a socket busy. */
const BODY_SLICE_BYTES = 256 * 1024;

/**
 * A part as a request body that a client can send again (a fresh stream per call), in slices. A
 * whole part written to a TLS socket at once is encrypted at once: each request in flight then
 * holds a second, encrypted copy of its part in C memory until the socket drains it (measured:
 * four 8 MiB requests in flight, 45 MiB more peak RSS than with slices). A stream is encrypted as
 * the socket takes it. The slices are views of `part`: nothing is copied.
 */
export function partBody(part: Buffer): () => Readable {
  return () =>
    Readable.from(
      (function* () {
        for (let offset = 0; offset < part.length; offset += BODY_SLICE_BYTES) {
          yield part.subarray(offset, offset + BODY_SLICE_BYTES);
        }
      })(),
      { objectMode: false },
    );
}

const pools = new Map<number, PartPool>();

/** The process's pool for a budget (one per process in practice: the budget is one setting). */
export function partPoolFor(budgetBytes: number): PartPool {
  let pool = pools.get(budgetBytes);
  if (!pool) {
    pool = new PartPool(budgetBytes);
    pools.set(budgetBytes, pool);
  }
  return pool;
}

/** What a {@link PartWriter} is built from. */
export interface PartWriterOptions<Prepared> {
  plan: PartSizePlan;
  pool: PartPool;
  /** Parts sent at once (1: each part is sent after the previous one is confirmed). */
  inFlight: number;
  /**
   * Runs once per part, in part order, as soon as the part is full (before waiting for a slot):
   * whole-object hashes go here, so hashing overlaps the sending of earlier parts.
   */
  prepare: (part: Buffer, partNumber: number, final: boolean) => Prepared;
  /** Sends one part (`final` only for the tail of `finish`, possibly empty); retries are its own. */
  send: (
    part: Buffer,
    partNumber: number,
    final: boolean,
    prepared: Prepared,
    signal: AbortSignal,
  ) => Promise<void>;
}

/**
 * Buffers writes into parts from the pool and sends up to `inFlight` at a time. `write` returns
 * once its bytes are copied and every part it filled is handed to a sending slot (it waits for a
 * slot or for budget: natural backpressure); the first failed send aborts the others and fails the
 * next `write` or `finish`. A part's buffer goes back to the pool when its send settles.
 */
export class PartWriter<Prepared = void> {
  #buffer: Buffer | undefined;
  #filled = 0;
  #partNumber = 1;
  #bytesWritten = 0;
  #finished = false;
  #failure: { error: unknown } | undefined;
  readonly #sending = new Set<Promise<void>>();
  readonly #stop = new AbortController();
  readonly #options: PartWriterOptions<Prepared>;

  constructor(options: PartWriterOptions<Prepared>) {
    this.#options = options;
  }

  /** Bytes accepted so far. */
  get bytesWritten(): number {
    return this.#bytesWritten;
  }

  /** Number of the part being filled. */
  get partNumber(): number {
    return this.#partNumber;
  }

  /** Copies `chunk` in, handing every part that fills up to a sending slot. */
  async write(chunk: Uint8Array, signal: AbortSignal): Promise<void> {
    if (this.#finished) throw new Error("the upload is already completed or aborted");
    let offset = 0;
    while (offset < chunk.length) {
      signal.throwIfAborted();
      this.#throwIfFailed();
      const size = this.#options.plan(this.#partNumber);
      if (!this.#buffer) {
        this.#buffer = await this.#options.pool.acquire(size, signal);
        this.#filled = 0;
      }
      const take = Math.min(size - this.#filled, chunk.length - offset);
      this.#buffer.set(chunk.subarray(offset, offset + take), this.#filled);
      this.#filled += take;
      offset += take;
      this.#bytesWritten += take;
      if (this.#filled === size) {
        const buffer = this.#buffer;
        this.#buffer = undefined;
        this.#filled = 0;
        await this.#dispatch(buffer, size, false, signal);
      }
    }
  }

  /** Sends the tail as the final part (empty when the stream ended on a part boundary), waits for every part. */
  async finish(signal: AbortSignal): Promise<void> {
    if (this.#finished) throw new Error("the upload is already completed or aborted");
    this.#finished = true;
    this.#throwIfFailed();
    const buffer = this.#buffer ?? Buffer.alloc(0);
    const filled = this.#filled;
    this.#buffer = undefined;
    await this.#dispatch(buffer, filled, true, signal);
    await Promise.all(this.#sending);
    this.#throwIfFailed();
  }

  /** Stops: aborts the sends in flight and waits for them (their buffers go back); later writes fail. */
  async close(): Promise<void> {
    this.#finished = true;
    this.#stop.abort(new Error("the upload was abandoned"));
    if (this.#buffer) this.#options.pool.release(this.#buffer);
    this.#buffer = undefined;
    await Promise.all(this.#sending);
  }

  #throwIfFailed(): void {
    if (this.#failure) throw this.#failure.error;
  }

  async #dispatch(buffer: Buffer, length: number, final: boolean, signal: AbortSignal) {
    const part = buffer.subarray(0, length);
    const partNumber = this.#partNumber++;
    let prepared: Prepared;
    try {
      prepared = this.#options.prepare(part, partNumber, final);
      while (this.#sending.size >= this.#options.inFlight) await Promise.race(this.#sending);
      this.#throwIfFailed();
      signal.throwIfAborted();
    } catch (error) {
      this.#options.pool.release(buffer);
      throw error;
    }
    const sendSignal = AbortSignal.any([signal, this.#stop.signal]);
    const sending: Promise<void> = this.#send(buffer, part, partNumber, final, prepared, sendSignal)
      // Always later than this statement, so `sending` is set.
      .finally(() => this.#sending.delete(sending));
    this.#sending.add(sending);
  }

  async #send(
    buffer: Buffer,
    part: Buffer,
    partNumber: number,
    final: boolean,
    prepared: Prepared,
    signal: AbortSignal,
  ): Promise<void> {
    try {
      await this.#options.send(part, partNumber, final, prepared, signal);
    } catch (error) {
      if (!this.#failure) {
        this.#failure = { error };
        this.#stop.abort(error);
      }
    } finally {
      this.#options.pool.release(buffer);
    }
  }
}
