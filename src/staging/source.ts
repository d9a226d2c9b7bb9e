import { StagingLimitError } from "./contract.ts";

/** What {@link meteredSource} saw: bytes passed on, and the error it threw, if any. */
export interface SourceMeter {
  bytes: number;
  /**
   * Set when the source itself failed, the limit was hit or the signal fired. Stores rethrow it
   * unchanged instead of wrapping it, so the caller can tell its own input's failure (a client
   * that went away) from the store's.
   */
  failure?: { error: unknown };
}

/** Settings of {@link meteredSource}. */
export interface MeterOptions {
  store: string;
  recordingId: string;
  maxBytes?: number | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * Passes `source` through chunk by chunk, skipping empty chunks, counting bytes, stopping on
 * abort and refusing to pass more than `maxBytes`; whatever stops it is recorded in `meter`.
 */
export async function* meteredSource(
  source: AsyncIterable<Uint8Array>,
  meter: SourceMeter,
  options: MeterOptions,
): AsyncGenerator<Uint8Array, void, undefined> {
  const { maxBytes, signal } = options;
  const iterator = source[Symbol.asyncIterator]();
  let exhausted = false;
  try {
    while (true) {
      signal?.throwIfAborted();
      // Raced with the signal: a source that stalls (a silent client) must not hold the append.
      const step = signal ? await untilAborted(iterator.next(), signal) : await iterator.next();
      if (step.done) {
        exhausted = true;
        break;
      }
      const chunk = step.value;
      if (chunk.byteLength === 0) continue;
      if (maxBytes !== undefined && meter.bytes + chunk.byteLength > maxBytes) {
        throw new StagingLimitError(options.store, options.recordingId, maxBytes);
      }
      meter.bytes += chunk.byteLength;
      yield chunk;
    }
    signal?.throwIfAborted();
  } catch (error) {
    meter.failure = { error };
    throw error;
  } finally {
    // Not awaited: a source stalled in next() may only settle its return() after that.
    if (!exhausted) iterator.return?.()?.catch(() => {});
  }
}

/** `promise`, or the signal's reason as soon as it fires. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
    // The source may have fired the signal itself while next() ran: no event would follow.
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
}
