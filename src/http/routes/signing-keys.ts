import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Issuer, KeyStatus, RotationOutcome } from "../../oidc/index.ts";
import { requireOperator } from "../auth.ts";

const keySchema = z.object({
  kid: z.string().meta({ description: "RFC 7638 SHA-256 thumbprint, the JWT header's `kid`" }),
  state: z.enum(["published", "signing", "retired", "withdrawn"]),
  publish_at: z.string(),
  activate_at: z.string(),
  retire_at: z.string().nullable(),
  unpublish_at: z.string().nullable(),
});

const rotationSchema = z.object({
  result: z.enum(["bootstrapped", "scheduled", "already_pending", "not_due"]),
  kid: z.string(),
  activate_at: z.string().optional(),
  replaces: z.string().optional(),
  due_at: z.string().optional(),
});

/** A key as listed by the API and `keys list` (public facts only). */
export const showKey = (key: KeyStatus) => ({
  kid: key.kid,
  state: key.state,
  publish_at: key.publishAt.toISOString(),
  activate_at: key.activateAt.toISOString(),
  retire_at: key.retireAt?.toISOString() ?? null,
  unpublish_at: key.unpublishAt?.toISOString() ?? null,
});

/** A rotation's outcome as answered by the API and printed by `keys rotate`. */
export function showRotation(outcome: RotationOutcome): z.infer<typeof rotationSchema> {
  switch (outcome.kind) {
    case "bootstrapped":
      return { result: "bootstrapped", kid: outcome.kid };
    case "scheduled":
      return {
        result: "scheduled",
        kid: outcome.kid,
        activate_at: new Date(outcome.activateAt).toISOString(),
        replaces: outcome.replaces,
      };
    case "pending":
      return {
        result: "already_pending",
        kid: outcome.kid,
        activate_at: new Date(outcome.activateAt).toISOString(),
      };
    case "not_due":
      return { result: "not_due", kid: outcome.kid, due_at: new Date(outcome.dueAt).toISOString() };
  }
}

const security = [{ operatorToken: [] }];

/**
 * `GET /v2/signing-keys`, `POST /v2/signing-keys/rotate` and
 * `POST /v2/signing-keys/emergency-rotate` (docs/api.md, OIDC issuer): the operator's view of the
 * issuer's keys, never their material.
 */
export function signingKeyRoutes(deps: {
  issuer: Pick<Issuer, "listKeys" | "rotate" | "emergencyRotate">;
  operatorToken: string;
}) {
  return async function signingKeyRoutes(parent: FastifyInstance): Promise<void> {
    const app = parent.withTypeProvider<ZodTypeProvider>();
    const operatorOnly = requireOperator(deps.operatorToken);

    app.get(
      "/v2/signing-keys",
      {
        preHandler: operatorOnly,
        schema: {
          tags: ["signing keys"],
          summary: "The OIDC signing keys with their state and schedule (no key material)",
          security,
          response: { 200: z.object({ data: z.array(keySchema) }) },
        },
      },
      async () => ({ data: (await deps.issuer.listKeys()).map(showKey) }),
    );

    app.post(
      "/v2/signing-keys/rotate",
      {
        preHandler: operatorOnly,
        schema: {
          tags: ["signing keys"],
          summary: "Scheduled rotation: publish a new key now; it signs 24 h later",
          description:
            "The new key is in the JWKS at once and signs after the 24 h publish-ahead window clouds' JWKS caches need; the current key retires then and stays published 24 h + 10 min. When a successor is already waiting, nothing changes (`already_pending`). For a compromised key use emergency-rotate.",
          security,
          response: { 200: rotationSchema },
        },
      },
      async () => showRotation(await deps.issuer.rotate({ force: true })),
    );

    app.post(
      "/v2/signing-keys/emergency-rotate",
      {
        preHandler: operatorOnly,
        schema: {
          tags: ["signing keys"],
          summary: "Emergency rotation: a new key signs now; every other key leaves the JWKS now",
          description:
            "For a compromised signing key. Tokens signed by the withdrawn keys stop verifying as soon as each cloud refetches the JWKS, and until a cloud refetches it may refuse the new key's tokens: the identity exchanges of deliveries in that window fail once and the deliveries retry (docs/security.md).",
          security,
          response: {
            200: z.object({
              kid: z.string().meta({ description: "The new key, signing now" }),
              withdrawn: z.array(z.string()).meta({ description: "Keys withdrawn from the JWKS" }),
            }),
          },
        },
      },
      async (request) => {
        const rotation = await deps.issuer.emergencyRotate();
        request.log.warn(
          { kid: rotation.kid, withdrawn: rotation.withdrawn },
          "emergency signing key rotation",
        );
        return rotation;
      },
    );
  };
}
