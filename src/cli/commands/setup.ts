import { Command } from "commander";
import { storageProviders } from "../../providers/index.ts";
import type { CliIo } from "../io.ts";
import { adminSettings, withSettings } from "../options.ts";

/**
 * `recording-relay setup <provider> --workspace <id>`: the trust a customer configures, filled in
 * with that workspace's values (the same guide as `GET /v2/recording-storage/setup/{provider}`).
 */
export function setupCommand(io: CliIo): Command {
  const command = new Command("setup")
    .description(
      "Print a workspace's customer setup for s3, gcs or azure_blob: shell commands and Terraform",
    )
    .argument("<provider>", `one of ${storageProviders.join(", ")}`)
    .requiredOption("--workspace <id>", "the workspace id")
    .option(
      "--format <format>",
      "all (commented shell, then Terraform), cli (the shell script only), terraform (main.tf only) or json",
      "all",
    );
  withSettings(command, [
    ...adminSettings,
    "issuerUrl",
    "awsAuthMode",
    "awsAccountId",
    "awsExternalIdMode",
    "awsExternalId",
    "awsRoleSessionSeconds",
    "defaultKeyTemplate",
  ]);
  return command.action(async (provider: string, options: Record<string, unknown>) => {
    await (await import("../actions/setup.ts")).runSetup(io, provider, options);
  });
}
