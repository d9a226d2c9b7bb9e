/**
 * Time from `recording-relay serve` to a 200 from /healthz on the embedded default: a fresh data
 * directory (first start: database created and migrated, token generated) and a restart of it.
 * Run with `node bench/startup.ts [runs]`; prints a table and writes bench/results/startup.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { startRelay } from "../test/helpers/relay-process.ts";

const runs = Number(process.argv[2] ?? 3);

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

const samples: { fresh: number[]; restart: number[] } = { fresh: [], restart: [] };
for (let run = 0; run < runs; run++) {
  const dir = mkdtempSync(join(tmpdir(), "relay-bench-startup-"));
  try {
    samples.fresh.push(await timeToHealthy(dir));
    samples.restart.push(await timeToHealthy(dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const summary = Object.fromEntries(
  Object.entries(samples).map(([name, values]) => {
    const sorted = values.toSorted((a, b) => a - b);
    return [
      name,
      {
        medianMs: Math.round(sorted[Math.floor(sorted.length / 2)]!),
        maxMs: Math.round(sorted.at(-1)!),
      },
    ];
  }),
);
const machine = {
  cpus: availableParallelism(),
  cpu: cpus()[0]?.model,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
};
console.log(
  `startup to /healthz 200, embedded database, ${runs} runs (${machine.cpus} cores, ${machine.cpu})`,
);
console.log("| start | median | max |\n| --- | --- | --- |");
for (const [name, { medianMs, maxMs }] of Object.entries(summary))
  console.log(`| ${name} | ${medianMs} ms | ${maxMs} ms |`);
mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
writeFileSync(
  new URL("./results/startup.json", import.meta.url),
  `${JSON.stringify({ date: new Date().toISOString(), machine, runs, samples, summary }, null, 2)}\n`,
);
