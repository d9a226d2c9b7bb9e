import { Command } from "commander";
import type { CliIo } from "../io.ts";
import {
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
    await (await import("../actions/worker.ts")).runWorker(io, options);
  });
}
