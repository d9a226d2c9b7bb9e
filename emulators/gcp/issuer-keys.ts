/**
 * Fetches an OIDC issuer's discovery document and JWKS the way Google's STS does (issuer +
 * jwks_uri only), caches them, refetches when a token names an unknown `kid`, and verifies
 * signatures with an algorithm allowlist.
 */
import {
  type CompactVerifyResult,
  compactVerify,
  createLocalJWKSet,
  errors,
  type JSONWebKeySet,
} from "jose";

/** Google STS accepts only these subject-token algorithms. */
export const SUBJECT_TOKEN_ALGORITHMS = ["RS256", "ES256"];

/** Options for the key cache. */
export interface IssuerKeyCacheOptions {
  now: () => number;
  /** How long a fetched JWKS is trusted before refetching. */
  ttlMs: number;
  /** Whether a plain-http discovery/JWKS URL may be fetched (tests and the demo use loopback). */
  allowHttp: (url: URL) => boolean;
  fetchTimeoutMs: number;
}

/** Outcome of verifying a token's signature against its issuer's keys. */
export type SignatureCheck =
  | { ok: true; result: CompactVerifyResult }
  | { ok: false; description: string };

interface CacheEntry {
  jwks: JSONWebKeySet;
  fetchedAtMs: number;
}

/** Thrown for any discovery/JWKS retrieval problem. */
class KeyFetchError extends Error {
  override name = "KeyFetchError";
}

/** Discovery + JWKS cache per issuer. */
export class IssuerKeyCache {
  #options: IssuerKeyCacheOptions;
  #entries = new Map<string, CacheEntry>();
  #inflight = new Map<string, Promise<CacheEntry>>();

  constructor(options: IssuerKeyCacheOptions) {
    this.#options = options;
  }

  /** Verifies `token`'s signature with the issuer's published keys (or an uploaded JWKS). */
  async verify(
    issuerUri: string,
    token: string,
    uploadedJwks?: JSONWebKeySet,
  ): Promise<SignatureCheck> {
    if (uploadedJwks) return this.#verifyWith(uploadedJwks, token);
    let entry: CacheEntry;
    let fresh = false;
    try {
      const cached = this.#entries.get(issuerUri);
      if (cached && this.#options.now() - cached.fetchedAtMs < this.#options.ttlMs) {
        entry = cached;
      } else {
        entry = await this.#fetch(issuerUri);
        fresh = true;
      }
      const first = await this.#verifyWith(entry.jwks, token);
      if (first.ok || fresh || first.description !== UNKNOWN_KID) return first;
      // A kid we have not seen may be a freshly rotated key: refetch once, then decide.
      entry = await this.#fetch(issuerUri);
      return await this.#verifyWith(entry.jwks, token);
    } catch (error) {
      if (error instanceof KeyFetchError) return { ok: false, description: error.message };
      throw error;
    }
  }

  /** Forgets cached keys (tests of rotation use it). */
  clear(): void {
    this.#entries.clear();
  }

  async #verifyWith(jwks: JSONWebKeySet, token: string): Promise<SignatureCheck> {
    try {
      const result = await compactVerify(token, createLocalJWKSet(jwks), {
        algorithms: SUBJECT_TOKEN_ALGORITHMS,
      });
      return { ok: true, result };
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey) return { ok: false, description: UNKNOWN_KID };
      if (error instanceof errors.JWSSignatureVerificationFailed) {
        return { ok: false, description: "Invalid ID Token: the signature could not be verified." };
      }
      if (error instanceof errors.JOSEError) {
        return { ok: false, description: `Invalid ID Token: ${error.message}` };
      }
      throw error;
    }
  }

  #fetch(issuerUri: string): Promise<CacheEntry> {
    const pending = this.#inflight.get(issuerUri);
    if (pending) return pending;
    const promise = this.#fetchNow(issuerUri).finally(() => this.#inflight.delete(issuerUri));
    this.#inflight.set(issuerUri, promise);
    return promise;
  }

  async #fetchNow(issuerUri: string): Promise<CacheEntry> {
    const discoveryUrl = `${issuerUri.replace(/\/$/, "")}/.well-known/openid-configuration`;
    const discovery = await this.#getJson(discoveryUrl);
    if (typeof discovery !== "object" || discovery === null) {
      throw new KeyFetchError(
        `The OIDC discovery document at ${discoveryUrl} is not a JSON object.`,
      );
    }
    const { issuer, jwks_uri: jwksUri } = discovery as { issuer?: unknown; jwks_uri?: unknown };
    if (issuer !== issuerUri) {
      throw new KeyFetchError(
        `The issuer in the OIDC discovery document [${String(issuer)}] does not match the provider's issuer [${issuerUri}].`,
      );
    }
    if (typeof jwksUri !== "string") {
      throw new KeyFetchError(`The OIDC discovery document at ${discoveryUrl} has no jwks_uri.`);
    }
    const jwks = await this.#getJson(jwksUri);
    if (
      typeof jwks !== "object" ||
      jwks === null ||
      !Array.isArray((jwks as { keys?: unknown }).keys)
    ) {
      throw new KeyFetchError(`The JWKS at ${jwksUri} has no keys array.`);
    }
    const entry = { jwks: jwks as JSONWebKeySet, fetchedAtMs: this.#options.now() };
    this.#entries.set(issuerUri, entry);
    return entry;
  }

  async #getJson(url: string): Promise<unknown> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new KeyFetchError(`Invalid URL [${url}] while retrieving the issuer's keys.`);
    }
    if (
      parsed.protocol !== "https:" &&
      !(parsed.protocol === "http:" && this.#options.allowHttp(parsed))
    ) {
      throw new KeyFetchError(`The URL [${url}] must use https.`);
    }
    let response: Response;
    try {
      response = await fetch(parsed, {
        redirect: "error",
        signal: AbortSignal.timeout(this.#options.fetchTimeoutMs),
        headers: { accept: "application/json" },
      });
    } catch (error) {
      throw new KeyFetchError(
        `Unable to retrieve [${url}]: ${error instanceof Error ? error.message : String(error)}.`,
      );
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new KeyFetchError(`Unable to retrieve [${url}]: HTTP ${response.status}.`);
    }
    try {
      return await response.json();
    } catch {
      throw new KeyFetchError(`The document at [${url}] is not valid JSON.`);
    }
  }
}

const UNKNOWN_KID =
  "Invalid ID Token: no key in the issuer's JWKS matches the token's kid and alg.";
