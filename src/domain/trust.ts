/**
 * What the relay asks customers to trust (SPEC §1, §6): its OIDC issuer, and for S3 its AWS
 * account with an ExternalId. One value object, built from configuration by `bin`, read by the
 * routes, the setup generators and (later) the cloud adapters, so every place states the same trust.
 */

/** The operator's trust settings. */
export interface RelayTrust {
  /** The exact `iss` of every token (no trailing slash). */
  issuerUrl: string;
  /** The operator's AWS account; S3 destinations are unavailable without it. */
  awsAccountId: string | undefined;
  /** `workspace`: the ExternalId is the Workspace ID; `fixed`: `awsExternalId` for everyone. */
  awsExternalIdMode: "workspace" | "fixed";
  awsExternalId: string | undefined;
  /** DurationSeconds of AssumeRole; the customer's role MaxSessionDuration must be at least this. */
  awsRoleSessionSeconds: number;
}

/** Audience of tokens for Azure federated credentials (a fixed value Entra requires). */
export const AZURE_TOKEN_AUDIENCE = "api://AzureADTokenExchange";

/** The ExternalId a workspace's role trust policy must require. */
export function externalIdFor(trust: RelayTrust, workspaceId: string): string {
  if (trust.awsExternalIdMode === "workspace") return workspaceId;
  if (trust.awsExternalId === undefined) {
    throw new Error("awsExternalId is required when awsExternalIdMode is fixed");
  }
  return trust.awsExternalId;
}

/** MaxSessionDuration the customer's role needs: AWS's minimum is one hour. */
export function requiredMaxSessionSeconds(trust: RelayTrust): number {
  return Math.max(3600, trust.awsRoleSessionSeconds);
}

/** The GCP audience of our tokens for a pool provider (SPEC §6): its full resource name. */
export function gcpAudience(projectNumber: string, poolId: string, providerId: string): string {
  return `//iam.googleapis.com/projects/${projectNumber}/locations/global/workloadIdentityPools/${poolId}/providers/${providerId}`;
}
