/**
 * The GCS confused-deputy self-check (docs/security.md): a relay token for another Workspace ID
 * (same issuer and audience, another `sub` and `customer_id`) must be refused by GCP STS. If STS
 * exchanges it, the pool provider's attribute condition does not pin the customer's Workspace ID,
 * and only the service account's IAM binding stands between another customer of the relay and
 * this bucket.
 */
import { randomUUID } from "node:crypto";
import { fetch } from "undici";
import { type MintToken, sharedDispatcher } from "../../destinations/adapter.ts";
import type { SafetyCheck } from "../../destinations/contract.ts";
import { messageOf } from "../../destinations/network.ts";
import { GCS_SCOPES } from "./credentials.ts";
import type { GcsAdapterSettings } from "./settings.ts";
import type { GcsStorage } from "./storage.ts";
import { audienceOf } from "./trust.ts";

/** Runs the check for one workspace's GCS destination. */
export async function checkGcsSafety(
  inputs: {
    destination: GcsStorage;
    workspaceId: string;
    settings: GcsAdapterSettings;
    mintToken: MintToken;
  },
  signal: AbortSignal,
): Promise<SafetyCheck> {
  const { destination, settings } = inputs;
  const audience = audienceOf(destination);
  const provider = `${destination.workload_identity_pool_id}/${destination.workload_identity_provider_id}`;
  let status: number;
  let body: { error?: string; error_description?: string };
  try {
    const subjectToken = await inputs.mintToken({ workspaceId: randomUUID(), audience, signal });
    const dispatcher = sharedDispatcher(settings.gcp.stsTokenUrl, settings.extraCaPem);
    const response = await fetch(settings.gcp.stsTokenUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
        audience,
        scope: GCS_SCOPES.join(" "),
        requested_token_type: "urn:ietf:params:oauth:token-type:access_token",
        subject_token: subjectToken,
        subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
      }).toString(),
      signal: AbortSignal.any([signal, AbortSignal.timeout(settings.requestTimeoutMs)]),
      ...(dispatcher ? { dispatcher } : {}),
    });
    status = response.status;
    body = (await response.json().catch(() => ({}))) as typeof body;
  } catch (error) {
    return { status: "skip", message: `the check could not run: ${messageOf(error)}` };
  }
  if (status === 200) {
    return {
      status: "warn",
      cloud_code: "accepted",
      message: `GCP STS exchanged a relay token for another Workspace ID at provider ${provider}: its attribute condition does not pin your Workspace ID`,
      hint: `set the provider's attribute condition to assertion.customer_id == "${inputs.workspaceId}" (GET /v2/recording-storage/setup/gcs shows it)`,
    };
  }
  if (status >= 400 && status < 500 && status !== 429) {
    return {
      status: "pass",
      cloud_code: body.error ?? String(status),
      message: `GCP STS refused a relay token for another Workspace ID at provider ${provider}: its attribute condition pins your Workspace ID`,
    };
  }
  return {
    status: "skip",
    cloud_code: body.error ?? String(status),
    message: `the check could not run: GCP STS answered ${status}${body.error_description ? ` (${body.error_description})` : ""}`,
  };
}
