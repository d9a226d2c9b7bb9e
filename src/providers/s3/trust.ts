/**
 * What an S3 customer's role trusts (docs/security.md): the relay's AWS account, with the
 * workspace's ExternalId, for sessions as long as the relay's AssumeRole asks.
 */
import type { RelayTrust } from "../../domain/trust.ts";

/** Audience of relay tokens presented to AWS STS (docs/security.md, tokens the relay mints). */
export const AWS_WEB_IDENTITY_AUDIENCE = "sts.amazonaws.com";

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
