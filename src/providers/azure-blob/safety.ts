/**
 * The Azure confused-deputy self-check (docs/security.md): a relay token for another Workspace ID
 * (another `sub`) must be refused by Entra ID for the customer's App Registration. Entra matches a
 * federated credential's issuer, subject and audience exactly, so a credential made by the setup
 * guide passes by construction; the check catches an app that also trusts other subjects (a
 * flexible federated credential whose claims-matching expression admits them, or a second
 * credential for another subject of the relay's issuer).
 */
import { randomUUID } from "node:crypto";
import { fetch } from "undici";
import { type MintToken, sharedDispatcher } from "../../destinations/adapter.ts";
import type { SafetyCheck } from "../../destinations/contract.ts";
import { messageOf } from "../../destinations/network.ts";
import { STORAGE_SCOPE } from "./credentials.ts";
import type { AzureBlobAdapterSettings } from "./settings.ts";
import type { AzureBlobStorage } from "./storage.ts";
import { AZURE_TOKEN_AUDIENCE } from "./trust.ts";

/** Runs the check for one workspace's Azure Blob destination. */
export async function checkAzureSafety(
  inputs: {
    destination: AzureBlobStorage;
    workspaceId: string;
    settings: AzureBlobAdapterSettings;
    mintToken: MintToken;
  },
  signal: AbortSignal,
): Promise<SafetyCheck> {
  const { destination, settings } = inputs;
  const authority = settings.azure.authorityHost.replace(/\/$/, "");
  const url = `${authority}/${encodeURIComponent(destination.tenant_id)}/oauth2/v2.0/token`;
  let status: number;
  let body: { error?: string; error_codes?: number[] };
  try {
    const assertion = await inputs.mintToken({
      workspaceId: randomUUID(),
      audience: AZURE_TOKEN_AUDIENCE,
      signal,
    });
    const dispatcher = sharedDispatcher(authority, settings.extraCaPem);
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "client_credentials",
        client_id: destination.client_id,
        scope: STORAGE_SCOPE,
        client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion: assertion,
      }).toString(),
      signal: AbortSignal.any([signal, AbortSignal.timeout(settings.requestTimeoutMs)]),
      ...(dispatcher ? { dispatcher } : {}),
    });
    status = response.status;
    body = (await response.json().catch(() => ({}))) as typeof body;
  } catch (error) {
    return { status: "skip", message: `the check could not run: ${messageOf(error)}` };
  }
  const code = body.error_codes?.[0]
    ? `AADSTS${body.error_codes[0]}`
    : (body.error ?? String(status));
  if (status === 200) {
    return {
      status: "warn",
      cloud_code: "accepted",
      message: `Entra ID issued a token for app ${destination.client_id} to a relay token for another Workspace ID: a federated credential of the app admits subjects other than yours`,
      hint: `keep one federated credential with subject "${inputs.workspaceId}" for the relay's issuer and remove any other (or any claims-matching expression) that admits other subjects`,
    };
  }
  if (status >= 400 && status < 500 && status !== 429) {
    return {
      status: "pass",
      cloud_code: code,
      message: `Entra ID refused a relay token for another Workspace ID for app ${destination.client_id}: its federated credential pins your Workspace ID`,
    };
  }
  return {
    status: "skip",
    cloud_code: code,
    message: `the check could not run: Entra ID answered ${status}`,
  };
}
