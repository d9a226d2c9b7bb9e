/**
 * Section 2: peak RSS of a worker process delivering one recording of each size (1 and 5 GiB by
 * default): memory must not grow with the recording's size.
 */

import { GiB, MiB, providers, startBenchRig } from "../rig.ts";
import type { SectionResult } from "../section.ts";
import { measureDelivery } from "./delivery.ts";

const label = { s3: "S3", gcs: "GCS", azure_blob: "Azure Blob" } as const;

export async function memory(): Promise<SectionResult> {
  const sizes = (process.env.BENCH_SIZES_GIB ?? "1,5").split(",").map(Number);
  const bench = await startBenchRig({
    apiArgs: ["--no-worker"],
    env: { RELAY_LIVE_UPLOAD: "false", RELAY_DELIVERED_GRACE_HOURS: "0" },
  });
  const rows: string[][] = [];
  const data: Record<string, unknown> = { sizesGiB: sizes };
  try {
    for (const provider of providers) {
      const peaks: number[] = [];
      let idle = 0;
      for (const [index, gib] of sizes.entries()) {
        const measured = await measureDelivery(bench, provider, Math.round(gib * GiB), index + 20);
        peaks.push(measured.peakRssBytes);
        idle = measured.idleRssBytes;
        data[`${provider}-${gib}GiB`] = measured;
      }
      rows.push([
        label[provider],
        (idle / MiB).toFixed(0),
        ...peaks.map((peak) => (peak / MiB).toFixed(0)),
        `${(((peaks.at(-1) ?? 0) - (peaks[0] ?? 0)) / MiB).toFixed(0)}`,
      ]);
    }
  } finally {
    await bench.stop();
  }
  return {
    name: "memory",
    title:
      "Peak RSS (VmHWM, MiB) of a fresh worker process delivering one recording of each size from local staging",
    table: {
      columns: [
        "provider",
        "idle worker",
        ...sizes.map((gib) => `${gib} GiB`),
        `growth ${sizes[0]} → ${sizes.at(-1)} GiB`,
      ],
      rows,
    },
    data,
  };
}
