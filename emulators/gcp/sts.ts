/**
 * GCP Security Token Service `POST /v1/token`: RFC 8693 token exchange of an external OIDC token
 * for a federated access token, validated as a Workload Identity pool provider does.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { decodeJwt, decodeProtectedHeader, type JSONWebKeySet } from "jose";
import { BodyTooLargeError, mediaType, readSmallBody, sendJson } from "../shared/http.ts";
import type { OidcKeyCache, SignatureFailure } from "../shared/oidc-keys.ts";
import { type CelValue, runCel } from "./cel.ts";
import { type CustomerModel, type OidcProvider, providerResourceName } from "./config.ts";
import type { FaultInjector } from "./faults.ts";
import { type OAuthErrorBody, oauthError, STS_TEXT } from "./google-errors.ts";
import type { FederatedPrincipal } from "./principals.ts";
import type { TokenRegistry } from "./tokens.ts";

const GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
const SUBJECT_TOKEN_TYPES = [
  "urn:ietf:params:oauth:token-type:jwt",
  "urn:ietf:params:oauth:token-type:id_token",
];
const MAX_TOKEN_WINDOW_SECONDS = 48 * 3600;
const MAX_FEDERATED_LIFETIME_SECONDS = 3600;
const CLOCK_SKEW_SECONDS = 60;
/** Google STS accepts only these subject-token algorithms. */
export const SUBJECT_TOKEN_ALGORITHMS = ["RS256", "ES256"];
const AUDIENCE_PATTERN =
  /^\/\/iam\.googleapis\.com\/projects\/([^/]+)\/locations\/global\/workloadIdentityPools\/([^/]+)\/providers\/([^/]+)$/;

/** What the STS handler needs. */
export interface StsDeps {
  model: CustomerModel;
  keys: OidcKeyCache;
  tokens: TokenRegistry;
  faults: FaultInjector;
  now: () => number;
  /** Whether an http (not https) issuer URI is acceptable. */
  allowHttpIssuer: (url: URL) => boolean;
}

/** The token-exchange parameters, from a form or a JSON body. */
export interface StsRequest {
  grantType?: string;
  audience?: string;
  scope?: string;
  requestedTokenType?: string;
  subjectToken?: string;
  subjectTokenType?: string;
}

/** The outcome of an exchange. */
export type StsOutcome =
  | {
      ok: true;
      body: {
        access_token: string;
        issued_token_type: string;
        token_type: "Bearer";
        expires_in: number;
      };
    }
  | { ok: false; status: number; body: OAuthErrorBody };

const fail = (error: string, description: string, status = 400): StsOutcome => ({
  ok: false,
  status,
  body: oauthError(error, description),
});

/** Serves `POST /v1/token`. */
export async function handleStsToken(
  req: IncomingMessage,
  res: ServerResponse,
  deps: StsDeps,
): Promise<void> {
  let params: StsRequest;
  try {
    params = parseStsBody(mediaType(req), await readSmallBody(req));
  } catch (error) {
    if (error instanceof BodyTooLargeError)
      return sendJson(res, 413, oauthError("invalid_request", error.message));
    const message = error instanceof Error ? error.message : String(error);
    return sendJson(res, 400, oauthError("invalid_request", message));
  }
  const outcome = await exchangeToken(params, deps);
  sendJson(res, outcome.ok ? 200 : outcome.status, outcome.body, { "cache-control": "no-store" });
}

/** Reads the exchange parameters: snake_case form fields, or JSON with camelCase or snake_case. */
export function parseStsBody(type: string, body: Buffer): StsRequest {
  let get: (snake: string, camel: string) => string | undefined;
  if (type === "application/x-www-form-urlencoded") {
    const form = new URLSearchParams(body.toString("utf8"));
    get = (snake) => form.get(snake) ?? undefined;
  } else if (type === "application/json") {
    let json: unknown;
    try {
      json = JSON.parse(body.toString("utf8"));
    } catch {
      throw new Error("Invalid JSON payload received.");
    }
    if (typeof json !== "object" || json === null)
      throw new Error("Invalid JSON payload received.");
    const record = json as Record<string, unknown>;
    get = (snake, camel) => {
      const value = record[camel] ?? record[snake];
      return typeof value === "string" ? value : undefined;
    };
  } else {
    throw new Error(
      `Unsupported content type [${type || "none"}]; send application/x-www-form-urlencoded or JSON.`,
    );
  }
  return {
    grantType: get("grant_type", "grantType"),
    audience: get("audience", "audience"),
    scope: get("scope", "scope"),
    requestedTokenType: get("requested_token_type", "requestedTokenType"),
    subjectToken: get("subject_token", "subjectToken"),
    subjectTokenType: get("subject_token_type", "subjectTokenType"),
  };
}

