/**
 * Entra ID access tokens for one customer App Registration: `ClientAssertionCredential` whose
 * assertion is a fresh relay token (audience `api://AzureADTokenExchange`) each time MSAL asks.
 * MSAL caches the access token until shortly before expiry, so one exchange serves every upload.
 */

import type { Agent } from "node:https";
import { ClientAssertionCredential } from "@azure/identity";
import { fetch } from "undici";
import type { IdentityExchangeObserver } from "../../destinations/adapter.ts";
import { type MintToken, sharedDispatcher, sharedHttpsAgent } from "../../destinations/adapter.ts";
import { messageOf, networkErrorCode } from "../../destinations/network.ts";
import type { AzureBlobAdapterSettings } from "./settings.ts";
import type { AzureBlobStorage } from "./storage.ts";
import { AZURE_TOKEN_AUDIENCE } from "./trust.ts";

/** The OAuth scope of Blob Storage. */
export const STORAGE_SCOPE = "https://storage.azure.com/.default";

/** Authority hosts MSAL knows; others (emulators, private clouds) skip instance discovery. */
const knownAuthorityHosts = new Set([
  "login.microsoftonline.com",
  "login.microsoftonline.us",
  "login.chinacloudapi.cn",
]);

/** What building the Azure credential of a workspace needs. */
export interface AzureCredentialInputs {
  destination: AzureBlobStorage;
  workspaceId: string;
  settings: AzureBlobAdapterSettings;
  mintToken: MintToken;
}

/**
 * With an extra CA, the process's keep-alive agent for `endpoint` trusting it on top of the
 * built-in roots, shared by every Azure client; without one, the SDKs' own shared default client.
 */
export function agentOptionsOf(
  settings: AzureBlobAdapterSettings,
  endpoint: string,
): { agent?: Agent } {
  return settings.extraCaPem ? { agent: sharedHttpsAgent(endpoint, settings.extraCaPem) } : {};
}

/** The retry policy of both Azure SDKs, from the adapter settings. */
export function azureRetryOptions(settings: AzureBlobAdapterSettings) {
  return {
    maxRetries: settings.maxAttempts - 1,
    retryDelayInMs: settings.retryBaseDelayMs,
    maxRetryDelayInMs: 20_000,
  };
}

/** The credential of a workspace's App Registration. */
export function createAzureCredential(inputs: AzureCredentialInputs): ClientAssertionCredential {
  const { destination, settings } = inputs;
  const authorityHost = settings.azure.authorityHost;
  return new ClientAssertionCredential(
    destination.tenant_id,
    destination.client_id,
    async () =>
      await inputs.mintToken({ workspaceId: inputs.workspaceId, audience: AZURE_TOKEN_AUDIENCE }),
    {
      authorityHost,
      // Instance discovery asks login.microsoftonline.com about the authority: only for known clouds.
      disableInstanceDiscovery: !knownAuthorityHosts.has(new URL(authorityHost).hostname),
      retryOptions: azureRetryOptions(settings),
      ...agentOptionsOf(settings, authorityHost),
    },
  );
}

/** The blob service URL of a storage account from the endpoint template. */
export function blobServiceUrl(settings: AzureBlobAdapterSettings, account: string): string {
  return settings.azure.blobEndpointTemplate.replaceAll("{account}", account).replace(/\/$/, "");
}

/**
 * MSAL reports any failure of the tenant's metadata request as `endpoints_resolution_error`,
 * hiding Entra's answer (an unknown tenant is AADSTS90002 there). Fetching the same document tells
 * a wrong tenant_id apart from an outage, and names a network failure (`ENOTFOUND` for an authority
 * host that does not resolve). Undefined: the metadata is fine (or Entra is down).
 */
export async function diagnoseAuthority(
  settings: AzureBlobAdapterSettings,
  tenantId: string,
  signal: AbortSignal,
): Promise<{ code: string; message: string; httpStatus: number | undefined } | undefined> {
  const dispatcher = sharedDispatcher(settings.azure.authorityHost, settings.extraCaPem);
  const url = `${settings.azure.authorityHost.replace(/\/$/, "")}/${encodeURIComponent(tenantId)}/v2.0/.well-known/openid-configuration`;
  try {
    const response = await fetch(url, {
      signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]),
      ...(dispatcher ? { dispatcher } : {}),
    });
    if (response.ok || response.status >= 500 || response.status === 429) {
      await response.body?.cancel();
      return undefined;
    }
    const body = (await response.json().catch(() => ({}))) as {
      error?: string;
      error_description?: string;
      error_codes?: number[];
    };
    const number = body.error_codes?.[0];
    return {
      code: number ? `AADSTS${number}` : (body.error ?? String(response.status)),
      message: (body.error_description ?? "").split(/\s+Trace ID:/)[0]!.trim(),
      httpStatus: response.status,
    };
  } catch (error) {
    // The authority's name does not resolve, or the connection failed: say so rather than
    // "temporarily unavailable" (both are transient; the hint differs).
    const network = networkErrorCode(error);
    return network
      ? { code: network, message: messageOf(error), httpStatus: undefined }
      : undefined;
  }
}

/** Reports every token the blob client asks of a cached Entra credential to the metrics hook. */
export function observedAzure(
  credential: ClientAssertionCredential,
  observe: IdentityExchangeObserver | undefined,
): ClientAssertionCredential {
  if (!observe) return credential;
  const getToken = credential.getToken.bind(credential);
  credential.getToken = async (...args: Parameters<typeof getToken>) => {
    try {
      const token = await getToken(...args);
      observe("azure_blob", "success");
      return token;
    } catch (error) {
      observe("azure_blob", "failure");
      throw error;
    }
  };
  return credential;
}
