/**
 * Start-up: time from starting `recording-relay serve` on the embedded database to the first 200
 * from /healthz, with a fresh data directory (PGlite initdb in WASM, migrations, operator token,
 * master key, first RSA-2048 signing key) and on restart of the same directory.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRelay } from "../../test/helpers/relay-process.ts";
import { percentile } from "../rig.ts";
import type { SectionResult } from "../section.ts";

async function timeToHealthy(dataDir: string): Promise<number> {
  const startedAt = performance.now();
  const relay = await startRelay(["--data-dir", dataDir]);
  try {
    for (;;) {
      const response = await fetch(`${relay.url}/healthz`).catch(() => undefined);
      if (response?.status === 200) return performance.now() - startedAt;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    await relay.stop();
  }
}

export async function startup(): Promise<SectionResult> {
  const runs = Number(process.env.BENCH_STARTUP_RUNS ?? 3);
  const samples = { fresh: [] as number[], restart: [] as number[] };
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
    title: `Start-up to the first /healthz 200 on the embedded database (ms), ${runs} runs`,
    table: {
      columns: ["start", "median", "max"],
      rows: [
        ["fresh data directory", ...[50, 100].map((p) => percentile(samples.fresh, p).toFixed(0))],
        [
          "restart on the same directory",
          ...[50, 100].map((p) => percentile(samples.restart, p).toFixed(0)),
        ],
      ],
    },
    data: samples,
  };
}
