/**
 * Section 1: copy throughput of a recording (1 GiB by default) into each emulator, by the relay
 * (a worker delivering it from staging), by one plain single-stream PUT of the same bytes, and by
 * rclone — all in the same run, against the same emulators, as ratios.
 */
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { baselineCredentials, plainPut, rcloneCopy, rcloneVersion } from "../baselines.ts";
import { GiB, generatedBytes, MiB, providers, startBenchRig } from "../rig.ts";
import type { SectionResult } from "../section.ts";
import { measureDelivery } from "./delivery.ts";

const label = { s3: "S3", gcs: "GCS", azure_blob: "Azure Blob" } as const;

export async function throughput(): Promise<SectionResult> {
  const gib = Number(process.env.BENCH_THROUGHPUT_GIB ?? 1);
  const size = Math.round(gib * GiB);
  const dir = await mkdtemp(join(tmpdir(), "relay-bench-"));
  const file = join(dir, "recording.mp4");
  await pipeline(Readable.from(generatedBytes(size, 7)), createWriteStream(file));
  const bench = await startBenchRig({
    apiArgs: ["--no-worker"],
    env: { RELAY_LIVE_UPLOAD: "false", RELAY_DELIVERED_GRACE_HOURS: "0" },
  });
  const rclone = rcloneVersion();
  const rows: string[][] = [];
  const data: Record<string, unknown> = { sizeBytes: size, rclone: rclone ?? null };
  const mibps = (ms: number) => size / MiB / (ms / 1000);
  try {
    const credentials = await baselineCredentials(bench);
    for (const provider of providers) {
      const relay = await measureDelivery(bench, provider, size, 11);
      const plainMs = await plainPut(bench, credentials, provider, file, `bench/plain-${provider}`);
      const rcloneResult = rclone
        ? await rcloneCopy(bench, credentials, provider, file, `bench/rclone-${provider}`)
        : "n/a: rclone is not installed (apt-get install rclone)";
      const relayRate = mibps(relay.ms);
      const plainRate = mibps(plainMs);
      const rcloneRate = typeof rcloneResult === "number" ? mibps(rcloneResult) : undefined;
      rows.push([
        label[provider],
        relayRate.toFixed(1),
        plainRate.toFixed(1),
        rcloneRate === undefined ? String(rcloneResult) : rcloneRate.toFixed(1),
        (relayRate / plainRate).toFixed(2),
        rcloneRate === undefined ? "n/a" : (relayRate / rcloneRate).toFixed(2),
      ]);
      data[provider] = { relayMs: relay.ms, plainMs, rclone: rcloneResult };
    }
  } finally {
    await bench.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return {
    name: "throughput",
    title: `Copy throughput of a ${gib} GiB recording into each emulator (MiB/s): the relay (a worker process delivering it from local staging, with its checksums), one plain single-stream PUT of the same file, and ${rclone ?? "rclone"} (4 parts in flight)`,
    table: {
      columns: ["provider", "relay", "plain PUT", "rclone", "relay / plain", "relay / rclone"],
      rows,
    },
    data,
  };
}
