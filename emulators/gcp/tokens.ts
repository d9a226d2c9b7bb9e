/**
 * Opaque bearer tokens issued by the emulated STS (federated tokens) and IAM Credentials
 * (service account access tokens), with their real expiry, which faults may cut short.
 */
import { randomBytes } from "node:crypto";
import type { Principal } from "./principals.ts";

/** One issued token. */
export interface IssuedToken {
  token: string;
  principal: Principal;
  scopes: string[];
  /** What the response advertised. */
  advertisedExpiresAtMs: number;
  /** When the emulator stops accepting it (≤ advertised under the token-expiry fault). */
  expiresAtMs: number;
}

/** Outcome of presenting a bearer token. */
export type TokenLookup =
  | { status: "valid"; token: IssuedToken }
  | { status: "expired"; token: IssuedToken }
  | { status: "unknown" };

/** In-memory registry of issued tokens. */
export class TokenRegistry {
  #tokens = new Map<string, IssuedToken>();
  #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  /** Issues a token; `earlyExpiryMs` makes it die before its advertised lifetime. */
  issue(
    prefix: string,
    principal: Principal,
    scopes: string[],
    lifetimeMs: number,
    earlyExpiryMs?: number,
  ): IssuedToken {
    const now = this.#now();
    this.#purgeExpired(now);
    const advertisedExpiresAtMs = now + lifetimeMs;
    const token: IssuedToken = {
      token: `${prefix}${randomBytes(48).toString("base64url")}`,
      principal,
      scopes,
      advertisedExpiresAtMs,
      expiresAtMs:
        earlyExpiryMs === undefined
          ? advertisedExpiresAtMs
          : Math.min(advertisedExpiresAtMs, now + earlyExpiryMs),
    };
    this.#tokens.set(token.token, token);
    return token;
  }

  /** Looks up a presented bearer token. */
  lookup(bearer: string): TokenLookup {
    const token = this.#tokens.get(bearer);
    if (!token) return { status: "unknown" };
    return this.#now() < token.expiresAtMs
      ? { status: "valid", token }
      : { status: "expired", token };
  }

  /** Makes every token issued so far expire now (the "early token expiry" fault). */
  expireAll(): void {
    const now = this.#now();
    for (const token of this.#tokens.values()) token.expiresAtMs = Math.min(token.expiresAtMs, now);
  }

  #purgeExpired(now: number): void {
    // Keep expired tokens for a while so they answer "expired" rather than "unknown".
    for (const [key, token] of this.#tokens) {
      if (token.expiresAtMs < now - 3_600_000) this.#tokens.delete(key);
    }
  }
}
