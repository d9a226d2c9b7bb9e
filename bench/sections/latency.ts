/**
 * Section 3: stop-to-`recording_ready` latency of streamed recordings. A producer appends each
 * recording in 1 MiB pieces at a steady pace while the relay (one `serve` process: API, live
 * uploads and worker) streams the parts on; the clock runs from sending `complete` to the
 * verified webhook's arrival at the receiver.
 */

import {
  generatedBytes,
  MiB,
  type Provider,
  percentile,
  providers,
  startBenchRig,
} from "../rig.ts";
import type { SectionResult } from "../section.ts";

const label = { s3: "S3", gcs: "GCS", azure_blob: "Azure Blob" } as const;

export async function latency(): Promise<SectionResult> {
  const perProvider = Number(process.env.BENCH_LATENCY_RECORDINGS ?? 10);
  const recordingMiB = 16;
  const paceMs = 50;
  const bench = await startBenchRig();
  const samples: Record<Provider, number[]> = { s3: [], gcs: [], azure_blob: [] };
  try {
    const streamOne = async (provider: Provider, seed: number) => {
      const started = await bench.call(
        "POST",
        `/v2/conversations/${bench.conversations[provider]}/recordings`,
        { operator: true },
      );
      const id = started.body.recording_id as string;
      let offset = 0;
      for await (const piece of generatedBytes(recordingMiB * MiB, seed)) {
        const answer = await bench.call("PATCH", `/v2/recordings/${id}`, {
          operator: true,
          bytes: piece,
          headers: { "upload-offset": String(offset) },
        });
        if (answer.status !== 204) throw new Error(`append answered ${answer.status}`);
        offset += piece.length;
        await new Promise((resolve) => setTimeout(resolve, paceMs));
      }
      const stoppedAt = performance.now();
      const done = await bench.call("POST", `/v2/recordings/${id}/complete`, {
        operator: true,
        json: {},
      });
      if (done.status !== 202) throw new Error(`complete answered ${done.status}`);
      for (;;) {
        const event = bench.receiver.events.find(
          (e) =>
            e.body.event_type === "application.recording_ready" &&
            e.body.properties.recording_id === id,
        );
        if (event) return event.receivedAtMs - stoppedAt;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    };
    // The three providers' producers run side by side, one recording after another each.
    await Promise.all(
      providers.map(async (provider, p) => {
        for (let i = 0; i < perProvider; i++) {
          samples[provider].push(await streamOne(provider, 100 * p + i));
        }
      }),
    );
  } finally {
    await bench.stop();
  }
  const rows = providers.map((provider) => [
    label[provider],
    String(samples[provider].length),
    percentile(samples[provider], 50).toFixed(0),
    percentile(samples[provider], 95).toFixed(0),
    Math.max(...samples[provider]).toFixed(0),
  ]);
  return {
    name: "latency",
    title: `Stop-to-recording_ready latency (ms) of streamed recordings: ${recordingMiB} MiB each, appended 1 MiB every ${paceMs} ms, three producers at once, one \`serve\` process with live upload; from sending \`complete\` to the verified webhook`,
    table: { columns: ["provider", "recordings", "p50", "p95", "max"], rows },
    data: { recordingMiB, paceMs, samplesMs: samples },
  };
}
