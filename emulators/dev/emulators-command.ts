/**
 * `recording-relay emulators`, a development command (emulators/dev/cli.ts): src/ never loads
 * emulators/, so a deployment's executable does not contain them.
 */
import { Command } from "commander";
import type { CliIo } from "../../src/cli/io.ts";
import { settings } from "../../src/config/index.ts";
import { isUuid } from "../../src/domain/ids.ts";
import { AppError } from "../../src/errors/index.ts";
import { startEmulators } from "../main.ts";

/** The Workspace ID the emulated customers trust unless `--workspace` says otherwise. */
export const DEMO_WORKSPACE_ID = "00000000-0000-4000-8000-000000000001";

/** Builds the `emulators` command. */
export function emulatorsCommand(io: CliIo, waitForSignal: () => Promise<unknown>): Command {
  return new Command("emulators")
    .description(
      "Run local stand-ins for AWS STS+S3, GCP STS+IAM Credentials+GCS and Entra ID+Blob, each with one customer ready to trust the relay",
    )
    .option(
      "--issuer-url <url>",
      "the relay issuer the emulated customers trust",
      "http://localhost:8080",
    )
    .option("--workspace <id>", "the Workspace ID the emulated customers trust", DEMO_WORKSPACE_ID)
    .action(async (options: { issuerUrl: string; workspace: string }) => {
      const issuer = settings.issuerUrl.schema.safeParse(options.issuerUrl);
      if (!issuer.success) {
        throw new AppError("VALIDATION_FAILED", `--issuer-url ${issuer.error.issues[0]?.message}`);
      }
      if (!isUuid(options.workspace)) {
        throw new AppError("VALIDATION_FAILED", "--workspace must be a workspace id (a UUID)");
      }
      const running = await startEmulators({
        issuerUrl: issuer.data,
        workspaceId: options.workspace,
      });
      io.stdout(running.describe());
      io.stderr("emulators running; Ctrl-C stops them");
      await waitForSignal();
      await running.stop();
    });
}
