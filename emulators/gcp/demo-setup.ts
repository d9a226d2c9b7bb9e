/**
 * A ready customer setup for the demo and for tests: one project, one pool with an OIDC provider
 * trusting the relay's issuer for one workspace, one service account and one bucket, exactly as
 * the relay's setup snippet tells a customer to create them.
 */
import { type CustomerModelInput, providerResourceName } from "./config.ts";

/** Inputs of the demo setup; everything but the issuer and workspace has a default. */
export interface DemoGcpSetupOptions {
  issuerUrl: string;
  workspaceId: string;
  projectNumber?: string;
  projectId?: string;
  poolId?: string;
  providerId?: string;
  serviceAccountName?: string;
  bucketName?: string;
  /** Limit the service account's object permissions to this key prefix. */
  objectPrefix?: string;
}

/** The GCS `recording_storage` object (docs/api.md, recording_storage) matching the setup. */
export interface GcsRecordingStorage {
  provider: "gcs";
  bucket_name: string;
  project_number: string;
  workload_identity_pool_id: string;
  workload_identity_provider_id: string;
  service_account_email: string;
}

/** The customer model plus what the relay needs to deliver into it. */
export interface DemoGcpSetup {
  customers: CustomerModelInput;
  destination: GcsRecordingStorage;
  /** The `aud` the relay must put in its token. */
  audience: string;
}

/** A second provider of the demo pool, trusting the relay's issuer without an attribute condition. */
export const UNSAFE_PROVIDER_ID = "recording-relay-unpinned";

/** Builds the demo customer setup for `workspaceId` trusting `issuerUrl`. */
export function demoGcpSetup(options: DemoGcpSetupOptions): DemoGcpSetup {
  const projectNumber = options.projectNumber ?? "123456789012";
  const projectId = options.projectId ?? "acme-prod";
  const poolId = options.poolId ?? "recording-relay-pool";
  const providerId = options.providerId ?? "recording-relay";
  const email = `${options.serviceAccountName ?? "recording-writer"}@${projectId}.iam.gserviceaccount.com`;
  const bucketName = options.bucketName ?? "acme-recordings";
  const pool = `iam.googleapis.com/projects/${projectNumber}/locations/global/workloadIdentityPools/${poolId}`;
  const customers: CustomerModelInput = {
    projects: [
      {
        projectNumber,
        projectId,
        workloadIdentityPools: [
          {
            poolId,
            providers: [
              {
                providerId,
                issuerUri: options.issuerUrl,
                attributeMapping: {
                  "google.subject": "assertion.sub",
                  "attribute.customer_id": "assertion.customer_id",
                },
                attributeCondition: `assertion.customer_id == ${JSON.stringify(options.workspaceId)}`,
              },
              {
                // Unsafe: no attribute condition, so STS exchanges a relay token for any
                // Workspace ID (what the confused-deputy self-check warns about).
                providerId: UNSAFE_PROVIDER_ID,
                issuerUri: options.issuerUrl,
                attributeMapping: {
                  "google.subject": "assertion.sub",
                  "attribute.customer_id": "assertion.customer_id",
                },
              },
            ],
          },
        ],
        serviceAccounts: [
          {
            email,
            bindings: [
              {
                role: "roles/iam.workloadIdentityUser",
                members: [`principalSet://${pool}/attribute.customer_id/${options.workspaceId}`],
              },
            ],
          },
        ],
      },
    ],
    buckets: [
      {
        name: bucketName,
        projectNumber,
        grants: [
          {
            member: `serviceAccount:${email}`,
            role: "roles/storage.objectUser",
            ...(options.objectPrefix === undefined ? {} : { prefix: options.objectPrefix }),
          },
        ],
      },
    ],
  };
  return {
    customers,
    destination: {
      provider: "gcs",
      bucket_name: bucketName,
      project_number: projectNumber,
      workload_identity_pool_id: poolId,
      workload_identity_provider_id: providerId,
      service_account_email: email,
    },
    audience: providerResourceName(projectNumber, poolId, providerId),
  };
}
