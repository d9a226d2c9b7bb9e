/** The GCS `recording_storage` object (docs/api.md, recording_storage). */
import {
  gcpProjectNumber,
  gcpServiceAccountEmail,
  gcsBucketName,
  workloadIdentityId,
} from "./field-rules.ts";

/** A GCS destination: Workload Identity Federation, then impersonation of the service account. */
export interface GcsStorage {
  provider: "gcs";
  bucket_name: string;
  project_number: string;
  workload_identity_pool_id: string;
  workload_identity_provider_id: string;
  service_account_email: string;
  key_template?: string;
}

/** The fields of a GCS destination and their rules, in the order they are checked. */
export const gcsFields = {
  bucket_name: gcsBucketName,
  project_number: gcpProjectNumber,
  workload_identity_pool_id: workloadIdentityId,
  workload_identity_provider_id: workloadIdentityId,
  service_account_email: gcpServiceAccountEmail,
};
