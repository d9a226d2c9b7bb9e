/**
 * The Entra ID half: the tenant's OpenID metadata (what MSAL reads before any token request), the
 * tenant's signing keys, and the v2.0 token endpoint for the client-credentials grant with a
 * federated `client_assertion`. Checks run in the order Entra reports them: tenant, grant, client,
 * scope, assertion shape, issuer match, signature, lifetime, subject, audience, propagation.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { decodeJwt, type JWTPayload } from "jose";
import { readSmallBody, sendJson } from "../shared/http.ts";
import type { OidcKeyCache, SignatureFailure } from "../shared/oidc-keys.ts";
import type { AccessTokenSigner } from "./access-tokens.ts";
import { credentialAdmitsSubject, storageResource, type Tenant } from "./config.ts";
import type { Directory } from "./directory.ts";
import { type EntraError, entraErrorBody, entraErrors } from "./entra-errors.ts";

/** What the Entra handlers need from the emulator. */
export interface EntraContext {
  origin: string;
  directory: Directory;
  signer: AccessTokenSigner;
  issuerKeys: OidcKeyCache;
  accessTokenLifetimeSeconds: () => number;
  now: () => number;
  stats: { tokenRequests: number; tokensIssued: number };
}

const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/** Clock skew Entra tolerates on assertion nbf/exp (the .NET validators' default). */
const clockSkewSeconds = 300;

/** Sends a JSON answer the way Entra does: never cacheable (metadata, tokens and errors alike). */
export function sendEntraJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, body, { "cache-control": "no-store, no-cache", ...headers });
}

/** Handles a request whose first path segment looks like a tenant. */
export async function handleEntra(
  ctx: EntraContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const [tenantSegment = "", ...rest] = url.pathname.split("/").filter(Boolean);
  const route = rest.join("/");
  const correlationId = url.searchParams.get("client-request-id") ?? undefined;
  const fail = (err: EntraError) => {
    sendEntraJson(res, err.status, entraErrorBody(err, ctx.now(), correlationId), {
      "x-ms-request-id": randomUUID(),
    });
  };
  const tenant = ctx.directory.tenant(tenantSegment);

  if (route === "v2.0/.well-known/openid-configuration" && req.method === "GET") {
    if (!tenant) return fail(entraErrors.tenantNotFound(tenantSegment));
    return sendEntraJson(res, 200, openIdConfiguration(ctx.origin, tenant.tenantId));
  }
  if ((route === "discovery/v2.0/keys" || route === "discovery/keys") && req.method === "GET") {
    if (!tenant) return fail(entraErrors.tenantNotFound(tenantSegment));
    return sendEntraJson(res, 200, { keys: [ctx.signer.publicJwk] });
  }
  if (route === "oauth2/v2.0/token") {
    ctx.stats.tokenRequests++;
    if (req.method !== "POST") {
      return fail({
        status: 400,
        error: "invalid_request",
        code: 900561,
        description: "The endpoint only accepts POST requests. Received a GET request.",
      });
    }
    if (!tenant) {
      req.resume();
      return fail(entraErrors.tenantNotFound(tenantSegment));
    }
    const form = new URLSearchParams((await readSmallBody(req, 1_048_576)).toString("utf8"));
    const outcome = await exchange(ctx, tenant, tenantSegment, form);
    if ("error" in outcome) return fail(outcome.error);
    ctx.stats.tokensIssued++;
    return sendEntraJson(res, 200, {
      token_type: "Bearer",
      expires_in: outcome.expiresInSeconds,
      ext_expires_in: outcome.expiresInSeconds,
      access_token: outcome.token,
    });
  }
  res.writeHead(404, { "content-type": "text/plain" });
  res.end("Not Found");
}

