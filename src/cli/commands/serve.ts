import { Command } from "commander";
import type { CliIo } from "../io.ts";
import {
  databaseSettings,
  deliverySettings,
  destinationSettings,
  withSettings,
} from "../options.ts";

/** `recording-relay serve`: the HTTP API and (unless `--no-worker`) the delivery worker. */
export function serveCommand(io: CliIo): Command {
  const command = new Command("serve").description(
    "Run the relay: HTTP API, OIDC issuer and delivery worker. Migrates the database on start.",
  );
  command.option(
    "--no-worker",
    "Serve the API (and ingest) only; deliveries are left to `recording-relay worker` processes",
  );
  withSettings(command, [
    ...databaseSettings,
    ...destinationSettings,
    ...deliverySettings,
    "host",
    "port",
    "signingKeyRotationHours",
    "logLevel",
    "bodyLimitBytes",
    "shutdownTimeoutMs",
    "allowHttpCallbacks",
    "webhookAllowedNetworks",
    "webhookTimeoutMs",
    "webhookSecretOverlapHours",
  ]);
  return command.action(async (options: Record<string, unknown>) => {
    await (await import("../actions/serve.ts")).runServe(io, options);
  });
}
