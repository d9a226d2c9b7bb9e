/**
 * One measured delivery by the real engine: a fresh `recording-relay worker` process takes a
 * recording staged by the API process and uploads it; how long it took (from the moment the
 * recording was complete) and the worker's peak RSS.
 */
import {
  type BenchRig,
  generatedBytes,
  ingestRecording,
  type Provider,
  waitDelivered,
} from "../rig.ts";

export interface MeasuredDelivery {
  ms: number;
  peakRssBytes: number;
  idleRssBytes: number;
}

export async function measureDelivery(
  bench: BenchRig,
  provider: Provider,
  sizeBytes: number,
  seed: number,
): Promise<MeasuredDelivery> {
  const worker = await bench.startWorker();
  try {
    const idleRssBytes = await worker.peakRssBytes();
    // The one-shot ingest returns once every byte is staged and the recording is complete.
    const id = await ingestRecording(bench, provider, generatedBytes(sizeBytes, seed));
    const started = performance.now();
    await waitDelivered(bench, [id]);
    const ms = performance.now() - started;
    return { ms, peakRssBytes: await worker.peakRssBytes(), idleRssBytes };
  } finally {
    await worker.stop();
  }
}
