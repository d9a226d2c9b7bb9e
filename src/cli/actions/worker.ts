/** What `recording-relay worker` runs (loaded by its command's action, see commands/worker.ts). */
import { closeOnSignals } from "../../runtime/signals.ts";
import { startWorker } from "../../runtime/worker.ts";
import type { CliIo } from "../io.ts";
import { configFrom } from "../options.ts";

/** Starts the delivery engine alone, until a signal stops it. */
export async function runWorker(io: CliIo, options: Record<string, unknown>): Promise<void> {
  const config = configFrom(io.env, options);
  const worker = await startWorker(config);
  // The worker's poll timer keeps the process alive until a signal closes it. The handlers are
  // in place before the line that says it runs: a supervisor may signal as soon as it reads it.
  closeOnSignals(worker, config.shutdownTimeoutMs, io.stderr);
  io.stderr(
    `recording-relay worker delivering (database: ${worker.db.kind}, staging: ${worker.engine.staging.description}, concurrency ${config.workerConcurrency})`,
  );
}