/** Validates the request and the subject token; issues a federated token on success. */
export async function exchangeToken(params: StsRequest, deps: StsDeps): Promise<StsOutcome> {
  if (params.grantType !== GRANT_TYPE) {
    return fail(
      "invalid_request",
      `Invalid value for "grant_type". The only supported value is ${GRANT_TYPE}.`,
    );
  }
  if (params.requestedTokenType !== ACCESS_TOKEN_TYPE) {
    return fail(
      "invalid_request",
      `Invalid value for "requested_token_type". The only supported value is ${ACCESS_TOKEN_TYPE}.`,
    );
  }
  if (!params.subjectTokenType || !SUBJECT_TOKEN_TYPES.includes(params.subjectTokenType)) {
    return fail(
      "invalid_request",
      `Invalid value for "subject_token_type". Supported values for OIDC providers: ${SUBJECT_TOKEN_TYPES.join(", ")}.`,
    );
  }
  if (!params.subjectToken)
    return fail("invalid_request", 'The "subject_token" parameter is required.');
  const audienceMatch = AUDIENCE_PATTERN.exec(params.audience ?? "");
  if (!audienceMatch) return fail("invalid_request", STS_TEXT.malformedAudience);
  const [, projectNumber, poolId, providerId] = audienceMatch as unknown as [
    string,
    string,
    string,
    string,
  ];
  const project = deps.model.projects.find((p) => p.projectNumber === projectNumber);
  const pool = project?.workloadIdentityPools.find((p) => p.poolId === poolId);
  const provider = pool?.providers.find((p) => p.providerId === providerId);
  if (!pool || !provider || pool.disabled || provider.disabled) {
    return fail("invalid_target", STS_TEXT.invalidTarget);
  }
  const scopes = (params.scope ?? "").split(" ").filter(Boolean);
  if (scopes.length === 0) return fail("invalid_request", 'The "scope" parameter is required.');

  const claims = await verifySubjectToken(params.subjectToken, provider, deps);
  if (!claims.ok) return fail("invalid_grant", claims.description);
  const payload = claims.payload;

  const audiences =
    typeof payload.aud === "string" ? [payload.aud] : Array.isArray(payload.aud) ? payload.aud : [];
  const resourceName = providerResourceName(projectNumber, poolId, providerId);
  const accepted =
    provider.allowedAudiences.length > 0
      ? provider.allowedAudiences
      : [resourceName, `https:${resourceName}`];
  if (!audiences.some((aud) => typeof aud === "string" && accepted.includes(aud))) {
    return fail("invalid_grant", STS_TEXT.audienceMismatch(audiences.join(", ")));
  }

  const mapped = mapAttributes(provider, payload);
  if (!mapped.ok) return fail("invalid_grant", mapped.description);
  if (provider.attributeCondition !== undefined) {
    const verdict = runCel(provider.attributeCondition, {
      assertion: payload,
      google: { subject: mapped.subject, groups: mapped.groups },
      attribute: mapped.attributes,
    });
    if (!verdict.ok || verdict.value !== true)
      return fail("unauthorized_client", STS_TEXT.conditionRejected);
  }

  const principal: FederatedPrincipal = {
    kind: "federated",
    projectNumber,
    poolId,
    providerId,
    subject: mapped.subject,
    attributes: mapped.attributes,
    groups: mapped.groups,
  };
  const nowSeconds = Math.floor(deps.now() / 1000);
  const lifetimeSeconds = Math.min(
    MAX_FEDERATED_LIFETIME_SECONDS,
    (payload.exp as number) - nowSeconds,
  );
  const issued = deps.tokens.issue(
    "ya29.d.emu_",
    principal,
    scopes,
    lifetimeSeconds * 1000,
    deps.faults.tokenLifetimeCapMs(),
  );
  return {
    ok: true,
    body: {
      access_token: issued.token,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: "Bearer",
      expires_in: lifetimeSeconds,
    },
  };
}

type ClaimCheck =
  | { ok: true; payload: Record<string, CelValue> }
  | { ok: false; description: string };

