/**
 * Tokens checked the way the clouds check them: over real HTTP on loopback, by `jose`'s remote
 * JWKS and by `openid-client` (an independent OpenID client) from the discovery document alone.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { FastifyInstance } from "fastify";
import {
  calculateJwkThumbprint,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  SignJWT,
} from "jose";
import * as client from "openid-client";
import { testAppDeps } from "../../test/helpers/app-deps.ts";
import { databaseKinds, openTestDatabase } from "../../test/helpers/databases.ts";
import { freePort } from "../../test/helpers/postgres-server.ts";
import type { Db } from "../db/index.ts";
import { createApp } from "../http/app.ts";
import { OIDC_CACHE_CONTROL } from "../http/routes/oidc.ts";
import { createIssuer, type Issuer } from "./index.ts";

const GCP_AUDIENCE =
  "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/tavus-recording-pool/providers/tavus-recording";
const AZURE_AUDIENCE = "api://AzureADTokenExchange";
const HOUR_MS = 3_600_000;

/** Verifies `token` with openid-client, configured from discovery only, as client `audience`. */
async function verifyWithOpenIdClient(issuerUrl: string, audience: string, token: string) {
  const discovered = await client.discovery(
    new URL(issuerUrl),
    audience,
    undefined,
    client.None(),
    {
      execute: [client.allowInsecureRequests],
    },
  );
  // openid-client validates ID tokens it receives from a token endpoint; our issuer has none, so
  // the test plays that endpoint (in-process) and everything else (discovery, JWKS, signature,
  // iss, aud, exp, iat) is openid-client's own work against the relay over HTTP.
  const tokenEndpoint = `${issuerUrl}/test-only-token-endpoint`;
  const config = new client.Configuration(
    {
      ...discovered.serverMetadata(),
      token_endpoint: tokenEndpoint,
    } as unknown as client.ServerMetadata,
    audience,
    undefined,
    client.None(),
  );
  client.allowInsecureRequests(config);
  client.enableNonRepudiationChecks(config);
  config[client.customFetch] = async (url, options) =>
    url === tokenEndpoint
      ? Response.json({ access_token: "unused", token_type: "bearer", id_token: token })
      : await fetch(url, options as RequestInit);
  const result = await client.genericGrantRequest(config, "urn:test:present-id-token", {});
  return { claims: result.claims(), metadata: discovered.serverMetadata() };
}

