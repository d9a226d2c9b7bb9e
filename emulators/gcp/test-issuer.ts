/**
 * Test support (not a test file): a throwaway OIDC issuer on loopback that serves discovery and
 * JWKS and signs tokens with the relay's claims (SPEC §6), plus a guard that fails a test file if
 * anything tries to reach a non-loopback host (a real Google endpoint or a metadata server).
 */
import { randomUUID } from "node:crypto";
import { subscribe } from "node:diagnostics_channel";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  type JWK,
  SignJWT,
} from "jose";

/** One signing key of the test issuer. */
export interface TestKey {
  kid: string;
  alg: "RS256" | "ES256";
  privateKey: CryptoKey;
  publicJwk: JWK;
}

/** Claims a test may override; `undefined` removes a claim. */
export type ClaimOverrides = Record<string, unknown>;

/** A running test issuer. */
export interface TestIssuer {
  url: string;
  /** Keys published in the JWKS. */
  published: TestKey[];
  /** The key `mint` signs with. */
  active: TestKey;
  discoveryFetches: number;
  jwksFetches: number;
  /** Mints a token with SPEC §6 claims for `workspaceId` and `audience`, then applies overrides. */
  mint(
    workspaceId: string,
    audience: string,
    overrides?: ClaimOverrides,
    options?: MintOptions,
  ): Promise<string>;
  /** Generates and publishes a new key and makes it the active one. */
  rotate(alg?: "RS256" | "ES256"): Promise<TestKey>;
  stop(): Promise<void>;
}

/** Signing knobs for negative tests. */
export interface MintOptions {
  key?: TestKey;
  header?: Record<string, unknown>;
}

/** Generates a signing key with an RFC 7638 thumbprint as kid. */
export async function generateTestKey(alg: "RS256" | "ES256" = "RS256"): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, {
    extractable: true,
    modulusLength: 2048,
  });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return { kid, alg, privateKey, publicJwk: { ...publicJwk, kid, alg, use: "sig" } };
}

/** Starts an issuer at `http://127.0.0.1:<port>` (its issuer string has no trailing slash). */
export async function startTestIssuer(alg: "RS256" | "ES256" = "RS256"): Promise<TestIssuer> {
  const first = await generateTestKey(alg);
  const issuer: TestIssuer = {
    url: "",
    published: [first],
    active: first,
    discoveryFetches: 0,
    jwksFetches: 0,
    async mint(workspaceId, audience, overrides = {}, options = {}) {
      const now = Math.floor(Date.now() / 1000);
      const claims: Record<string, unknown> = {
        iss: issuer.url,
        sub: workspaceId,
        customer_id: workspaceId,
        aud: audience,
        iat: now,
        nbf: now,
        exp: now + 600,
        jti: randomUUID(),
        ...overrides,
      };
      for (const [name, value] of Object.entries(claims))
        if (value === undefined) delete claims[name];
      const key = options.key ?? issuer.active;
      return new SignJWT(claims)
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT", ...options.header } as {
          alg: string;
        })
        .sign(key.privateKey);
    },
    async rotate(nextAlg = alg) {
      const key = await generateTestKey(nextAlg);
      issuer.published.push(key);
      issuer.active = key;
      return key;
    },
    stop: async () => {},
  };
  const server = createServer((req, res) => {
    if (req.url === "/.well-known/openid-configuration") {
      issuer.discoveryFetches++;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          issuer: issuer.url,
          jwks_uri: `${issuer.url}/.well-known/jwks.json`,
          response_types_supported: ["id_token"],
          subject_types_supported: ["public"],
          id_token_signing_alg_values_supported: ["RS256"],
          claims_supported: ["iss", "sub", "aud", "iat", "nbf", "exp", "jti", "customer_id"],
        }),
      );
      return;
    }
    if (req.url === "/.well-known/jwks.json") {
      issuer.jwksFetches++;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ keys: issuer.published.map((k) => k.publicJwk) }));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  issuer.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  issuer.stop = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return issuer;
}

/**
 * Records every outgoing HTTP request (node:http and fetch/undici) whose host is not loopback.
 * Call `assertLoopbackOnly()` in an `after` hook.
 */
export function guardLoopbackOnly(): { foreign: string[]; assertLoopbackOnly(): void } {
  const foreign: string[] = [];
  const isLoopback = (host: string) =>
    /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]|::1)(:\d+)?$/.test(host);
  subscribe("http.client.request.start", (message) => {
    const request = (message as { request: { host?: string; getHeader(name: string): unknown } })
      .request;
    const host = String(request.getHeader("host") ?? request.host ?? "");
    if (!isLoopback(host)) foreign.push(`http ${host}`);
  });
  subscribe("undici:request:create", (message) => {
    const origin = String((message as { request: { origin?: string } }).request.origin ?? "");
    if (origin && !isLoopback(new URL(origin).host)) foreign.push(`fetch ${origin}`);
  });
  return {
    foreign,
    assertLoopbackOnly() {
      if (foreign.length > 0)
        throw new Error(`non-loopback requests were made: ${foreign.join(", ")}`);
    },
  };
}
