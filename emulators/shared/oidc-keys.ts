/**
 * How a cloud learns the signing keys of a federated OIDC issuer: fetch
 * `{iss}/.well-known/openid-configuration`, then its `jwks_uri` (only `issuer` and `jwks_uri` are
 * consumed, as all three clouds do), cache the key set, and refetch once when a token names a
 * `kid` the cache does not hold (a freshly rotated key). Each emulator maps the failures below to
 * its own cloud's error codes and texts.
 */
import {
  compactVerify,
  createLocalJWKSet,
  decodeProtectedHeader,
  type JSONWebKeySet,
  type JWTPayload,
  type ProtectedHeaderParameters,
} from "jose";

/** Why a token's signature could not be accepted. */
export type SignatureFailure =
  | { kind: "malformed" }
  | { kind: "unsupported_alg"; alg: string }
  /** `unreachable`: the issuer did not answer at all (network error or timeout). */
  | { kind: "metadata_failed"; detail: string; unreachable: boolean }
  | { kind: "key_not_found"; kid: string }
  | { kind: "bad_signature"; kid: string };

/** Result of verifying a token against its issuer's published keys. */
export type SignatureCheck =
  | { ok: true; payload: JWTPayload; header: ProtectedHeaderParameters }
  | { ok: false; failure: SignatureFailure };

/** Settings of an issuer key cache. */
export interface OidcKeyCacheOptions {
  /** Signature algorithms accepted (the cloud's allowlist). */
  algorithms: readonly string[];
  /** Whether a plain-http discovery/JWKS URL may be fetched (tests and the demo use loopback). */
  allowHttp: (url: URL) => boolean;
  fetchTimeoutMs: number;
  /** How long a fetched key set is used before it is fetched again. */
  ttlMs: number;
  /** Minimum age of a cached key set before an unknown `kid` triggers a refetch. */
  refetchCooldownMs?: number;
  now: () => number;
}

/** Counters the tests use to see caching at work. */
export interface OidcFetchStats {
  discoveryFetches: number;
  jwksFetches: number;
}

interface FetchFailure {
  detail: string;
  unreachable: boolean;
}

interface CachedKeys {
  jwks: JSONWebKeySet;
  fetchedAtMs: number;
}

/** Fetches and caches federated issuers' discovery documents and JWKS, and verifies signatures. */
export class OidcKeyCache {
  readonly #options: OidcKeyCacheOptions;
  readonly #cache = new Map<string, CachedKeys>();
  readonly #inflight = new Map<string, Promise<CachedKeys | FetchFailure>>();
  readonly stats: OidcFetchStats = { discoveryFetches: 0, jwksFetches: 0 };

  constructor(options: OidcKeyCacheOptions) {
    this.#options = options;
  }

  /**
   * Verifies `token`'s signature with the keys `issuer` publishes, or with `staticJwks` when the
   * customer uploaded a key set instead (nothing is fetched then).
   */
  async verify(token: string, issuer: string, staticJwks?: JSONWebKeySet): Promise<SignatureCheck> {
    let header: ProtectedHeaderParameters;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      return { ok: false, failure: { kind: "malformed" } };
    }
    if (typeof header.alg !== "string" || !this.#options.algorithms.includes(header.alg)) {
      return { ok: false, failure: { kind: "unsupported_alg", alg: String(header.alg) } };
    }
    const kid = header.kid ?? "";
    if (staticJwks) return this.#check(token, staticJwks, kid, header);
    const now = this.#options.now();
    let cached = this.#cache.get(issuer);
    let fresh = false;
    if (!cached || now - cached.fetchedAtMs >= this.#options.ttlMs) {
      const fetched = await this.#fetch(issuer);
      if ("detail" in fetched)
        return { ok: false, failure: { kind: "metadata_failed", ...fetched } };
      cached = fetched;
      fresh = true;
    }
    const result = await this.#check(token, cached.jwks, kid, header);
    if (
      result.ok ||
      fresh ||
      result.failure.kind !== "key_not_found" ||
      now - cached.fetchedAtMs < (this.#options.refetchCooldownMs ?? 0)
    ) {
      return result;
    }
    const refetched = await this.#fetch(issuer);
    if ("detail" in refetched)
      return { ok: false, failure: { kind: "metadata_failed", ...refetched } };
    return this.#check(token, refetched.jwks, kid, header);
  }

