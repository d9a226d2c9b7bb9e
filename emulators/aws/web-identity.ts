/**
 * STS `AssumeRoleWithWebIdentity`: an unsigned call that trades an OIDC token for role credentials.
 * The token's `iss` must be an IAM OIDC provider of the role's account; its signature is checked
 * against the keys the issuer publishes (discovery, then JWKS); its audience must be one of the
 * provider's client ids; and the role's trust policy must let the provider in
 * (`Principal.Federated`) under conditions on `<provider host/path>:aud` and `:sub`.
 */
import { decodeJwt, type JWTPayload } from "jose";
import type { OidcKeyCache, SignatureFailure } from "../shared/oidc-keys.ts";
import {
  type OidcProviderConfig,
  oidcProviderArn,
  oidcProviderHostPath,
  type RoleConfig,
} from "./config.ts";
import { accountOf } from "./credentials.ts";
import { type AwsError, stsErrors } from "./errors.ts";
import { issueRoleSession, response, type SessionContext, Violations } from "./sts.ts";
import { trustAllows } from "./trust.ts";
import { xmlElement } from "./xml.ts";

/** What AssumeRoleWithWebIdentity needs from the emulator. */
export interface WebIdentityContext extends SessionContext {
  roles: ReadonlyMap<string, RoleConfig>;
  providers: readonly OidcProviderConfig[];
  keys: OidcKeyCache;
  requestId: string;
}

/** AWS's action name, also the trust policy action it is checked against. */
const ACTION = "sts:AssumeRoleWithWebIdentity";
/** Tolerance for an `iat` slightly ahead of our clock (AWS does not document its own). */
const CLOCK_SKEW_SECONDS = 300;
// Observed AWS texts (the double space is AWS's).
const NOT_A_JWT =
  "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)";
const NO_VERIFICATION_KEY =
  "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements";

/** Runs AssumeRoleWithWebIdentity; returns the XML answer or throws the AWS error. */
export async function assumeRoleWithWebIdentity(
  params: URLSearchParams,
  ctx: WebIdentityContext,
): Promise<string> {
  const roleArn = params.get("RoleArn");
  const sessionName = params.get("RoleSessionName");
  const token = params.get("WebIdentityToken");
  const policy = params.get("Policy");
  const v = new Violations();
  v.roleAndSession(roleArn, sessionName);
  v.required("webIdentityToken", token);
  v.length("webIdentityToken", token, 4, 20_000);
  v.length("providerId", params.get("ProviderId"), 4, 2048);
  v.length("policy", policy, 1, 2048);
  const durationSeconds = v.duration(params.get("DurationSeconds"));
  v.throwIfAny();

  let unverified: JWTPayload;
  try {
    unverified = decodeJwt(token!);
  } catch {
    throw stsErrors.invalidIdentityToken(NOT_A_JWT);
  }
  const issuer = typeof unverified.iss === "string" ? unverified.iss : "";
  // Providers are looked up in the role's account: another account's provider does not count.
  const provider = ctx.providers.find(
    (p) => p.accountId === accountOf(roleArn!) && p.url === issuer,
  );
  if (!provider) {
    throw stsErrors.invalidIdentityToken(
      `No OpenIDConnect provider found in your account for ${issuer}`,
    );
  }
  // "Only tokens with RSA algorithms (RS256) are supported" (STS API reference).
  const signature = await ctx.keys.verify(token!, provider.url);
  if (!signature.ok) throw signatureError(signature.failure);
  const claims = signature.payload;

  const nowSeconds = Math.floor(ctx.nowMs / 1000);
  if (typeof claims.exp !== "number") {
    throw stsErrors.invalidIdentityToken("The ID Token provided is missing the exp claim.");
  }
  if (claims.exp <= nowSeconds) throw stsErrors.expiredWebIdentityToken(nowSeconds, claims.exp);
  if (typeof claims.iat !== "number") {
    throw stsErrors.invalidIdentityToken("The ID Token provided is missing the iat claim.");
  }
  if (claims.iat > nowSeconds + CLOCK_SKEW_SECONDS) {
    throw stsErrors.invalidIdentityToken("The ID Token provided was issued in the future.");
  }
  if (typeof claims.sub !== "string" || claims.sub === "") {
    throw stsErrors.invalidIdentityToken("The ID Token provided is missing the sub claim.");
  }
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  const audience = audiences.find((a) => typeof a === "string" && provider.clientIds.includes(a));
  if (audience === undefined) throw stsErrors.invalidIdentityToken("Incorrect token audience");

  const providerArn = oidcProviderArn(provider.accountId, provider.url);
  const hostPath = oidcProviderHostPath(provider.url);
  const role = ctx.roles.get(roleArn!);
  const context = {
    [`${hostPath}:aud`]: audience,
    [`${hostPath}:sub`]: claims.sub,
    "sts:RoleSessionName": sessionName!,
    "aws:FederatedProvider": providerArn,
  };
  // One text for "no such role" and "not trusted", as for AssumeRole.
  if (!role || !trustAllows(role.trustPolicy, { federated: providerArn }, ACTION, context)) {
    throw stsErrors.webIdentityAccessDenied();
  }
  // A web-identity session is not role chaining: up to the role's MaxSessionDuration.
  const session = issueRoleSession(role, sessionName!, durationSeconds, ctx);
  return response(
    "AssumeRoleWithWebIdentity",
    session.xml +
      xmlElement("SubjectFromWebIdentityToken", claims.sub) +
      xmlElement("Audience", audience) +
      xmlElement("Provider", providerArn) +
      (policy === null ? "" : xmlElement("PackedPolicySize", 6)),
    ctx.requestId,
  );
}

function signatureError(failure: SignatureFailure): AwsError {
  switch (failure.kind) {
    case "malformed":
      return stsErrors.invalidIdentityToken(NOT_A_JWT);
    case "unsupported_alg":
      return stsErrors.invalidIdentityToken(
        `The ID Token is signed with an unsupported algorithm (${failure.alg}); only RS256 is supported.`,
      );
    case "metadata_failed":
      return failure.unreachable
        ? stsErrors.idpCommunicationError()
        : stsErrors.invalidIdentityToken(NO_VERIFICATION_KEY);
    case "key_not_found":
      return stsErrors.invalidIdentityToken(NO_VERIFICATION_KEY);
    case "bad_signature":
      return stsErrors.invalidIdentityToken("The signature of the ID Token could not be verified.");
  }
}
