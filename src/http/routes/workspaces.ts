import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Db } from "../../db/index.ts";
import { AppError } from "../../errors/index.ts";
import {
  createApiKey,
  createWorkspace,
  findWorkspace,
  listWorkspaces,
  type Workspace,
} from "../../workspaces/index.ts";
import { requireOperator, requireWorkspace } from "../auth.ts";

const workspaceBody = z.object({
  workspace_id: z.uuid(),
  name: z.string(),
  created_at: z.string(),
});

const showWorkspace = (workspace: Workspace) => ({
  workspace_id: workspace.id,
  name: workspace.name,
  created_at: workspace.createdAt.toISOString(),
});

const operatorSecurity = [{ operatorToken: [] }];

/** Tenants and their API keys (operator), and a workspace's view of itself. */
export function workspaceRoutes(deps: { db: Db; operatorToken: string }) {
  return async function workspaceRoutes(parent: FastifyInstance): Promise<void> {
    const app = parent.withTypeProvider<ZodTypeProvider>();
    const operatorOnly = requireOperator(deps.operatorToken);

    app.post(
      "/v2/workspaces",
      {
        preHandler: operatorOnly,
        schema: {
          tags: ["workspaces"],
          summary: "Create a workspace (customer account)",
          security: operatorSecurity,
          body: z.strictObject({
            name: z
              .string({
                error: (issue) => (issue.input === undefined ? "is required" : "must be a string"),
              })
              .trim()
              .min(1, "must not be empty")
              .max(200, "must be at most 200 characters"),
          }),
          response: { 201: workspaceBody },
        },
      },
      async (request, reply) => {
        const workspace = await createWorkspace(deps.db, request.body);
        return reply.status(201).send(showWorkspace(workspace));
      },
    );

    app.get(
      "/v2/workspaces",
      {
        preHandler: operatorOnly,
        schema: {
          tags: ["workspaces"],
          summary: "List workspaces",
          security: operatorSecurity,
          response: { 200: z.object({ data: z.array(workspaceBody) }) },
        },
      },
      async () => ({ data: (await listWorkspaces(deps.db)).map(showWorkspace) }),
    );

    app.post(
      "/v2/workspaces/:workspace_id/api-keys",
      {
        preHandler: operatorOnly,
        schema: {
          tags: ["workspaces"],
          summary: "Create an API key for a workspace; the key is shown only in this answer",
          security: operatorSecurity,
          params: z.object({ workspace_id: z.uuid("must be a workspace id (a UUID)") }),
          response: {
            201: z.object({
              api_key_id: z.string(),
              workspace_id: z.uuid(),
              api_key: z.string(),
              created_at: z.string(),
            }),
          },
        },
      },
      async (request, reply) => {
        const { workspace_id } = request.params;
        const created = await deps.db.transaction(async (tx) => {
          if (!(await findWorkspace(tx, workspace_id))) {
            throw new AppError("NOT_FOUND", `no workspace ${workspace_id}`);
          }
          return await createApiKey(tx, workspace_id);
        });
        return reply.status(201).send({
          api_key_id: created.id,
          workspace_id: created.workspaceId,
          api_key: created.key,
          created_at: created.createdAt.toISOString(),
        });
      },
    );

    app.get(
      "/v2/workspace",
      {
        preHandler: requireWorkspace(deps.db),
        schema: {
          tags: ["workspaces"],
          summary: "The caller's own workspace (its Workspace ID is the subject customers trust)",
          security: [{ apiKey: [] }],
          response: { 200: workspaceBody },
        },
      },
      async (request) => {
        const workspace = await findWorkspace(deps.db, request.workspaceId);
        if (!workspace)
          throw new AppError("UNAUTHENTICATED", "the API key's workspace no longer exists");
        return showWorkspace(workspace);
      },
    );
  };
}