/** Runs the client-credentials grant with a federated assertion. */
async function exchange(
  ctx: EntraContext,
  tenant: Tenant,
  tenantSegment: string,
  form: URLSearchParams,
): Promise<{ token: string; expiresInSeconds: number } | { error: EntraError }> {
  const grantType = form.get("grant_type");
  if (!grantType) return { error: entraErrors.missingParameter("grant_type") };
  if (grantType !== "client_credentials")
    return { error: entraErrors.unsupportedGrantType(grantType) };

  const clientId = form.get("client_id");
  if (!clientId) return { error: entraErrors.missingParameter("client_id") };
  const app = ctx.directory.app(tenant, clientId);
  if (!app) return { error: entraErrors.applicationNotFound(clientId, tenantSegment) };

  const scope = form.get("scope");
  if (!scope) return { error: entraErrors.missingParameter("scope") };
  const scopeError = checkScope(scope, tenantSegment);
  if (scopeError) return { error: scopeError };

  const assertion = form.get("client_assertion");
  if (!assertion) return { error: entraErrors.missingClientCredential() };
  if (form.get("client_assertion_type") !== jwtBearer) {
    return { error: entraErrors.missingParameter("client_assertion_type") };
  }

  let claims: JWTPayload;
  try {
    claims = decodeJwt(assertion);
  } catch {
    return { error: entraErrors.malformedAssertion() };
  }
  const { iss, sub } = claims;
  if (typeof iss !== "string" || typeof sub !== "string" || typeof claims.exp !== "number") {
    return { error: entraErrors.malformedAssertion() };
  }
  const audiences = typeof claims.aud === "string" ? [claims.aud] : (claims.aud ?? []);

  // Entra only trusts (and only fetches keys from) issuers a credential of this app names.
  const credentials = ctx.directory.federatedCredentials(app);
  const byIssuer = credentials.filter((c) => c.credential.issuer === iss);
  if (byIssuer.length === 0) return { error: entraErrors.noMatchingIssuer(iss) };

  const signature = await ctx.issuerKeys.verify(assertion, iss);
  if (!signature.ok) return { error: signatureError(signature.failure) };

  const nowMs = ctx.now();
  const nowSeconds = nowMs / 1000;
  const nbf = typeof claims.nbf === "number" ? claims.nbf : (claims.iat ?? 0);
  if (nowSeconds > claims.exp + clockSkewSeconds || nowSeconds < nbf - clockSkewSeconds) {
    return { error: entraErrors.assertionOutsideTimeRange(nowMs, nbf * 1000, claims.exp * 1000) };
  }

  // Subjects are compared case-sensitively since Entra's 2025 change (AADSTS7002138 era).
  const bySubject = byIssuer.filter((c) => credentialAdmitsSubject(c.credential, sub));
  if (bySubject.length === 0) return { error: entraErrors.noMatchingSubject(sub) };
  const matching = bySubject.filter((c) =>
    c.credential.audiences.some((a) => audiences.includes(a)),
  );
  if (matching.length === 0) return { error: entraErrors.noMatchingAudience(audiences.join(",")) };
  if (!matching.some((c) => c.effectiveFromMs <= nowMs)) {
    return { error: entraErrors.noMatchingRecord(iss, sub, audiences.join(",")) };
  }

  return ctx.signer.mint({
    tenantId: tenant.tenantId,
    clientId: app.clientId,
    servicePrincipalObjectId: app.servicePrincipalObjectId,
    nowMs,
    lifetimeSeconds: ctx.accessTokenLifetimeSeconds(),
  });
}

function checkScope(scope: string, tenantSegment: string): EntraError | undefined {
  const scopes = scope.split(" ").filter(Boolean);
  if (scopes.length !== 1) return entraErrors.invalidScope(scope);
  const [only = ""] = scopes;
  if (!only.endsWith("/.default")) return entraErrors.scopeWithoutDefault(only);
  const resource = only.slice(0, -"/.default".length).replace(/\/$/, "");
  const storage =
    resource === storageResource ||
    /^https:\/\/[a-z0-9]{3,24}\.blob\.core\.windows\.net$/.test(resource);
  return storage ? undefined : entraErrors.resourceNotFound(resource, tenantSegment);
}

function signatureError(failure: SignatureFailure): EntraError {
  switch (failure.kind) {
    case "malformed":
      return entraErrors.malformedAssertion();
    case "unsupported_alg":
      return entraErrors.unsupportedAlgorithm(failure.alg);
    case "metadata_failed":
      return entraErrors.issuerMetadataFailed(failure.detail);
    case "key_not_found":
      return entraErrors.signatureInvalid("The key was not found.", failure.kid);
    case "bad_signature":
      return entraErrors.signatureInvalid(
        "The provided signature value did not match the expected signature value.",
        failure.kid,
      );
  }
}

/** The tenant metadata document, laid out like login.microsoftonline.com's. */
function openIdConfiguration(origin: string, tenantId: string) {
  const base = `${origin}/${tenantId}`;
  return {
    token_endpoint: `${base}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: [
      "client_secret_post",
      "private_key_jwt",
      "client_secret_basic",
    ],
    jwks_uri: `${base}/discovery/v2.0/keys`,
    response_modes_supported: ["query", "fragment", "form_post"],
    subject_types_supported: ["pairwise"],
    id_token_signing_alg_values_supported: ["RS256"],
    response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
    scopes_supported: ["openid", "profile", "email", "offline_access"],
    issuer: `${base}/v2.0`,
    request_uri_parameter_supported: false,
    authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${base}/oauth2/v2.0/logout`,
    claims_supported: [
      "sub",
      "iss",
      "cloud_instance_name",
      "cloud_instance_host_name",
      "cloud_graph_host_name",
      "msgraph_host",
      "aud",
      "exp",
      "iat",
      "auth_time",
      "acr",
      "nonce",
      "preferred_username",
      "name",
      "tid",
      "ver",
      "at_hash",
      "c_hash",
      "email",
    ],
    tenant_region_scope: "EU",
    cloud_instance_name: "microsoftonline.com",
    cloud_graph_host_name: "graph.windows.net",
    msgraph_host: "graph.microsoft.com",
    rbac_url: "https://pas.windows.net",
  };
}
