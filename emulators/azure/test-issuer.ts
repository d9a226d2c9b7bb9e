/**
 * A stand-in for the relay's OIDC issuer, for the emulator's tests: RSA keys made with jose,
 * discovery and JWKS served over plain http on loopback, and assertions carrying the SPEC §6
 * claims. Keys can be added unpublished and published later, to exercise JWKS refetching.
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  type JWK,
  type JWTPayload,
  SignJWT,
} from "jose";
import { tokenExchangeAudience } from "./config.ts";

interface IssuerKey {
  kid: string;
  privateKey: CryptoKeyLike;
  publicJwk: JWK;
  published: boolean;
}
type CryptoKeyLike = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

/** Options for one minted assertion. */
export interface MintOptions {
  /** Claims to override or add; `undefined` values remove a default claim. */
  claims?: Record<string, unknown>;
  /** Sign with this key id instead of the current one. */
  kid?: string;
  /** Sign with a fresh ES256 key instead (Entra accepts RS256 only). */
  es256?: boolean;
}

/** A running test issuer. */
export interface TestIssuer {
  url: string;
  /** Mints an assertion: iss, sub, customer_id, aud, iat, nbf, exp (10 min), jti. */
  mint(subject: string, options?: MintOptions): Promise<string>;
  /** Creates a key; published in the JWKS only if `publish`; becomes current if `makeCurrent`. */
  addKey(options: { publish: boolean; makeCurrent: boolean }): Promise<string>;
  /** Publishes a previously unpublished key. */
  publish(kid: string): void;
  /** How often discovery and JWKS were fetched. */
  fetches: { discovery: number; jwks: number };
  stop(): Promise<void>;
}

/** Starts a test issuer on http://127.0.0.1:<port>. */
export async function startTestIssuer(): Promise<TestIssuer> {
  const keys: IssuerKey[] = [];
  let current = "";
  const fetches = { discovery: 0, jwks: 0 };
  const server = createServer((req, res) => {
    if (req.url === "/.well-known/openid-configuration") {
      fetches.discovery++;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          issuer: url,
          jwks_uri: `${url}/.well-known/jwks.json`,
          response_types_supported: ["id_token"],
          subject_types_supported: ["public"],
          id_token_signing_alg_values_supported: ["RS256"],
          claims_supported: ["iss", "sub", "aud", "iat", "nbf", "exp", "jti", "customer_id"],
        }),
      );
      return;
    }
    if (req.url === "/.well-known/jwks.json") {
      fetches.jwks++;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ keys: keys.filter((k) => k.published).map((k) => k.publicJwk) }));
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const addKey = async (options: { publish: boolean; makeCurrent: boolean }) => {
    const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
    const jwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(jwk);
    keys.push({
      kid,
      privateKey,
      publicJwk: { ...jwk, kid, alg: "RS256", use: "sig" },
      published: options.publish,
    });
    if (options.makeCurrent) current = kid;
    return kid;
  };
  await addKey({ publish: true, makeCurrent: true });

  return {
    url,
    fetches,
    addKey,
    publish: (kid) => {
      const key = keys.find((k) => k.kid === kid);
      if (key) key.published = true;
    },
    mint: async (subject, options = {}) => {
      const now = Math.floor(Date.now() / 1000);
      const claims: Record<string, unknown> = {
        iss: url,
        sub: subject,
        customer_id: subject,
        aud: tokenExchangeAudience,
        iat: now,
        nbf: now,
        exp: now + 600,
        jti: randomUUID(),
        ...options.claims,
      };
      for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
      if (options.es256) {
        const { privateKey } = await generateKeyPair("ES256");
        return new SignJWT(claims as JWTPayload)
          .setProtectedHeader({ alg: "ES256", kid: "es256-key", typ: "JWT" })
          .sign(privateKey);
      }
      const key = keys.find((k) => k.kid === (options.kid ?? current));
      if (!key) throw new Error("unknown test key");
      return new SignJWT(claims as JWTPayload)
        .setProtectedHeader({ alg: "RS256", kid: key.kid, typ: "JWT" })
        .sign(key.privateKey);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
