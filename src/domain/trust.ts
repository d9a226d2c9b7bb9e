/**
 * What the relay asks customers to trust (docs/security.md): its OIDC issuer, and for S3 its AWS
 * account with an ExternalId. One value object, built from configuration by `runtime`, read by the
 * routes, the setup guides and the cloud adapters, so every place states the same trust. What each
 * cloud derives from it (ExternalId, audiences) lives with the provider in `src/providers/`.
 */

/** The operator's trust settings. */
export interface RelayTrust {
  /** The exact `iss` of every token (no trailing slash). */
  issuerUrl: string;
  /**
   * How the relay gets into a customer's S3 role: `assume_role` (the operator's AWS credentials,
   * the ExternalId) or `web_identity` (the relay's own token; the customer trusts the issuer).
   */
  awsAuthMode: "assume_role" | "web_identity";
  /** The operator's AWS account; S3 destinations in `assume_role` mode are unavailable without it. */
  awsAccountId: string | undefined;
  /** `workspace`: the ExternalId is the Workspace ID; `fixed`: `awsExternalId` for everyone. */
  awsExternalIdMode: "workspace" | "fixed";
  awsExternalId: string | undefined;
  /** DurationSeconds of AssumeRole; the customer's role MaxSessionDuration must be at least this. */
  awsRoleSessionSeconds: number;
}
