import { Command } from "commander";
import { closeOnSignals } from "../../runtime/signals.ts";
import { startWorker } from "../../runtime/worker.ts";
import type { CliIo } from "../io.ts";
import {
  configFrom,
  databaseSettings,
  deliverySettings,
  destinationSettings,
  withSettings,
} from "../options.ts";

/** `recording-relay worker`: only the delivery engine (no HTTP API), for scale-out. */
export function workerCommand(io: CliIo): Command {
  const command = new Command("worker").description(
    "Deliver queued recordings (no HTTP API). Run any number beside `serve --no-worker` on a shared PostgreSQL (DATABASE_URL) and staging.",
  );
  withSettings(command, [
    ...databaseSettings,
    ...destinationSettings,
    ...deliverySettings,
    "logLevel",
    "shutdownTimeoutMs",
  ]);
  return command.action(async (options: Record<string, unknown>) => {
    const config = configFrom(io.env, options);
    const worker = await startWorker(config);
    io.stderr(
      `recording-relay worker delivering (database: ${worker.db.kind}, staging: ${worker.engine.staging.description}, concurrency ${config.workerConcurrency})`,
    );
    // The worker's poll timer keeps the process alive until a signal closes it.
    closeOnSignals(worker, config.shutdownTimeoutMs, io.stderr);
  });
}
