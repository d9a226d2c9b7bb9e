/**
 * How Entra learns the signing keys of a federated issuer: fetch `{iss}/.well-known/openid-configuration`,
 * then its `jwks_uri`, cache both, and refetch when an assertion names a `kid` the cache does not
 * hold (Microsoft's validator guidance: cache per kid, refresh periodically, refetch on unknown
 * kid). Only issuers that some federated credential names are ever fetched.
 */
import {
  compactVerify,
  createLocalJWKSet,
  decodeProtectedHeader,
  type JSONWebKeySet,
  type JWTPayload,
} from "jose";

/** Why an assertion's signature could not be accepted. */
export type SignatureFailure =
  | { kind: "malformed" }
  | { kind: "unsupported_alg"; alg: string }
  | { kind: "metadata_failed"; detail: string }
  | { kind: "key_not_found"; kid: string }
  | { kind: "bad_signature"; kid: string };

/** Result of verifying an assertion against its issuer's published keys. */
export type AssertionCheck =
  | { ok: true; payload: JWTPayload }
  | { ok: false; failure: SignatureFailure };

/** Settings of the issuer key cache. */
export interface IssuerKeyCacheOptions {
  allowHttp: boolean;
  fetchTimeoutMs: number;
  cacheTtlMs: number;
  refetchCooldownMs: number;
  now: () => number;
}

interface CachedKeys {
  jwks: JSONWebKeySet;
  fetchedAtMs: number;
}

/** Counters the tests use to see caching at work. */
export interface IssuerFetchStats {
  discoveryFetches: number;
  jwksFetches: number;
}

/** Fetches and caches federated issuers' discovery documents and JWKS. */
export class IssuerKeyCache {
  readonly #options: IssuerKeyCacheOptions;
  readonly #cache = new Map<string, CachedKeys>();
  readonly stats: IssuerFetchStats = { discoveryFetches: 0, jwksFetches: 0 };

  constructor(options: IssuerKeyCacheOptions) {
    this.#options = options;
  }

  /** Verifies the RS256 signature of `assertion` with the keys `issuer` publishes. */
  async verify(assertion: string, issuer: string): Promise<AssertionCheck> {
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(assertion);
    } catch {
      return { ok: false, failure: { kind: "malformed" } };
    }
    // Entra supports RS256 only for federated issuers (§3.2 of the research notes).
    if (header.alg !== "RS256") {
      return { ok: false, failure: { kind: "unsupported_alg", alg: String(header.alg) } };
    }
    const kid = header.kid ?? "";
    let cached = this.#cache.get(issuer);
    const now = this.#options.now();
    if (!cached || now - cached.fetchedAtMs >= this.#options.cacheTtlMs) {
      const fetched = await this.#fetch(issuer);
      if ("detail" in fetched)
        return { ok: false, failure: { kind: "metadata_failed", ...fetched } };
      cached = fetched;
    }
    let result = await check(assertion, cached.jwks, kid);
    if (
      !result.ok &&
      result.failure.kind === "key_not_found" &&
      now - cached.fetchedAtMs >= this.#options.refetchCooldownMs
    ) {
      const fetched = await this.#fetch(issuer);
      if ("detail" in fetched)
        return { ok: false, failure: { kind: "metadata_failed", ...fetched } };
      result = await check(assertion, fetched.jwks, kid);
    }
    return result;
  }

  /** Drops every cached key set. */
  clear(): void {
    this.#cache.clear();
  }

  async #fetch(issuer: string): Promise<CachedKeys | { detail: string }> {
    const discoveryUrl = `${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
    const discovery = await this.#getJson(discoveryUrl);
    this.stats.discoveryFetches++;
    if ("detail" in discovery) return discovery;
    const doc = discovery.json as { issuer?: unknown; jwks_uri?: unknown };
    if (doc.issuer !== issuer) {
      return {
        detail: `The issuer '${String(doc.issuer)}' in the discovery document does not match '${issuer}'.`,
      };
    }
    if (typeof doc.jwks_uri !== "string")
      return { detail: "The discovery document has no jwks_uri." };
    const keys = await this.#getJson(doc.jwks_uri);
    this.stats.jwksFetches++;
    if ("detail" in keys) return keys;
    const jwks = keys.json as JSONWebKeySet;
    if (!jwks || !Array.isArray(jwks.keys)) return { detail: "The JWKS document has no keys." };
    const entry = { jwks, fetchedAtMs: this.#options.now() };
    this.#cache.set(issuer, entry);
    return entry;
  }

  async #getJson(url: string): Promise<{ json: unknown } | { detail: string }> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return { detail: `'${url}' is not a URL.` };
    }
    const schemeAllowed =
      parsed.protocol === "https:" || (this.#options.allowHttp && parsed.protocol === "http:");
    if (!schemeAllowed) return { detail: `'${url}' is not an https URL.` };
    try {
      const response = await fetch(parsed, {
        signal: AbortSignal.timeout(this.#options.fetchTimeoutMs),
        headers: { accept: "application/json" },
      });
      if (!response.ok) return { detail: `GET ${url} answered ${response.status}.` };
      return { json: await response.json() };
    } catch (error) {
      return { detail: `GET ${url} failed: ${(error as Error).message}.` };
    }
  }
}

async function check(assertion: string, jwks: JSONWebKeySet, kid: string): Promise<AssertionCheck> {
  try {
    const { payload } = await compactVerify(assertion, createLocalJWKSet(jwks), {
      algorithms: ["RS256"],
    });
    return { ok: true, payload: JSON.parse(new TextDecoder().decode(payload)) as JWTPayload };
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "ERR_JWKS_NO_MATCHING_KEY" || code === "ERR_JWKS_MULTIPLE_MATCHING_KEYS") {
      return { ok: false, failure: { kind: "key_not_found", kid } };
    }
    if (code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED") {
      return { ok: false, failure: { kind: "bad_signature", kid } };
    }
    return { ok: false, failure: { kind: "malformed" } };
  }
}
