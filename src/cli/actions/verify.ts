/** What `recording-relay verify` runs (loaded by its command's action, see commands/verify.ts). */
import { readFile } from "node:fs/promises";
import { isUuid } from "../../domain/ids.ts";
import { AppError } from "../../errors/index.ts";
import { validateRecordingStorage, withKeyTemplate } from "../../providers/recording-storage.ts";
import { withDatabase } from "../../runtime/database.ts";
import { destinationsFrom, trustFrom, verifierOf } from "../../runtime/destinations.ts";
import { openIssuer } from "../../runtime/issuer.ts";
import { findWorkspace, getDefaultRecordingStorage } from "../../workspaces/index.ts";
import type { CliIo } from "../io.ts";
import { configFrom } from "../options.ts";
import { remoteRelay } from "../remote.ts";

/** Runs the live diagnostic and prints its report; a failed step fails the command. */
export async function runVerify(io: CliIo, options: Record<string, unknown>): Promise<void> {
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
}
