/**
 * Test support (not a test file): a stand-in for the relay's OIDC issuer. Keys are made with jose,
 * discovery and JWKS are served over plain http on loopback, and tokens carry the relay's claims
 * (docs/api.md, OIDC issuer: iss, sub, customer_id, aud, iat, nbf, exp = 10 min, jti). Keys can
 * be added unpublished and published later, to exercise JWKS refetching, and any claim or header
 * can be overridden.
 */
import { randomUUID } from "node:crypto";
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

/** Signature algorithms the test issuer can sign with. */
export type TestKeyAlg = "RS256" | "ES256";

/** One signing key of the test issuer. */
export interface TestKey {
  kid: string;
  alg: TestKeyAlg;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

/** Knobs for one minted token (negative tests use them). */
export interface MintOptions {
  /** `aud`; defaults to the issuer's `audience` option. */
  audience?: string;
  /** Claims to override or add; `undefined` values remove a default claim. */
  claims?: Record<string, unknown>;
  /** Sign with this key (published or not, or one the issuer never knew) instead of the active one. */
  key?: TestKey;
  /** Sign with the issuer's key of this kid instead of the active one. */
  kid?: string;
  /** Header parameters to override; `kid: undefined` removes the kid. */
  header?: Record<string, unknown>;
}

/** Options of a test issuer. */
export interface TestIssuerOptions {
  /** The algorithm of the first key. */
  alg?: TestKeyAlg;
  /** The `aud` of minted tokens unless `mint` is given one. */
  audience?: string;
}

/** A running test issuer. */
export interface TestIssuer {
  /** The issuer string (`http://127.0.0.1:<port>`, no trailing slash). */
  url: string;
  /** Every key the issuer holds, published or not. */
  keys: TestKey[];
  /** The key `mint` signs with by default. */
  active: TestKey;
  /** How often discovery and JWKS were fetched. */
  fetches: { discovery: number; jwks: number };
  /** Mints a token for `subject` (the workspace id): `sub` and `customer_id` both carry it. */
  mint(subject: string, options?: MintOptions): Promise<string>;
  /** Creates a key; in the JWKS only if `publish`; the active key if `makeCurrent`. */
  addKey(options: { alg?: TestKeyAlg; publish: boolean; makeCurrent: boolean }): Promise<TestKey>;
  /** Publishes a key added unpublished. */
  publish(kid: string): void;
  /** Adds, publishes and activates a new key (a key rotation). */
  rotate(alg?: TestKeyAlg): Promise<TestKey>;
  stop(): Promise<void>;
}

/** Generates a signing key with its RFC 7638 thumbprint as kid. */
export async function generateTestKey(alg: TestKeyAlg = "RS256"): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, {
    extractable: true,
    modulusLength: 2048,
  });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return { kid, alg, privateKey, publicJwk: { ...publicJwk, kid, alg, use: "sig" } };
}

/** Starts a test issuer on `http://127.0.0.1:<port>`. */
export async function startTestIssuer(options: TestIssuerOptions = {}): Promise<TestIssuer> {
  const defaultAlg = options.alg ?? "RS256";
  const keys: (TestKey & { published: boolean })[] = [];
  const fetches = { discovery: 0, jwks: 0 };
  const published = () => keys.filter((k) => k.published);

  const server = createServer((req, res) => {
    const json = (body: unknown) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.url === "/.well-known/openid-configuration") {
      fetches.discovery++;
      return json({
        issuer: issuer.url,
        jwks_uri: `${issuer.url}/.well-known/jwks.json`,
        response_types_supported: ["id_token"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: [...new Set(published().map((k) => k.alg))],
        claims_supported: ["iss", "sub", "aud", "iat", "nbf", "exp", "jti", "customer_id"],
      });
    }
    if (req.url === "/.well-known/jwks.json") {
      fetches.jwks++;
      return json({ keys: published().map((k) => k.publicJwk) });
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));

  const first = await generateTestKey(defaultAlg);
  keys.push({ ...first, published: true });
  const issuer: TestIssuer = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    keys,
    active: first,
    fetches,
    async mint(subject, mintOptions = {}) {
      const audience = mintOptions.audience ?? options.audience;
      if (audience === undefined) throw new Error("no audience for the test token");
      const now = Math.floor(Date.now() / 1000);
      const claims: Record<string, unknown> = {
        iss: issuer.url,
        sub: subject,
        customer_id: subject,
        aud: audience,
        iat: now,
        nbf: now,
        exp: now + 600,
        jti: randomUUID(),
        ...mintOptions.claims,
      };
      for (const [name, value] of Object.entries(claims))
        if (value === undefined) delete claims[name];
      const key =
        mintOptions.key ??
        (mintOptions.kid === undefined
          ? issuer.active
          : keys.find((k) => k.kid === mintOptions.kid));
      if (!key) throw new Error(`unknown test key ${mintOptions.kid}`);
      const header = { alg: key.alg, kid: key.kid, typ: "JWT", ...mintOptions.header };
      for (const [name, value] of Object.entries(header))
        if (value === undefined) delete header[name as keyof typeof header];
      return new SignJWT(claims).setProtectedHeader(header).sign(key.privateKey);
    },
    async addKey({ alg = defaultAlg, publish, makeCurrent }) {
      const key = await generateTestKey(alg);
      keys.push({ ...key, published: publish });
      if (makeCurrent) issuer.active = key;
      return key;
    },
    publish(kid) {
      const key = keys.find((k) => k.kid === kid);
      if (!key) throw new Error(`unknown test key ${kid}`);
      key.published = true;
    },
    rotate: (alg = defaultAlg) => issuer.addKey({ alg, publish: true, makeCurrent: true }),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  return issuer;
}