  /** Drops every cached key set. */
  clear(): void {
    this.#cache.clear();
  }

  async #check(
    token: string,
    jwks: JSONWebKeySet,
    kid: string,
    header: ProtectedHeaderParameters,
  ): Promise<SignatureCheck> {
    try {
      const { payload } = await compactVerify(token, createLocalJWKSet(jwks), {
        algorithms: [...this.#options.algorithms],
      });
      const claims = JSON.parse(new TextDecoder().decode(payload)) as unknown;
      if (typeof claims !== "object" || claims === null || Array.isArray(claims)) {
        return { ok: false, failure: { kind: "malformed" } };
      }
      return { ok: true, payload: claims as JWTPayload, header };
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

  /** One fetch per issuer at a time: concurrent token checks share it. */
  #fetch(issuer: string): Promise<CachedKeys | FetchFailure> {
    const pending = this.#inflight.get(issuer);
    if (pending) return pending;
    const promise = this.#fetchNow(issuer).finally(() => this.#inflight.delete(issuer));
    this.#inflight.set(issuer, promise);
    return promise;
  }

  async #fetchNow(issuer: string): Promise<CachedKeys | FetchFailure> {
    const discoveryUrl = `${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
    this.stats.discoveryFetches++;
    const discovery = await this.#getJson(discoveryUrl);
    if ("detail" in discovery) return discovery;
    const doc = (discovery.json ?? {}) as { issuer?: unknown; jwks_uri?: unknown };
    if (doc.issuer !== issuer) {
      return {
        detail: `The issuer [${String(doc.issuer)}] in the discovery document at [${discoveryUrl}] does not match [${issuer}].`,
        unreachable: false,
      };
    }
    if (typeof doc.jwks_uri !== "string")
      return {
        detail: `The discovery document at [${discoveryUrl}] has no jwks_uri.`,
        unreachable: false,
      };
    this.stats.jwksFetches++;
    const keys = await this.#getJson(doc.jwks_uri);
    if ("detail" in keys) return keys;
    const jwks = keys.json as JSONWebKeySet | null;
    if (typeof jwks !== "object" || jwks === null || !Array.isArray(jwks.keys)) {
      return { detail: `The JWKS at [${doc.jwks_uri}] has no keys array.`, unreachable: false };
    }
    const entry = { jwks, fetchedAtMs: this.#options.now() };
    this.#cache.set(issuer, entry);
    return entry;
  }

  async #getJson(url: string): Promise<{ json: unknown } | FetchFailure> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return { detail: `[${url}] is not a URL.`, unreachable: false };
    }
    if (
      parsed.protocol !== "https:" &&
      !(parsed.protocol === "http:" && this.#options.allowHttp(parsed))
    ) {
      return { detail: `The URL [${url}] must use https.`, unreachable: false };
    }
    let response: Response;
    try {
      response = await fetch(parsed, {
        redirect: "error",
        signal: AbortSignal.timeout(this.#options.fetchTimeoutMs),
        headers: { accept: "application/json" },
      });
    } catch (error) {
      return {
        detail: `Unable to retrieve [${url}]: ${(error as Error).message}.`,
        unreachable: true,
      };
    }
    if (!response.ok) {
      await response.body?.cancel();
      return {
        detail: `Unable to retrieve [${url}]: HTTP ${response.status}.`,
        unreachable: false,
      };
    }
    try {
      return { json: await response.json() };
    } catch {
      return { detail: `The document at [${url}] is not valid JSON.`, unreachable: false };
    }
  }
}

/** Whether a URL points at this machine (plain http is allowed only there, and only on request). */
export function isLoopbackUrl(url: URL): boolean {
  return /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]|::1)$/.test(url.hostname);
}
