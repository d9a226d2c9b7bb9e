import { readFile } from "node:fs/promises";
import { Command } from "commander";
import { isUuid } from "../../domain/ids.ts";
import { AppError } from "../../errors/index.ts";
import { validateRecordingStorage, withKeyTemplate } from "../../providers/recording-storage.ts";
import { withDatabase } from "../../runtime/database.ts";
import { destinationsFrom, trustFrom, verifierOf } from "../../runtime/destinations.ts";
import { openIssuer } from "../../runtime/issuer.ts";
import { findWorkspace, getDefaultRecordingStorage } from "../../workspaces/index.ts";
import type { CliIo } from "../io.ts";
import { adminSettings, configFrom, destinationSettings, withSettings } from "../options.ts";
import { remoteRelay } from "../remote.ts";

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
    const workspaceId = String(options.workspace);
    if (!isUuid(workspaceId)) {
      throw new AppError("VALIDATION_FAILED", "--workspace must be a workspace id (a UUID)");
    }
    const config = configFrom(io.env, options);
    let input: unknown;
    if (typeof options.file === "string") {
      try {
        input = JSON.parse(await readFile(options.file, "utf8"));
      } catch (error) {
        throw new AppError(
          "VALIDATION_FAILED",
          `--file: cannot read ${options.file} as JSON (${(error as Error).message})`,
        );
      }
    }
    const remote = remoteRelay(config);
    if (remote) {
      const report = (await remote.call(
        "POST",
        `/v2/workspaces/${workspaceId}/recording-storage/verify`,
        input,
      )) as { ok: boolean };
      io.stdout(JSON.stringify(report, null, 2));
      if (!report.ok) {
        throw new AppError(
          "VALIDATION_FAILED",
          "the destination failed verification (see the steps above)",
        );
      }
      return;
    }
    await withDatabase(config, "read", async (db) => {
      if (!(await findWorkspace(db, workspaceId))) {
        throw new AppError("NOT_FOUND", `no workspace ${workspaceId}`);
      }
      let destination =
        input === undefined ? await getDefaultRecordingStorage(db, workspaceId) : undefined;
      if (input !== undefined) {
        const result = validateRecordingStorage(input, "", config);
        if (!result.ok) {
          throw new AppError("VALIDATION_FAILED", `${result.issue.field}: ${result.issue.message}`);
        }
        destination = result.value;
      }
      if (!destination) {
        throw new AppError(
          "NOT_FOUND",
          `workspace ${workspaceId} has no default recording_storage: pass --file`,
        );
      }
      const { issuer } = await openIssuer(config, db);
      const trust = trustFrom(config);
      const verify = verifierOf(destinationsFrom(config, trust, issuer));
      const report = await verify(withKeyTemplate(destination, config.defaultKeyTemplate), {
        workspaceId,
        signal: AbortSignal.timeout(5 * 60_000),
      });
      io.stdout(JSON.stringify(report, null, 2));
      if (!report.ok) {
        // Exit code 1 for scripts; the report above says which step failed and why.
        throw new AppError(
          "VALIDATION_FAILED",
          "the destination failed verification (see the steps above)",
        );
      }
    });
  });
}
