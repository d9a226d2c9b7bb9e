import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Db } from "../../db/index.ts";
import { AppError } from "../../errors/index.ts";
import { healthOf } from "../../health/index.ts";
import { storageProviders } from "../../providers/index.ts";
import { validateRecordingStorage, withKeyTemplate } from "../../providers/recording-storage.ts";
import { generateSetup, requireAwsAccount } from "../../providers/setup-guides.ts";
import {
  findWorkspace,
  getDefaultRecordingStorage,
  setDefaultRecordingStorage,
} from "../../workspaces/index.ts";
import { requireOperator, requireWorkspace } from "../auth.ts";
import {
  healthSchema,
  recordingStorageSchema,
  warningSchema,
} from "../schemas/recording-storage.ts";
import { type DestinationDeps, showHealth, signalOf, validationError } from "./conversations.ts";

const verifyStepSchema = z.object({
  step: z.enum(["identity_exchange", "impersonation", "probe_write", "probe_delete", "safety"]),
  status: z.enum(["pass", "fail", "skip", "warn"]),
  error_code: z.string().optional(),
  cloud_code: z.string().optional(),
  cloud_message: z.string().optional(),
  message: z.string().optional(),
  hint: z.string().optional(),
});

const securityApiKey = [{ apiKey: [] }];

const defaultAnswer = z.object({
  recording_storage: recordingStorageSchema,
  effective_key_template: z
    .string()
    .meta({ description: "The template conversations capture: its own, or the operator default" }),
});

/**
 * The operator acting for the workspace named in the path: `request.workspaceId` is set to it,
 * and an unknown workspace is a 404.
 */
function operatorFor(db: Db, operatorToken: string) {
  const operator = requireOperator(operatorToken);
  return async function operatorFor(request: FastifyRequest): Promise<void> {
    await operator(request);
    const { workspace_id } = request.params as { workspace_id?: string };
    if (!workspace_id || !(await findWorkspace(db, workspace_id))) {
      throw new AppError("NOT_FOUND", `no workspace ${workspace_id ?? ""}`);
    }
    request.workspaceId = workspace_id;
  };
}