for (const [kind, issuerPath] of [
  [databaseKinds[0], ""],
  [databaseKinds[1], "/tenant-a/oidc"],
] as const) {
  describe(`issuer verified over HTTP (${kind}, issuer path "${issuerPath}")`, () => {
    let db: Db;
    let app: FastifyInstance;
    let issuer: Issuer;
    let issuerUrl: string;
    // Starts two hours in the past so an already expired token can be minted first.
    let offsetMs = -2 * HOUR_MS;
    let expiredToken: string;

    before(async () => {
      db = await openTestDatabase(kind);
      const port = await freePort();
      issuerUrl = `http://127.0.0.1:${port}${issuerPath}`;
      issuer = createIssuer({
        db,
        issuerUrl,
        masterKey: crypto.getRandomValues(new Uint8Array(32)),
        clock: { now: () => Date.now() + offsetMs },
        tokenLifetimeSeconds: 600,
      });
      await issuer.prepare();
      expiredToken = await issuer.mintToken({
        workspaceId: crypto.randomUUID(),
        audience: GCP_AUDIENCE,
      });
      offsetMs = 0;
      app = await createApp(testAppDeps(db, { issuer }));
      await app.listen({ host: "127.0.0.1", port });
    });
    after(async () => {
      await app.close();
      await db.close();
    });

    it("serves discovery and JWKS under the issuer with short caching", async () => {
      const discovery = await fetch(`${issuerUrl}/.well-known/openid-configuration`);
      assert.equal(discovery.status, 200);
      assert.equal(discovery.headers.get("cache-control"), OIDC_CACHE_CONTROL);
      assert.deepEqual(await discovery.json(), {
        issuer: issuerUrl,
        jwks_uri: `${issuerUrl}/.well-known/jwks.json`,
        response_types_supported: ["id_token"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["RS256"],
        claims_supported: ["iss", "sub", "aud", "iat", "nbf", "exp", "jti", "customer_id"],
      });
      const jwks = await fetch(`${issuerUrl}/.well-known/jwks.json`);
      assert.equal(jwks.status, 200);
      assert.equal(jwks.headers.get("cache-control"), OIDC_CACHE_CONTROL);
      const { keys } = (await jwks.json()) as { keys: Record<string, string>[] };
      assert.equal(keys.length, 1);
      const [key] = keys;
      assert.deepEqual(Object.keys(key!).sort(), ["alg", "e", "kid", "kty", "n", "use"]);
      assert.equal(key!.alg, "RS256");
      assert.equal(key!.use, "sig");
      assert.ok(Buffer.from(key!.n!, "base64url").byteLength >= 256, "RSA-2048 or larger");
      assert.equal(
        key!.kid,
        await calculateJwkThumbprint({ kty: "RSA", n: key!.n!, e: key!.e! }),
        "kid is the RFC 7638 thumbprint",
      );
    });

    it("mints a fresh token per call with exactly the claims docs/api.md lists", async () => {
      const workspaceId = crypto.randomUUID();
      const before = Math.floor(Date.now() / 1000);
      const first = await issuer.mintToken({ workspaceId, audience: AZURE_AUDIENCE });
      const second = await issuer.mintToken({ workspaceId, audience: AZURE_AUDIENCE });
      assert.notEqual(first, second);
      const header = decodeProtectedHeader(first);
      assert.deepEqual(Object.keys(header).sort(), ["alg", "kid", "typ"]);
      assert.equal(header.alg, "RS256");
      const claims = decodeJwt(first);
      assert.deepEqual(Object.keys(claims).sort(), [
        "aud",
        "customer_id",
        "exp",
        "iat",
        "iss",
        "jti",
        "nbf",
        "sub",
      ]);
      assert.equal(claims.iss, issuerUrl);
      assert.equal(claims.sub, workspaceId);
      assert.equal(claims.customer_id, workspaceId);
      assert.equal(claims.aud, AZURE_AUDIENCE);
      assert.ok(claims.iat! >= before && claims.iat! <= before + 5);
      assert.equal(claims.nbf, claims.iat);
      assert.equal(claims.exp! - claims.iat!, 600);
      assert.notEqual(claims.jti, decodeJwt(second).jti);
    });

    it("verifies with jose's remote JWKS found through discovery", async () => {
      const workspaceId = crypto.randomUUID();
      const token = await issuer.mintToken({ workspaceId, audience: GCP_AUDIENCE });
      const discovery = (await (
        await fetch(`${issuerUrl}/.well-known/openid-configuration`)
      ).json()) as { jwks_uri: string };
      const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));
      const options = { issuer: issuerUrl, audience: GCP_AUDIENCE, algorithms: ["RS256"] };
      const { payload } = await jwtVerify(token, jwks, options);
      assert.equal(payload.sub, workspaceId);

      await assert.rejects(jwtVerify(tamper(token), jwks, options), {
        code: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
      });
      await assert.rejects(jwtVerify(expiredToken, jwks, options), { code: "ERR_JWT_EXPIRED" });
      await assert.rejects(jwtVerify(token, jwks, { ...options, audience: AZURE_AUDIENCE }), {
        code: "ERR_JWT_CLAIM_VALIDATION_FAILED",
        claim: "aud",
      });
      await assert.rejects(jwtVerify(await forge(issuerUrl, workspaceId), jwks, options), {
        code: "ERR_JWKS_NO_MATCHING_KEY",
      });
      const spoofed = await forge(issuerUrl, workspaceId, decodeProtectedHeader(token).kid);
      await assert.rejects(jwtVerify(spoofed, jwks, options), {
        code: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
      });
    });

    it("verifies with openid-client, from the issuer URL alone", async () => {
      const workspaceId = crypto.randomUUID();
      const token = await issuer.mintToken({ workspaceId, audience: GCP_AUDIENCE });
      const { claims, metadata } = await verifyWithOpenIdClient(issuerUrl, GCP_AUDIENCE, token);
      assert.equal(metadata.issuer, issuerUrl);
      assert.equal(claims?.sub, workspaceId);
      assert.equal(claims?.customer_id, workspaceId);

      const rejected = async (candidate: string, audience: string, message: RegExp) =>
        await assert.rejects(verifyWithOpenIdClient(issuerUrl, audience, candidate), (error) => {
          // openid-client wraps the reason ("invalid response encountered") in `cause`.
          const chain: string[] = [];
          for (let e = error as Error | undefined; e; e = e.cause as Error | undefined) {
            chain.push(`${e.message} [${(e as { code?: string }).code}]`);
          }
          assert.match(chain.join(" <- "), message);
          return true;
        });
      await rejected(tamper(token), GCP_AUDIENCE, /signature/i);
      await rejected(expiredToken, GCP_AUDIENCE, /"exp" \(expiration time\)/);
      await rejected(token, AZURE_AUDIENCE, /"aud" \(audience\)/);
      await rejected(await forge(issuerUrl, workspaceId), GCP_AUDIENCE, /no applicable key/i);
      const spoofed = await forge(issuerUrl, workspaceId, decodeProtectedHeader(token).kid);
      await rejected(spoofed, GCP_AUDIENCE, /signature/i);
    });
  });
}

/** Changes the subject inside the payload while keeping the original signature. */
function tamper(token: string): string {
  const [header, payload, signature] = token.split(".");
  const claims = JSON.parse(Buffer.from(payload!, "base64url").toString()) as { sub: string };
  claims.sub = crypto.randomUUID();
  return [header, Buffer.from(JSON.stringify(claims)).toString("base64url"), signature].join(".");
}

/** A well-formed token signed by a key the issuer never published, under `kid` if given. */
async function forge(issuerUrl: string, workspaceId: string, kid?: string): Promise<string> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const ownKid = await calculateJwkThumbprint(await exportJWK(publicKey));
  const now = Math.floor(Date.now() / 1000);
  return await new SignJWT({ customer_id: workspaceId })
    .setProtectedHeader({ alg: "RS256", kid: kid ?? ownKid, typ: "JWT" })
    .setIssuer(issuerUrl)
    .setSubject(workspaceId)
    .setAudience(GCP_AUDIENCE)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + 300)
    .setJti(crypto.randomUUID())
    .sign(privateKey);
}
