import { Command } from "commander";
import { isUuid } from "../../domain/ids.ts";
import { AppError } from "../../errors/index.ts";
import { withDatabase } from "../../runtime/database.ts";
import { createApiKey, createWorkspace, findWorkspace } from "../../workspaces/index.ts";
import type { CliIo } from "../io.ts";
import { configFrom, databaseSettings, withSettings } from "../options.ts";

/** `recording-relay workspace create --name <name>`: prints the new workspace as JSON. */
export function workspaceCommand(io: CliIo): Command {
  const create = new Command("create")
    .description("Create a workspace (customer account) and print it as JSON")
    .requiredOption("--name <name>", "display name of the customer");
  withSettings(create, databaseSettings).action(async (options: Record<string, unknown>) => {
    const name = String(options.name).trim();
    if (name.length < 1 || name.length > 200) {
      throw new AppError("VALIDATION_FAILED", "--name must be 1 to 200 characters");
    }
    const workspace = await withDatabase(configFrom(io.env, options), "write", (db) =>
      createWorkspace(db, { name }),
    );
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
  withSettings(create, databaseSettings).action(async (options: Record<string, unknown>) => {
    const workspaceId = String(options.workspace);
    if (!isUuid(workspaceId)) {
      throw new AppError("VALIDATION_FAILED", "--workspace must be a workspace id (a UUID)");
    }
    const created = await withDatabase(configFrom(io.env, options), "write", (db) =>
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
