/**
 * GCP access tokens for one customer service account: google-auth-library's external-account
 * client exchanges a fresh relay token (audience = the pool provider's resource name) at STS, then
 * impersonates the service account through IAM Credentials. The client caches the access token
 * and refreshes it 5 minutes before expiry, so one exchange serves every upload of an hour.
 */
import { IdentityPoolClient } from "google-auth-library";
import type { IdentityExchangeObserver, MintToken } from "../../destinations/adapter.ts";
import type { DestinationStage } from "../../destinations/contract.ts";
import { messageOf, networkErrorCode } from "../../destinations/network.ts";
import type { GcpObservedFailure } from "./errors.ts";
import type { GcsAdapterSettings } from "./settings.ts";
import type { GcsStorage } from "./storage.ts";
import { audienceOf } from "./trust.ts";

/** The OAuth scope an uploader needs (objects read/write, nothing else). */
export const GCS_SCOPES = ["https://www.googleapis.com/auth/devstorage.read_write"];

/** What building the GCP credential of a workspace needs. */
export interface GcpCredentialInputs {
  destination: GcsStorage;
  workspaceId: string;
  settings: GcsAdapterSettings;
  mintToken: MintToken;
}

/** The impersonation URL of a service account under an IAM Credentials base URL. */
export function impersonationUrl(settings: GcsAdapterSettings, email: string): string {
  return `${settings.gcp.iamCredentialsUrl.replace(/\/$/, "")}/v1/projects/-/serviceAccounts/${encodeURIComponent(email)}:generateAccessToken`;
}

/** The external-account client of a workspace's destination (v10: no storage SDK in between). */
export function createGcpAuthClient(inputs: GcpCredentialInputs): IdentityPoolClient {
  const audience = audienceOf(inputs.destination);
  return new IdentityPoolClient({
    type: "external_account",
    audience,
    subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
    token_url: inputs.settings.gcp.stsTokenUrl,
    service_account_impersonation_url: impersonationUrl(
      inputs.settings,
      inputs.destination.service_account_email,
    ),
    service_account_impersonation: { token_lifetime_seconds: 3600 },
    // Called for every exchange: a fresh token each time, never one reused past its few minutes.
    subject_token_supplier: {
      getSubjectToken: async () =>
        await inputs.mintToken({ workspaceId: inputs.workspaceId, audience }),
    },
    scopes: GCS_SCOPES,
    universe_domain: "googleapis.com",
  });
}

/** An access token for Cloud Storage, or the failure as observed (STS or impersonation stage). */
export async function gcsAccessToken(client: IdentityPoolClient): Promise<string> {
  const { token } = await client.getAccessToken();
  if (!token) throw new Error("google-auth-library returned no access token");
  return token;
}

/** What a google-auth-library failure says, and which exchange it came from. */
export function observeGcpAuthError(
  error: unknown,
  settings: GcsAdapterSettings,
): GcpObservedFailure {
  const record = (error ?? {}) as {
    message?: string;
    status?: number;
    config?: { url?: unknown };
    response?: { status?: number; data?: unknown; config?: { url?: unknown } };
  };
  const url = String(record.config?.url ?? record.response?.config?.url ?? "");
  const status = record.response?.status ?? record.status;
  const message = messageOf(error);
  const oauth = /^Error code (\S+?)(?::\s*(.*))?$/s.exec(message);
  const stage: DestinationStage =
    oauth || url.startsWith(settings.gcp.stsTokenUrl) || !url.includes(":generateAccessToken")
      ? "identity"
      : "impersonation";
  const network = networkErrorCode(error);
  if (network && status === undefined) {
    return { stage, code: network, message, httpStatus: undefined };
  }
  if (oauth) {
    return {
      stage: "identity",
      code: oauth[1]!,
      message: (oauth[2] ?? oauth[1]!).replace(/ - https?:\S+$/, ""),
      httpStatus: status,
    };
  }
  const data = record.response?.data as
    | { error?: { status?: string; message?: string } | string; error_description?: string }
    | undefined;
  if (data && typeof data.error === "object") {
    return {
      stage,
      code: data.error.status ?? String(status),
      message: data.error.message ?? message,
      httpStatus: status,
    };
  }
  if (data && typeof data.error === "string") {
    return {
      stage,
      code: data.error,
      message: data.error_description ?? message,
      httpStatus: status,
    };
  }
  return { stage, code: status ? String(status) : "UnknownError", message, httpStatus: status };
}

/**
 * Reports the exchanges of a cached GCP client to the metrics hook: a refresh (STS, then
 * impersonation) emits `tokens` when it succeeds, and getAccessToken rejects only when it failed.
 */
export function observedGcp(
  client: IdentityPoolClient,
  observe: IdentityExchangeObserver | undefined,
): IdentityPoolClient {
  if (!observe) return client;
  client.on("tokens", () => observe("gcs", "success"));
  const getAccessToken = client.getAccessToken.bind(client);
  client.getAccessToken = async () => {
    try {
      return await getAccessToken();
    } catch (error) {
      observe("gcs", "failure");
      throw error;
    }
  };
  return client;
}
