/**
 * Entra ID (AADSTS) error answers: the OAuth error envelope Entra returns from its token and
 * metadata endpoints, with the codes and texts observed from the real service (see
 * shared/research/cloud-federation-protocols.md §3.3). Clients should match on the code; texts
 * are copied from public reports and marked where they are a best reconstruction.
 */
import { randomUUID } from "node:crypto";

/** One Entra refusal before it is rendered. */
export interface EntraError {
  status: number;
  error: string;
  code: number;
  description: string;
}

const ficDocs = "https://learn.microsoft.com/entra/workload-id/workload-identity-federation";

/** Builders for every AADSTS answer the emulator gives. */
export const entraErrors = {
  tenantNotFound: (tenant: string): EntraError => ({
    status: 400,
    error: "invalid_tenant",
    code: 90002,
    description: `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
  }),
  missingParameter: (name: string): EntraError => ({
    status: 400,
    error: "invalid_request",
    code: 900144,
    description: `The request body must contain the following parameter: '${name}'.`,
  }),
  unsupportedGrantType: (grant: string): EntraError => ({
    status: 400,
    error: "unsupported_grant_type",
    code: 70003,
    description: `The app requested an unsupported grant type '${grant}'.`,
  }),
  applicationNotFound: (clientId: string, tenant: string): EntraError => ({
    status: 400,
    error: "unauthorized_client",
    code: 700016,
    description: `Application with identifier '${clientId}' was not found in the directory '${tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
  }),
  invalidScope: (scope: string): EntraError => ({
    status: 400,
    error: "invalid_scope",
    code: 70011,
    description: `The provided value for the input parameter 'scope' is not valid. The scope ${scope} is not valid.`,
  }),
  scopeWithoutDefault: (scope: string): EntraError => ({
    status: 400,
    error: "invalid_scope",
    code: 1002012,
    description: `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
  }),
  resourceNotFound: (resource: string, tenant: string): EntraError => ({
    status: 400,
    error: "invalid_resource",
    code: 500011,
    description: `The resource principal named ${resource} was not found in the tenant named ${tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
  }),
  missingClientCredential: (): EntraError => ({
    status: 401,
    error: "invalid_client",
    code: 7000218,
    description:
      "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
  }),
  malformedAssertion: (): EntraError => ({
    status: 400,
    error: "invalid_request",
    code: 50027,
    description: "JWT token is invalid or malformed.",
  }),
  unsupportedAlgorithm: (alg: string): EntraError => ({
    status: 401,
    error: "invalid_client",
    code: 5002738,
    description: `Invalid JWT token. '${alg}' is not a supported signature algorithm.`,
  }),
  issuerMetadataFailed: (detail: string): EntraError => ({
    status: 401,
    error: "invalid_client",
    code: 50166,
    description: `Request to External OIDC endpoint failed. ${detail}`,
  }),
  signatureInvalid: (reason: string, kid: string): EntraError => ({
    status: 401,
    error: "invalid_client",
    code: 50013,
    description: `Assertion failed signature validation. [Reason - ${reason}, Thumbprint of key used by client: '${kid}']`,
  }),
  assertionOutsideTimeRange: (nowMs: number, nbfMs: number, expMs: number): EntraError => ({
    status: 401,
    error: "invalid_client",
    code: 700024,
    description: `Client assertion is not within its valid time range. Current time: ${dotnetTime(nowMs)}, assertion valid from ${dotnetTime(nbfMs)}, expiry time of assertion ${dotnetTime(expMs)}. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials .`,
  }),
  noMatchingIssuer: (issuer: string): EntraError => ({
    status: 401,
    error: "invalid_client",
    code: 700211,
    description: `No matching federated identity record found for presented assertion issuer '${issuer}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. ${ficDocs}`,
  }),
  noMatchingAudience: (audience: string): EntraError => ({
    status: 401,
    error: "invalid_client",
    code: 700212,
    description: `No matching federated identity record found for presented assertion audience '${audience}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. ${ficDocs}`,
  }),
  noMatchingSubject: (subject: string): EntraError => ({
    status: 401,
    error: "invalid_client",
    code: 700213,
    description: `No matching federated identity record found for presented assertion subject '${subject}'. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. ${ficDocs}`,
  }),
  noMatchingRecord: (issuer: string, subject: string, audience: string): EntraError => ({
    status: 400,
    error: "invalid_request",
    code: 70021,
    description: `No matching federated identity record found for presented assertion. Assertion Issuer: '${issuer}'. Assertion Subject: '${subject}'. Assertion Audience: '${audience}'. https://docs.microsoft.com/en-us/azure/active-directory/develop/workload-identity-federation`,
  }),
  transient: (): EntraError => ({
    status: 503,
    error: "temporarily_unavailable",
    code: 90033,
    description: "A transient error has occurred. Please try again.",
  }),
} as const;

/** Renders the JSON body Entra sends, with trace/correlation ids and timestamp in the text. */
export function entraErrorBody(err: EntraError, nowMs: number, correlationId: string | undefined) {
  const traceId = randomUUID();
  const correlation = correlationId ?? randomUUID();
  const timestamp = new Date(nowMs)
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d{3}Z$/, "Z");
  return {
    error: err.error,
    error_description: `AADSTS${err.code}: ${err.description} Trace ID: ${traceId} Correlation ID: ${correlation} Timestamp: ${timestamp}`,
    error_codes: [err.code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlation,
    error_uri: `https://login.microsoftonline.com/error?code=${err.code}`,
  };
}

/** .NET round-trip time format ("2024-05-02T10:00:00.0000000Z") that Entra prints. */
function dotnetTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$10000Z");
}
