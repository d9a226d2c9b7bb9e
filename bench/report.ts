/** The machine a benchmark ran on, its tables as Markdown, and the JSON record of a run. */
import { mkdir, writeFile } from "node:fs/promises";
import { availableParallelism, cpus, totalmem } from "node:os";
import type { SectionResult } from "./section.ts";

/** What the numbers depend on. */
export function machine() {
  return {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    date: new Date().toISOString().slice(0, 10),
  };
}

/** A section as a Markdown table under its title. */
export function markdown(result: SectionResult): string {
  const { columns, rows } = result.table;
  return [
    `${result.title}:`,
    "",
    `| ${columns.join(" | ")} |`,
    `| ${columns.map(() => "---").join(" | ")} |`,
    ...rows.map((row) => `| ${row.join(" | ")} |`),
  ].join("\n");
}

/** Writes the run to bench/results/<timestamp>.json; returns the path. */
export async function writeResults(results: SectionResult[]): Promise<string> {
  const dir = new URL("./results/", import.meta.url);
  await mkdir(dir, { recursive: true });
  const file = new URL(`${new Date().toISOString().replaceAll(":", "-")}.json`, dir);
  const record = {
    machine: machine(),
    sections: Object.fromEntries(results.map((r) => [r.name, r])),
  };
  await writeFile(file, `${JSON.stringify(record, null, 2)}\n`);
  return file.pathname;
}