async function verifySubjectToken(
  token: string,
  provider: OidcProvider,
  deps: StsDeps,
): Promise<ClaimCheck> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  let unverified: ReturnType<typeof decodeJwt>;
  try {
    header = decodeProtectedHeader(token);
    unverified = decodeJwt(token);
  } catch {
    return { ok: false, description: "Invalid ID Token: the subject token is not a valid JWT." };
  }
  if (typeof header.alg !== "string" || !SUBJECT_TOKEN_ALGORITHMS.includes(header.alg)) {
    return {
      ok: false,
      description: `Invalid ID Token: unsupported signing algorithm [${String(header.alg)}]; only RS256 and ES256 are supported.`,
    };
  }
  if (typeof header.kid !== "string" || header.kid === "") {
    return { ok: false, description: "Invalid ID Token: the JWT header must contain a kid." };
  }
  // The issuer is compared before anything is fetched, so a foreign issuer is never contacted.
  if (unverified.iss !== provider.issuerUri) {
    return {
      ok: false,
      description: `The issuer in ID Token [${String(unverified.iss)}] does not match the expected issuer [${provider.issuerUri}].`,
    };
  }
  const issuerUrl = new URL(provider.issuerUri);
  if (
    issuerUrl.protocol !== "https:" &&
    !(issuerUrl.protocol === "http:" && deps.allowHttpIssuer(issuerUrl))
  ) {
    return { ok: false, description: `The issuer URI [${provider.issuerUri}] must use https.` };
  }
  let uploaded: JSONWebKeySet | undefined;
  if (provider.jwksJson !== undefined) uploaded = JSON.parse(provider.jwksJson) as JSONWebKeySet;
  const signature = await deps.keys.verify(token, provider.issuerUri, uploaded);
  if (!signature.ok) return { ok: false, description: signatureText(signature.failure) };
  const payload = signature.payload as Record<string, CelValue>;
  const now = Math.floor(deps.now() / 1000);
  const { iat, exp, nbf, sub } = payload;
  if (typeof sub !== "string" || sub === "")
    return { ok: false, description: "Invalid ID Token: the sub claim is required." };
  if (typeof iat !== "number")
    return { ok: false, description: "Invalid ID Token: the iat claim is required." };
  if (typeof exp !== "number")
    return { ok: false, description: "Invalid ID Token: the exp claim is required." };
  if (iat > now + CLOCK_SKEW_SECONDS) {
    return { ok: false, description: `ID Token issued at ${iat} is in the future (now ${now}).` };
  }
  if (exp <= now) return { ok: false, description: `ID Token expired at ${exp} (now ${now}).` };
  if (exp - iat >= MAX_TOKEN_WINDOW_SECONDS) {
    return {
      ok: false,
      description: `ID Token lifetime is too long: exp ${exp} must be less than 48 hours after iat ${iat}.`,
    };
  }
  if (typeof nbf === "number" && nbf > now + CLOCK_SKEW_SECONDS) {
    return { ok: false, description: `ID Token is not valid before ${nbf} (now ${now}).` };
  }
  return { ok: true, payload };
}

type Mapping =
  | { ok: true; subject: string; attributes: Record<string, string>; groups: string[] }
  | { ok: false; description: string };

function mapAttributes(provider: OidcProvider, assertion: Record<string, CelValue>): Mapping {
  const attributes: Record<string, string> = {};
  let subject: string | undefined;
  let groups: string[] = [];
  for (const [target, expression] of Object.entries(provider.attributeMapping)) {
    const result = runCel(expression, { assertion });
    if (target === "google.subject") {
      if (!result.ok || typeof result.value !== "string" || result.value === "") {
        return {
          ok: false,
          description: "The mapped attribute google.subject must be a non-empty string.",
        };
      }
      if (Buffer.byteLength(result.value) > 127)
        return { ok: false, description: STS_TEXT.subjectTooLong };
      subject = result.value;
    } else if (target === "google.groups") {
      if (!result.ok) continue;
      if (!Array.isArray(result.value) || !result.value.every((g) => typeof g === "string")) {
        return {
          ok: false,
          description: "The mapped attribute google.groups must be a list of strings.",
        };
      }
      groups = result.value as string[];
    } else {
      // A claim the token does not carry leaves the attribute unset; the condition decides.
      if (!result.ok) continue;
      if (typeof result.value !== "string") {
        return { ok: false, description: `The mapped attribute ${target} must be a string.` };
      }
      attributes[target.slice("attribute.".length)] = result.value;
    }
  }
  return { ok: true, subject: subject!, attributes, groups };
}

function signatureText(failure: SignatureFailure): string {
  switch (failure.kind) {
    case "malformed":
      return "Invalid ID Token: the token could not be parsed.";
    case "unsupported_alg":
      return `Invalid ID Token: unsupported signing algorithm [${failure.alg}]; only RS256 and ES256 are supported.`;
    case "metadata_failed":
      return failure.detail;
    case "key_not_found":
      return "Invalid ID Token: no key in the issuer's JWKS matches the token's kid and alg.";
    case "bad_signature":
      return "Invalid ID Token: the signature could not be verified.";
  }
}