/** The workspace default destination and the setup guides (docs/api.md, recording_storage). */
export function recordingStorageRoutes(deps: DestinationDeps) {
  return async function recordingStorageRoutes(parent: FastifyInstance): Promise<void> {
    const app = parent.withTypeProvider<ZodTypeProvider>();
    const workspaceOnly = requireWorkspace(deps.db);

    app.put(
      "/v2/recording-storage",
      {
        preHandler: workspaceOnly,
        schema: {
          tags: ["recording-storage"],
          summary: "Set the workspace's default destination (validated on save)",
          description:
            "The body is a `recording_storage` object. An S3 default is checked live (AssumeRole with the configured duration and ExternalId) before it is saved. Conversations created later without a destination of their own capture it; existing conversations keep theirs.",
          security: securityApiKey,
          body: z.unknown(),
          response: { 200: defaultAnswer.extend({ warnings: z.array(warningSchema) }) },
        },
      },
      async (request, reply) => {
        const result = validateRecordingStorage(request.body, "", deps);
        if (!result.ok) throw validationError(result.issue);
        if (result.value.provider === "s3") requireAwsAccount(deps.trust);
        // The same live check a conversation's own destination gets, so a default that cannot
        // work is refused now rather than failing every later conversation.
        if (deps.checkDestination) {
          await deps.checkDestination(withKeyTemplate(result.value, deps.defaultKeyTemplate), {
            workspaceId: request.workspaceId,
            signal: signalOf(request, reply),
            checking: "new_default",
          });
        }
        if (!(await setDefaultRecordingStorage(deps.db, request.workspaceId, result.value))) {
          throw new AppError("UNAUTHENTICATED", "the API key's workspace no longer exists");
        }
        return {
          recording_storage: result.value,
          effective_key_template: result.value.key_template ?? deps.defaultKeyTemplate,
          warnings: result.warnings,
        };
      },
    );

    app.get(
      "/v2/recording-storage",
      {
        preHandler: workspaceOnly,
        schema: {
          tags: ["recording-storage"],
          summary: "The workspace's default destination and its health (404 when none is set)",
          description:
            "`health` is the last scheduled check of the destination (docs/api.md, Destination health): `unknown` until a worker checked it, then `healthy` or `unhealthy` with `error_code`, `message` and `hint`, and the confused-deputy self-check as `safety`.",
          security: securityApiKey,
          response: { 200: defaultAnswer.extend({ health: healthSchema }) },
        },
      },
      async (request) => {
        const destination = await getDefaultRecordingStorage(deps.db, request.workspaceId);
        if (!destination) {
          throw new AppError(
            "NOT_FOUND",
            "this workspace has no default recording_storage; set one with PUT /v2/recording-storage",
          );
        }
        const [health] = await healthOf(deps.db, request.workspaceId, [destination]);
        return {
          recording_storage: destination,
          effective_key_template: destination.key_template ?? deps.defaultKeyTemplate,
          health: showHealth(health!),
        };
      },
    );

    app.delete(
      "/v2/recording-storage",
      {
        preHandler: workspaceOnly,
        schema: {
          tags: ["recording-storage"],
          summary: "Remove the workspace's default destination (conversations keep theirs)",
          security: securityApiKey,
          response: { 204: z.null() },
        },
      },
      async (request, reply) => {
        await setDefaultRecordingStorage(deps.db, request.workspaceId, null);
        return reply.status(204).send(null);
      },
    );

    // The workspace's own routes, and the operator's on behalf of a named workspace (the CLI's
    // `setup` and `verify` against a running relay).
    const variants = [
      {
        prefix: "/v2",
        preHandler: workspaceOnly,
        security: securityApiKey,
        params: z.object({}),
        summarySuffix: "",
      },
      ...(deps.operatorToken
        ? [
            {
              prefix: "/v2/workspaces/:workspace_id",
              preHandler: operatorFor(deps.db, deps.operatorToken),
              security: [{ operatorToken: [] }],
              params: z.object({ workspace_id: z.uuid("must be a workspace id (a UUID)") }),
              summarySuffix: " (operator, for a workspace)",
            },
          ]
        : []),
    ];
    for (const variant of variants) {
      app.post(
        `${variant.prefix}/recording-storage/verify`,
        {
          preHandler: variant.preHandler,
          schema: {
            tags: ["recording-storage"],
            summary: `Check a destination live, step by step${variant.summarySuffix}`,
            description:
              "The body is a `recording_storage` object, or empty to check the workspace default. Runs the identity exchange, the impersonation (GCS; skipped for S3 and Azure), a probe write under the key template's prefix (`<prefix>.recording-relay-verify/`) and its deletion. Each step is `pass`, `fail` (with the error code, the cloud's message and a hint) or `skip` (after a failure). A last `safety` step is the confused-deputy self-check: `pass` when the trust refuses the relay acting for another workspace (S3: AssumeRole without the ExternalId; GCS and Azure: a token for another Workspace ID), `warn` with a hint when it does not. 200 whatever the outcome; `ok` tells (a `warn` does not clear it).",
            security: variant.security,
            params: variant.params,
            body: z.unknown(),
            response: {
              200: z.object({
                ok: z.boolean(),
                provider: z.string().meta({ description: "s3, gcs or azure_blob" }),
                probe_key: z.string(),
                steps: z.array(verifyStepSchema),
              }),
            },
          },
        },
        async (request, reply) => {
          let destination: Awaited<ReturnType<typeof getDefaultRecordingStorage>>;
          if (request.body === undefined || request.body === null) {
            destination = await getDefaultRecordingStorage(deps.db, request.workspaceId);
            if (!destination) {
              throw new AppError(
                "NOT_FOUND",
                "this workspace has no default recording_storage: send one in the body, or set one with PUT /v2/recording-storage",
              );
            }
          } else {
            const result = validateRecordingStorage(request.body, "", deps);
            if (!result.ok) throw validationError(result.issue);
            destination = result.value;
          }
          if (destination.provider === "s3") requireAwsAccount(deps.trust);
          if (!deps.verifyDestination) {
            throw new AppError(
              "NOT_CONFIGURED",
              "live verification is not available in this process",
            );
          }
          return await deps.verifyDestination(
            withKeyTemplate(destination, deps.defaultKeyTemplate),
            {
              workspaceId: request.workspaceId,
              signal: signalOf(request, reply),
            },
          );
        },
      );

      app.get(
        `${variant.prefix}/recording-storage/setup/:provider`,
        {
          preHandler: variant.preHandler,
          schema: {
            tags: ["recording-storage"],
            summary: `The trust to configure on the customer's side, as CLI commands and Terraform${variant.summarySuffix}`,
            description:
              "Filled in with this workspace's Workspace ID, the relay's issuer, trusted AWS account and ExternalId, and any names the workspace default already gives. Values the customer must supply are listed in `placeholders` and marked FILL IN.",
            security: variant.security,
            params: variant.params.extend({
              provider: z.enum(storageProviders, "must be one of s3, gcs, azure_blob"),
            }),
            response: {
              200: z.object({
                provider: z.string().meta({ description: "s3, gcs or azure_blob" }),
                workspace_id: z.string(),
                relay_identity: z.record(z.string(), z.union([z.string(), z.number()])),
                placeholders: z.array(z.object({ name: z.string(), description: z.string() })),
                cli: z.string(),
                terraform: z.string(),
                recording_storage: z.record(z.string(), z.string()),
                notes: z.array(z.string()),
              }),
            },
          },
        },
        async (request) => {
          const { provider } = request.params;
          const saved = await getDefaultRecordingStorage(deps.db, request.workspaceId);
          // A saved default of the same provider supplies names and its key template.
          const known = saved?.provider === provider ? saved : undefined;
          return generateSetup(provider, {
            workspaceId: request.workspaceId,
            trust: deps.trust,
            keyTemplate: known?.key_template ?? deps.defaultKeyTemplate,
            known,
          });
        },
      );
    }
  };
}
