/** What `recording-relay workspace create` and `api-key create` run (loaded by their actions). */
import { isUuid } from "../../domain/ids.ts";
import { AppError } from "../../errors/index.ts";
import { withDatabase } from "../../runtime/database.ts";
import { createApiKey, createWorkspace, findWorkspace } from "../../workspaces/index.ts";
import type { CliIo } from "../io.ts";
import { configFrom } from "../options.ts";
import { remoteRelay } from "../remote.ts";

/** Creates a workspace (through a running relay when there is one) and prints it as JSON. */
export async function runWorkspaceCreate(
  io: CliIo,
  options: Record<string, unknown>,
): Promise<void> {
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
}

/** Creates an API key and prints it, once, as JSON. */
export async function runApiKeyCreate(io: CliIo, options: Record<string, unknown>): Promise<void> {
  const workspaceId = String(options.workspace);
  if (!isUuid(workspaceId)) {
    throw new AppError("VALIDATION_FAILED", "--workspace must be a workspace id (a UUID)");
  }
  const config = configFrom(io.env, options);
  const remote = remoteRelay(config);
  if (remote) {
    io.stdout(JSON.stringify(await remote.call("POST", `/v2/workspaces/${workspaceId}/api-keys`)));
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
}
