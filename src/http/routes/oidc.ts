import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { DISCOVERY_PATH, type Issuer, JWKS_PATH } from "../../oidc/index.ts";

/**
 * Short next to the 24 h publish-ahead and retire windows, so a cached document never hides a key
 * that signs, yet long enough to spare the database from clouds that poll.
 */
export const OIDC_CACHE_CONTROL = "public, max-age=300";

const discoverySchema = z.object({
  issuer: z.string(),
  jwks_uri: z.string(),
  response_types_supported: z.array(z.string()),
  subject_types_supported: z.array(z.string()),
  id_token_signing_alg_values_supported: z.array(z.string()),
  claims_supported: z.array(z.string()),
});

// Listing the members (and stripping any other) keeps private JWK members out by construction.
const jwksSchema = z.object({
  keys: z.array(
    z.object({
      kty: z.literal("RSA"),
      n: z.string(),
      e: z.string(),
      kid: z.string(),
      alg: z.literal("RS256"),
      use: z.literal("sig"),
    }),
  ),
});

/** The issuer's path prefix: `/oidc` for `https://example.com/oidc`, empty without a path. */
export function issuerPathPrefix(issuerUrl: string): string {
  return new URL(issuerUrl).pathname.replace(/\/$/, "");
}

/**
 * Public OpenID discovery and JWKS (docs/api.md, OIDC issuer), under the issuer's path as
 * OpenID Connect Discovery §4 requires; with a path, also at the root, for a proxy that strips the
 * prefix before the relay.
 */
export function oidcRoutes(issuer: Pick<Issuer, "issuerUrl" | "discovery" | "jwks">) {
  return async function oidcRoutes(parent: FastifyInstance): Promise<void> {
    const app = parent.withTypeProvider<ZodTypeProvider>();
    const prefix = issuerPathPrefix(issuer.issuerUrl);
    const prefixes = prefix === "" ? [""] : [prefix, ""];
    for (const [index, base] of prefixes.entries()) {
      const hide = index > 0;
      app.get(
        `${base}${DISCOVERY_PATH}`,
        {
          schema: {
            hide,
            tags: ["oidc"],
            summary: "OpenID Connect discovery document of the relay's issuer",
            response: { 200: discoverySchema },
          },
        },
        async (_request, reply) => {
          reply.header("cache-control", OIDC_CACHE_CONTROL);
          return issuer.discovery();
        },
      );
      app.get(
        `${base}${JWKS_PATH}`,
        {
          schema: {
            hide,
            tags: ["oidc"],
            summary:
              "Public signing keys: the one signing, the next one, and recently retired ones",
            response: { 200: jwksSchema },
          },
        },
        async (_request, reply) => {
          const jwks = await issuer.jwks();
          reply.header("cache-control", OIDC_CACHE_CONTROL);
          return jwks;
        },
      );
    }
  };
}
