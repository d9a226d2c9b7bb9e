/**
 * Section 4: deliveries per second of 1 MiB recordings by one worker process, then by two, on
 * PostgreSQL. The API process (`serve --no-worker`, no live upload) stages a batch first; the
 * clock runs from the workers being ready to the last recording delivered.
 */

import { baselineCredentials, plainSmallPuts } from "../baselines.ts";
import {
  type BenchRig,
  generatedBytes,
  ingestRecording,
  MiB,
  providers,
  type RelayChild,
  startBenchRig,
  waitDelivered,
} from "../rig.ts";
import type { SectionResult } from "../section.ts";

async function stageBatch(bench: BenchRig, count: number, seed: number): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  // Four producers at a time.
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < count) {
        const n = next++;
        const provider = providers[n % providers.length]!;
        ids.push(await ingestRecording(bench, provider, generatedBytes(MiB, seed + n)));
      }
    }),
  );
  return ids;
}

async function deliverWith(bench: BenchRig, workers: number, ids: string[]) {
  const started: RelayChild[] = await Promise.all(
    Array.from({ length: workers }, () => bench.startWorker()),
  );
  const cpuBefore = await Promise.all(started.map((worker) => worker.cpuMs()));
  const t0 = performance.now();
  try {
    await waitDelivered(bench, ids);
    const ms = performance.now() - t0;
    const cpuAfter = await Promise.all(started.map((worker) => worker.cpuMs()));
    const cpuMs = cpuAfter.reduce((sum, after, i) => sum + after - cpuBefore[i]!, 0);
    return { ms, cpuMs };
  } finally {
    await Promise.all(started.map((worker) => worker.stop()));
  }
}

/** The same 1 MiB objects PUT by this process, 4 at a time, with cached credentials. */
async function plainBaseline(bench: BenchRig, count: number, seed: number): Promise<number> {
  const credentials = await baselineCredentials(bench);
  const objects = [];
  for (let n = 0; n < count; n++) {
    const chunks: Buffer[] = [];
    for await (const chunk of generatedBytes(MiB, seed + n)) chunks.push(chunk);
    objects.push({
      provider: providers[n % providers.length]!,
      key: `bench/plain-small/${seed}-${n}.mp4`,
      bytes: Buffer.concat(chunks),
    });
  }
  return await plainSmallPuts(bench, credentials, objects, CONCURRENCY);
}

/** Deliveries a worker runs at once (its default). */
const CONCURRENCY = 4;

export async function deliveries(): Promise<SectionResult> {
  const count = Number(process.env.BENCH_DELIVERIES ?? 150);
  const bench = await startBenchRig({
    apiArgs: ["--no-worker"],
    env: { RELAY_LIVE_UPLOAD: "false", RELAY_DELIVERED_GRACE_HOURS: "0" },
  });
  const rows: string[][] = [];
  const data: Record<string, unknown> = { count };
  try {
    const plainMs = await plainBaseline(bench, count, 900_000);
    const plainRate = count / (plainMs / 1000);
    data.plain = { ms: plainMs, perSecond: plainRate };
    rows.push([
      "plain PUTs (one process, no database)",
      String(count),
      (plainMs / 1000).toFixed(1),
      plainRate.toFixed(1),
      "",
      "1.00",
      "n/a",
    ]);
    let single = 0;
    for (const workers of [1, 2]) {
      const ids = await stageBatch(bench, count, workers * 100_000);
      const { ms, cpuMs } = await deliverWith(bench, workers, ids);
      const rate = count / (ms / 1000);
      if (workers === 1) single = rate;
      rows.push([
        String(workers),
        String(count),
        (ms / 1000).toFixed(1),
        rate.toFixed(1),
        (rate / single).toFixed(2),
        (rate / plainRate).toFixed(2),
        (cpuMs / count).toFixed(1),
      ]);
      data[`${workers}-workers`] = { ms, perSecond: rate, cpuMs, cpuMsPerDelivery: cpuMs / count };
    }
  } finally {
    await bench.stop();
  }
  return {
    name: "deliveries",
    title:
      "Deliveries per second of 1 MiB recordings (a third each to S3, GCS and Azure Blob) by `recording-relay worker` processes on one PostgreSQL (default concurrency 4 each); the emulators, the database and the workers share the machine's cores",
    table: {
      columns: [
        "workers",
        "recordings",
        "seconds",
        "deliveries/s",
        "speed-up",
        "relay / plain",
        "worker CPU ms per delivery",
      ],
      rows,
    },
    data,
  };
}
