import { Command } from "commander";
import type { CliIo } from "../io.ts";
import { adminSettings, destinationSettings, withSettings } from "../options.ts";

/**
 * `recording-relay verify --workspace <id> [--file storage.json]`: the live diagnostic of
 * `POST /v2/recording-storage/verify`, printed as JSON; exit code 1 when a step failed.
 */
export function verifyCommand(io: CliIo): Command {
  const command = new Command("verify")
    .description(
      "Check a workspace's destination live: identity exchange, impersonation, probe write and delete",
    )
    .requiredOption("--workspace <id>", "the workspace id")
    .option("--file <path>", "a recording_storage JSON file (default: the workspace default)");
  withSettings(command, [...adminSettings, ...destinationSettings]);
  return command.action(async (options: Record<string, unknown>) => {
    await (await import("../actions/verify.ts")).runVerify(io, options);
  });
}
