/** What a GCS customer's Workload Identity pool provider trusts (docs/security.md). */
import type { GcsStorage } from "./storage.ts";

/** The GCP audience of relay tokens for a pool provider: its full resource name. */
export function gcpAudience(projectNumber: string, poolId: string, providerId: string): string {
  return `//iam.googleapis.com/projects/${projectNumber}/locations/global/workloadIdentityPools/${poolId}/providers/${providerId}`;
}

/** The audience of relay tokens for this destination's pool provider. */
export function audienceOf(destination: GcsStorage): string {
  return gcpAudience(
    destination.project_number,
    destination.workload_identity_pool_id,
    destination.workload_identity_provider_id,
  );
}
