/**
 * What every benchmark section returns: `bench/main.ts` prints `table` and writes the whole
 * result (with the machine and date) to `bench/results/<timestamp>.json`.
 */
export interface SectionResult {
  /** Short name, also the key in the JSON file: "throughput", "memory", "latency", "deliveries". */
  name: string;
  /** One line saying what was measured and how. */
  title: string;
  /** Column headings, then rows of cells already formatted for a Markdown table. */
  table: { columns: string[]; rows: string[][] };
  /** The raw measurements (milliseconds, bytes, counts), for the JSON file. */
  data: unknown;
}

/** A benchmark section: runs its measurements and returns them. */
export type Section = () => Promise<SectionResult>;
