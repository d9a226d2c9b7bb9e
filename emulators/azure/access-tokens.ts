/**
 * The emulator's own token-signing key and the access tokens it issues for Azure Storage, shaped
 * like Entra's v1.0 app-only tokens (iss https://sts.windows.net/{tid}/, aud, tid, oid, appid,
 * iat/nbf/exp, uti, ver 1.0), so anything that inspects them sees the real layout.
 */
import { randomBytes, randomUUID, type webcrypto } from "node:crypto";
import {
  base64url,
  calculateJwkThumbprint,
  compactVerify,
  exportJWK,
  generateKeyPair,
  type JWK,
  SignJWT,
} from "jose";
import { storageResource } from "./config.ts";

/** Claims of an access token issued by the emulator. */
export interface AccessTokenClaims {
  aud: string;
  iss: string;
  iat: number;
  nbf: number;
  exp: number;
  appid: string;
  appidacr: string;
  idp: string;
  idtyp: string;
  oid: string;
  sub: string;
  tid: string;
  uti: string;
  ver: string;
}

/** What the token endpoint needs to mint one token. */
export interface MintRequest {
  tenantId: string;
  clientId: string;
  servicePrincipalObjectId: string;
  nowMs: number;
  lifetimeSeconds: number;
}

/** The outcome of checking a bearer token's signature and shape. */
export type SignatureCheck =
  | { ok: true; claims: AccessTokenClaims }
  | { ok: false; detail: string };

/** Entra's v1.0 issuer for a tenant: the `iss` Storage expects. */
export function stsIssuer(tenantId: string): string {
  return `https://sts.windows.net/${tenantId}/`;
}

/** Signs and verifies the emulator's access tokens with one RSA key. */
export class AccessTokenSigner {
  readonly #privateKey: webcrypto.CryptoKey;
  readonly #publicKey: webcrypto.CryptoKey;
  readonly publicJwk: JWK;

  private constructor(
    privateKey: webcrypto.CryptoKey,
    publicKey: webcrypto.CryptoKey,
    publicJwk: JWK,
  ) {
    this.#privateKey = privateKey;
    this.#publicKey = publicKey;
    this.publicJwk = publicJwk;
  }

  /** Generates a fresh RS256 key (Entra signs with RSA-2048). */
  static async create(): Promise<AccessTokenSigner> {
    const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
    const jwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(jwk);
    return new AccessTokenSigner(privateKey, publicKey, {
      ...jwk,
      kid,
      x5t: kid,
      use: "sig",
      alg: "RS256",
    });
  }

  /** Mints an access token for Azure Storage; returns it with its lifetime in seconds. */
  async mint(request: MintRequest): Promise<{ token: string; expiresInSeconds: number }> {
    const now = Math.floor(request.nowMs / 1000);
    // Entra backdates iat/nbf by five minutes to absorb clock skew between services.
    const issuedAt = now - 300;
    const claims: AccessTokenClaims = {
      aud: storageResource,
      iss: stsIssuer(request.tenantId),
      iat: issuedAt,
      nbf: issuedAt,
      exp: now + request.lifetimeSeconds,
      appid: request.clientId,
      appidacr: "2",
      idp: stsIssuer(request.tenantId),
      idtyp: "app",
      oid: request.servicePrincipalObjectId,
      sub: request.servicePrincipalObjectId,
      tid: request.tenantId,
      uti: base64url.encode(randomBytes(16)),
      ver: "1.0",
    };
    const token = await new SignJWT({ ...claims, aio: randomUUID(), rh: "0.emulator." })
      .setProtectedHeader({
        typ: "JWT",
        alg: "RS256",
        kid: this.publicJwk.kid,
        x5t: this.publicJwk.kid,
      })
      .sign(this.#privateKey);
    return { token, expiresInSeconds: request.lifetimeSeconds };
  }

  /** Checks the signature and claim shape only; lifetime, issuer and audience are the caller's. */
  async verifySignature(token: string): Promise<SignatureCheck> {
    const parts = token.split(".");
    if (parts.length !== 3) return { ok: false, detail: "JWT is not well formed." };
    try {
      const { payload, protectedHeader } = await compactVerify(token, this.#publicKey, {
        algorithms: ["RS256"],
      });
      if (protectedHeader.kid !== this.publicJwk.kid) {
        return { ok: false, detail: "Signature validation failed. Signature key was not found." };
      }
      const claims = JSON.parse(new TextDecoder().decode(payload)) as AccessTokenClaims;
      for (const key of ["aud", "iss", "oid", "tid"] as const) {
        if (typeof claims[key] !== "string") return { ok: false, detail: `Missing claim ${key}.` };
      }
      for (const key of ["nbf", "exp"] as const) {
        if (typeof claims[key] !== "number") return { ok: false, detail: `Missing claim ${key}.` };
      }
      return { ok: true, claims };
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED") {
        return { ok: false, detail: "Signature validation failed. Signature is invalid." };
      }
      return { ok: false, detail: "JWT is not well formed." };
    }
  }
}
