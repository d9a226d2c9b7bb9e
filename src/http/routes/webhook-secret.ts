import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Db } from "../../db/index.ts";
import type { Clock } from "../../lib/clock.ts";
import { listWebhookSecrets, rotateWebhookSecret } from "../../webhooks/index.ts";
import { requireWorkspace } from "../auth.ts";

const security = [{ apiKey: [] }];

/** `POST /v2/webhook-secret/rotate` (the secret, shown once) and `GET /v2/webhook-secret` (facts only). */
export function webhookSecretRoutes(deps: {
  db: Db;
  clock: Clock;
  masterKey: Uint8Array;
  webhookSecretOverlapMs: number;
}) {
  return async function webhookSecretRoutes(parent: FastifyInstance): Promise<void> {
    const app = parent.withTypeProvider<ZodTypeProvider>();
    const workspaceOnly = requireWorkspace(deps.db);

    app.post(
      "/v2/webhook-secret/rotate",
      {
        preHandler: workspaceOnly,
        schema: {
          tags: ["webhooks"],
          summary: "Make a new webhook signing secret; it is shown only in this answer",
          description:
            "The first call gives the workspace its secret. Later calls replace it: the previous secret keeps signing alongside the new one (two space-separated `v1,` signatures in `webhook-signature`) until `previous_expires_at`, so receivers can switch without losing events.",
          security,
          response: {
            201: z.object({
              secret: z
                .string()
                .meta({ description: "whsec_<base64>, for a Standard Webhooks verifier" }),
              created_at: z.string(),
              previous_expires_at: z.string().nullable(),
            }),
          },
        },
      },
      async (request, reply) => {
        const rotated = await rotateWebhookSecret(deps.db, {
          workspaceId: request.workspaceId,
          masterKey: deps.masterKey,
          nowMs: deps.clock.now(),
          overlapMs: deps.webhookSecretOverlapMs,
        });
        // The secret must not linger in caches or proxies.
        reply.header("cache-control", "no-store");
        return reply.status(201).send({
          secret: rotated.secret,
          created_at: rotated.createdAt.toISOString(),
          previous_expires_at: rotated.previousExpiresAt?.toISOString() ?? null,
        });
      },
    );

    app.get(
      "/v2/webhook-secret",
      {
        preHandler: workspaceOnly,
        schema: {
          tags: ["webhooks"],
          summary:
            "The webhook secrets that sign now (when made, when they stop), never the secrets",
          security,
          response: {
            200: z.object({
              data: z.array(
                z.object({ created_at: z.string(), expires_at: z.string().nullable() }),
              ),
            }),
          },
        },
      },
      async (request) => ({
        data: (await listWebhookSecrets(deps.db, request.workspaceId, deps.clock.now())).map(
          (info) => ({
            created_at: info.createdAt.toISOString(),
            expires_at: info.expiresAt?.toISOString() ?? null,
          }),
        ),
      }),
    );
  };
}
