/**
 * `npm run bench`: runs the benchmark sections (all, or those named in BENCH_SECTIONS, comma
 * separated), prints each as a Markdown table with the machine it ran on, and writes the run to
 * bench/results/. docs/performance.md records a run's tables.
 */
import { machine, markdown, writeResults } from "./report.ts";
import { stopBenchServer } from "./rig.ts";
import type { Section, SectionResult } from "./section.ts";
import { deliveries } from "./sections/deliveries.ts";
import { latency } from "./sections/latency.ts";
import { memory } from "./sections/memory.ts";
import { startup } from "./sections/startup.ts";
import { throughput } from "./sections/throughput.ts";

const sections: Record<string, Section> = { startup, throughput, memory, latency, deliveries };

const wanted = (process.env.BENCH_SECTIONS ?? Object.keys(sections).join(","))
  .split(",")
  .map((name) => name.trim())
  .filter(Boolean);
const unknown = wanted.filter((name) => !(name in sections));
if (unknown.length > 0) {
  console.error(
    `unknown section(s) in BENCH_SECTIONS: ${unknown.join(", ")} (known: ${Object.keys(sections).join(", ")})`,
  );
  process.exit(2);
}

// Interrupted: stop the PostgreSQL server the sections share (their children die with us).
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void stopBenchServer().finally(() => process.exit(130));
  });
}

const m = machine();
console.log(`${m.date}: ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, Node ${m.node}\n`);
const results: SectionResult[] = [];
try {
  for (const name of wanted) {
    const startedAt = performance.now();
    const result = await sections[name]!();
    results.push(result);
    console.log(markdown(result));
    console.log(`\n(${name}: ${((performance.now() - startedAt) / 1000).toFixed(0)} s)\n`);
  }
} finally {
  await stopBenchServer();
  if (results.length > 0) console.log(`results written to ${await writeResults(results)}`);
}
