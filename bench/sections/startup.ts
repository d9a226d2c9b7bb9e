/**
 * Start-up: time from starting `recording-relay serve` on the embedded database to the first 200
 * from /healthz, with a fresh data directory (PGlite initdb in WASM, migrations, operator token,
 * master key, first RSA-2048 signing key) and on restart of the same directory.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRelay } from "../../test/helpers/relay-process.ts";
import { MiB, percentile, statusBytes } from "../rig.ts";
import type { SectionResult } from "../section.ts";

/** How long an idle `serve` is left alone before its resident set is read. */
const IDLE_SETTLE_MS = 3_000;

interface StartSample {
  ms: number;
  /** VmHWM once idle: the peak of start-up. */
  peakRssBytes: number;
  /** VmRSS after IDLE_SETTLE_MS with nothing to do. */
  idleRssBytes: number;
}

async function timeToHealthy(dataDir: string): Promise<StartSample> {
  const startedAt = performance.now();
  const relay = await startRelay(["--data-dir", dataDir]);
  try {
    for (;;) {
      const response = await fetch(`${relay.url}/healthz`).catch(() => undefined);
      if (response?.status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const ms = performance.now() - startedAt;
    await new Promise((resolve) => setTimeout(resolve, IDLE_SETTLE_MS));
    return {
      ms,
      peakRssBytes: await statusBytes(relay.child.pid, "VmHWM"),
      idleRssBytes: await statusBytes(relay.child.pid, "VmRSS"),
    };
  } finally {
    await relay.stop();
  }
}

export async function startup(): Promise<SectionResult> {
  const runs = Number(process.env.BENCH_STARTUP_RUNS ?? 3);
  const samples = { fresh: [] as StartSample[], restart: [] as StartSample[] };
  for (let run = 0; run < runs; run++) {
    const dir = await mkdtemp(join(tmpdir(), "relay-bench-startup-"));
    try {
      samples.fresh.push(await timeToHealthy(dir));
      samples.restart.push(await timeToHealthy(dir));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  return {
    name: "startup",
    title: `Start-up of \`serve\` on the embedded database: time to the first /healthz 200, peak RSS (VmHWM) and RSS after ${IDLE_SETTLE_MS / 1000} s idle, ${runs} runs`,
    table: {
      columns: [
        "start",
        "median (ms)",
        "max (ms)",
        "peak RSS, median (MiB)",
        "idle RSS, median (MiB)",
      ],
      rows: (["fresh", "restart"] as const).map((kind) => {
        const of = (field: keyof StartSample) => samples[kind].map((sample) => sample[field]);
        return [
          kind === "fresh" ? "fresh data directory" : "restart on the same directory",
          ...[50, 100].map((p) => percentile(of("ms"), p).toFixed(0)),
          (percentile(of("peakRssBytes"), 50) / MiB).toFixed(0),
          (percentile(of("idleRssBytes"), 50) / MiB).toFixed(0),
        ];
      }),
    },
    data: samples,
  };
}
