/**
 * Google's error bodies, one builder per API family. Texts marked "observed" are reproduced
 * verbatim from Google's real answers; the others are plausible inventions that clients should
 * not parse (they match on codes).
 */

/** STS (OAuth 2.0 style) error body. */
export interface OAuthErrorBody {
  error: string;
  error_description: string;
}

/** Builds an STS error body. */
export function oauthError(error: string, description: string): OAuthErrorBody {
  return { error, error_description: description };
}

/** Observed STS texts. */
export const STS_TEXT = {
  malformedAudience:
    'Invalid value for "audience". This value should be the full resource name of the Identity Provider. See https://cloud.google.com/iam/docs/reference/sts/rest/v1/TopLevel/token for the list of possible formats.',
  invalidTarget:
    'The target service indicated by the "audience" parameters is invalid. This might either be because the pool or provider is disabled or deleted or because it doesn\'t exist.',
  audienceMismatch: (aud: string) =>
    `The audience in ID Token [${aud}] does not match the expected audience.`,
  conditionRejected: "The given credential is rejected by the attribute condition.",
  subjectTooLong: "The size of mapped attribute exceeds the 127 bytes limit.",
};

/** google.rpc.Status style body used by IAM Credentials (and generic Google APIs). */
export interface RpcErrorBody {
  error: { code: number; message: string; status: string; details?: unknown[] };
}

/** Builds a google.rpc.Status error body. */
export function rpcError(
  code: number,
  status: string,
  message: string,
  details?: unknown[],
): RpcErrorBody {
  return { error: { code, message, status, ...(details ? { details } : {}) } };
}

/** Observed "no/invalid credentials" texts shared by Google APIs. */
export const AUTH_TEXT = {
  missing:
    "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
  invalid:
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
  insufficientScopes: "Request had insufficient authentication scopes.",
};

/** IAM Credentials' denial when the caller may not mint tokens for the service account (observed). */
export function getAccessTokenDenied(): RpcErrorBody {
  return rpcError(
    403,
    "PERMISSION_DENIED",
    "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).",
    [
      {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        reason: "IAM_PERMISSION_DENIED",
        domain: "iam.googleapis.com",
        metadata: { permission: "iam.serviceAccounts.getAccessToken" },
      },
    ],
  );
}

/** GCS JSON API error body. */
export interface GcsErrorBody {
  error: {
    code: number;
    message: string;
    errors: {
      message: string;
      domain: string;
      reason: string;
      locationType?: string;
      location?: string;
    }[];
  };
}

/** Builds a GCS JSON API error body. */
export function gcsError(
  code: number,
  reason: string,
  message: string,
  extra: { locationType?: string; location?: string } = {},
): GcsErrorBody {
  return { error: { code, message, errors: [{ message, domain: "global", reason, ...extra }] } };
}

/** Status → (reason, message) for injected server-side faults. */
export function injectedFault(status: number): {
  reason: string;
  message: string;
  rpcStatus: string;
} {
  switch (status) {
    case 429:
      return {
        reason: "rateLimitExceeded",
        message:
          "The rate of change requests to the object exceeds the rate limit. Please reduce the rate of create, update, and delete requests.",
        rpcStatus: "RESOURCE_EXHAUSTED",
      };
    case 500:
      return { reason: "backendError", message: "Internal Error", rpcStatus: "INTERNAL" };
    default:
      return { reason: "backendError", message: "Backend Error", rpcStatus: "UNAVAILABLE" };
  }
}
