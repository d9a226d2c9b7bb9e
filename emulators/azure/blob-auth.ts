/**
 * Bearer authentication at the Blob endpoint: the token must be ours (signature), alive
 * (nbf/exp), issued by the storage account's own tenant, and meant for Storage. Failures answer
 * 401 InvalidAuthenticationInfo with the bearer challenge that tells clients where to get a token.
 */
import type { IncomingMessage } from "node:http";
import type { AccessTokenClaims, AccessTokenSigner } from "./access-tokens.ts";
import { stsIssuer } from "./access-tokens.ts";
import { type BlobError, blobErrors } from "./blob-errors.ts";
import { storageResource } from "./config.ts";

/** Oldest x-ms-version that accepts bearer tokens. */
const firstBearerVersion = "2017-11-09";
/** The first-party app id of Azure Storage, also accepted as an audience. */
const storageAppId = "e406a681-f3d4-42a8-90b6-c2b029497af1";

/** What authentication needs besides the request. */
export interface BlobAuthContext {
  signer: AccessTokenSigner;
  authorityHost: string;
  now: () => number;
  /** Token ids (`uti`) the fault injector has declared expired ahead of time. */
  revokedTokenIds: Set<string>;
  /** Called when an injected early expiry is applied. */
  onEarlyExpiry: () => void;
}

/** Authentication outcome. */
export type BlobAuthResult =
  | { ok: true; claims: AccessTokenClaims }
  | { ok: false; error: BlobError };

/** The bearer challenge for an account's tenant, as Azure Storage sends it (unquoted values). */
export function bearerChallenge(authorityHost: string, tenantId: string): string {
  return `Bearer authorization_uri=${authorityHost}/${tenantId}/oauth2/authorize resource_id=${storageResource}`;
}

/** Authenticates a Blob request for `account`, owned by `tenantId`. */
export async function authenticate(
  ctx: BlobAuthContext,
  req: IncomingMessage,
  account: string,
  tenantId: string,
  earlyExpiry: boolean,
): Promise<BlobAuthResult> {
  const challenge = bearerChallenge(ctx.authorityHost, tenantId);
  const header = req.headers.authorization;
  if (!header) return { ok: false, error: blobErrors.noAuthentication(challenge) };
  const [scheme = "", token = ""] = header.split(" ", 2);
  if (scheme === "SharedKey" || scheme === "SharedKeyLite") {
    // Federated-only customers disable shared keys on the account; the emulator has none anyway.
    return { ok: false, error: blobErrors.keyBasedAuthNotPermitted() };
  }
  if (scheme !== "Bearer") {
    return {
      ok: false,
      error: blobErrors.authenticationFailed(`Authentication scheme ${scheme} is not supported.`),
    };
  }
  const version = headerValue(req, "x-ms-version");
  if (!version || version < firstBearerVersion) {
    return {
      ok: false,
      error: blobErrors.authenticationFailed(
        "Authentication scheme Bearer is not supported in this version.",
      ),
    };
  }
  const checked = await ctx.signer.verifySignature(token);
  if (!checked.ok)
    return { ok: false, error: blobErrors.invalidAuthentication(checked.detail, challenge) };
  const claims = checked.claims;
  const nowSeconds = ctx.now() / 1000;
  if (claims.exp <= nowSeconds || ctx.revokedTokenIds.has(claims.uti)) {
    return invalid("Lifetime validation failed. The token is expired.", challenge);
  }
  if (earlyExpiry) {
    ctx.revokedTokenIds.add(claims.uti);
    ctx.onEarlyExpiry();
    return invalid("Lifetime validation failed. The token is expired.", challenge);
  }
  if (claims.nbf > nowSeconds)
    return invalid("Lifetime validation failed. The token is not yet valid.", challenge);
  const issuers = [stsIssuer(tenantId), `https://login.microsoftonline.com/${tenantId}/v2.0`];
  if (!issuers.includes(claims.iss))
    return invalid("Issuer validation failed. Issuer did not match.", challenge);
  const audiences = [
    storageResource,
    `${storageResource}/`,
    storageAppId,
    `https://${account}.blob.core.windows.net`,
    `https://${account}.blob.core.windows.net/`,
  ];
  if (!audiences.includes(claims.aud))
    return invalid("Audience validation failed. Audience did not match.", challenge);
  return { ok: true, claims };
}

function invalid(detail: string, challenge: string): BlobAuthResult {
  return { ok: false, error: blobErrors.invalidAuthentication(detail, challenge) };
}

/** A single header value as a string. */
export function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
