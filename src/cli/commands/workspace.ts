import { Command } from "commander";
import { isUuid } from "../../domain/ids.ts";
import { AppError } from "../../errors/index.ts";
import { withDatabase } from "../../runtime/database.ts";
import { createApiKey, createWorkspace, findWorkspace } from "../../workspaces/index.ts";
import type { CliIo } from "../io.ts";
import { adminSettings, configFrom, withSettings } from "../options.ts";
import { remoteRelay } from "../remote.ts";

/** `recording-relay workspace create --name <name>`: prints the new workspace as JSON. */
export function workspaceCommand(io: CliIo): Command {
  const create = new Command("create")
    .description("Create a workspace (customer account) and print it as JSON")
    .requiredOption("--name <name>", "display name of the customer");
  withSettings(create, adminSettings).action(async (options: Record<string, unknown>) => {
    const name = String(options.name).trim();
    if (name.length < 1 || name.length > 200) {
      throw new AppError("VALIDATION_FAILED", "--name must be 1 to 200 characters");
    }
    const config = configFrom(io.env, options);
    const remote = remoteRelay(config);
    if (remote) {
      io.stdout(JSON.stringify(await remote.call("POST", "/v2/workspaces", { name })));
      return;
    }
    const workspace = await withDatabase(config, "write", (db) => createWorkspace(db, { name }));
    io.stdout(
      JSON.stringify({
        workspace_id: workspace.id,
        name: workspace.name,
        created_at: workspace.createdAt,
      }),
    );
  });
  return new Command("workspace").description("Manage workspaces").addCommand(create);
}

/** `recording-relay api-key create --workspace <id>`: prints the new key once, as JSON. */
export function apiKeyCommand(io: CliIo): Command {
  const create = new Command("create")
    .description("Create an API key for a workspace; the key is printed only this once")
    .requiredOption("--workspace <id>", "the workspace id");
  withSettings(create, adminSettings).action(async (options: Record<string, unknown>) => {
    const workspaceId = String(options.workspace);
    if (!isUuid(workspaceId)) {
      throw new AppError("VALIDATION_FAILED", "--workspace must be a workspace id (a UUID)");
    }
    const config = configFrom(io.env, options);
    const remote = remoteRelay(config);
    if (remote) {
      io.stdout(
        JSON.stringify(await remote.call("POST", `/v2/workspaces/${workspaceId}/api-keys`)),
      );
      return;
    }
    const created = await withDatabase(config, "write", (db) =>
      db.transaction(async (tx) => {
        if (!(await findWorkspace(tx, workspaceId))) {
          throw new AppError("NOT_FOUND", `no workspace ${workspaceId}`);
        }
        return await createApiKey(tx, workspaceId);
      }),
    );
    io.stdout(
      JSON.stringify({
        api_key_id: created.id,
        workspace_id: created.workspaceId,
        api_key: created.key,
        created_at: created.createdAt,
      }),
    );
  });
  return new Command("api-key").description("Manage workspace API keys").addCommand(create);
}
