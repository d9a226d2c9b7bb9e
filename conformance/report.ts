/**
 * The run's record: one row per provider and step (pass, fail or skip, with its seconds and, for a
 * failure, the reason), printed as the summary table at the end.
 */

/** A step of the journey, in the order it runs. */
export const stepNames = [
  "create customer",
  "verify",
  "deliver",
  "break trust",
  "restore trust",
  "destroy",
] as const;

export type StepName = (typeof stepNames)[number];

export interface StepResult {
  provider: string;
  step: StepName;
  status: "pass" | "fail" | "skip";
  seconds: number;
  detail?: string;
}

/** Collects step results and prints them. */
export class Report {
  readonly rows: StepResult[] = [];
  readonly #say: (line: string) => void;

  constructor(say: (line: string) => void) {
    this.#say = say;
  }

  /** Runs `action` as `step` of `provider`, records its outcome and rethrows a failure. */
  async step<T>(provider: string, step: StepName, action: () => Promise<T>): Promise<T> {
    const started = performance.now();
    this.#say(`[${provider}] ${step} …`);
    try {
      const result = await action();
      this.#record({ provider, step, status: "pass", seconds: seconds(started) });
      return result;
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      this.#record({ provider, step, status: "fail", seconds: seconds(started), detail });
      throw error;
    }
  }

  /** Records a step that did not run, with why. */
  skip(provider: string, step: StepName, detail: string): void {
    this.#record({ provider, step, status: "skip", seconds: 0, detail });
  }

  get failed(): boolean {
    return this.rows.some((row) => row.status === "fail");
  }

  #record(row: StepResult): void {
    this.rows.push(row);
    const tail = row.detail ? `: ${row.detail}` : "";
    this.#say(`[${row.provider}] ${row.step}: ${row.status} (${row.seconds.toFixed(1)} s)${tail}`);
  }

  /** The summary table (provider, step, result, seconds). */
  table(): string {
    const header = ["provider", "step", "result", "seconds"];
    const body = this.rows.map((row) => [
      row.provider,
      row.step,
      row.status.toUpperCase(),
      row.seconds.toFixed(1),
    ]);
    const widths = header.map((title, i) =>
      Math.max(title.length, ...body.map((cells) => cells[i]!.length)),
    );
    const line = (cells: string[]) =>
      `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(" | ")} |`;
    return [
      line(header),
      `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
      ...body.map(line),
    ].join("\n");
  }
}

function seconds(started: number): number {
  return (performance.now() - started) / 1000;
}
