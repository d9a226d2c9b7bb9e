// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the Terraform overrides interpolate ${...} themselves.
/**
 * Step 1 against a real GCP project: a uniquely named bucket with uniform bucket-level access
 * (its creation is the first call, so wrong credentials fail here with Google's error), then the
 * GCS guide applied with Terraform. The workspace first saves a default naming this run's pool,
 * provider and service account, so the guide uses names no other run has used (deleted pools
 * keep their ids for 30 days). Breaking: the workload identity binding names another workspace.
 */
import { Storage } from "@google-cloud/storage";
import type { Cleanups } from "../cleanup.ts";
import type { Customer } from "../journey.ts";
import { guideFromRelay, TerraformWorkspace, terraformFiles } from "../terraform.ts";
import { type CloudContext, refusedMeansAbsent } from "./context.ts";
import { digestOf } from "./digest.ts";

export async function gcpCustomer(context: CloudContext, cleanups: Cleanups): Promise<Customer> {
  const { relay, env, say, signal, suffix } = context;
  const projectId = env.CONFORMANCE_GCP_PROJECT_ID!;
  const location = env.CONFORMANCE_GCP_LOCATION ?? "us-central1";
  const storage = new Storage({ projectId });
  const bucketName = `rr-conformance-${suffix}`;
  const bucket = storage.bucket(bucketName);
  // Registered first: a creation interrupted in flight may still have happened. A creation the
  // cloud refused left nothing.
  let mayExist = true;
  cleanups.add({
    what: `GCS bucket ${bucketName} and its objects`,
    manually: `gcloud storage rm --recursive gs://${bucketName}`,
    run: async () => {
      if (!mayExist) return;
      const [exists] = await bucket.exists();
      if (!exists) return;
      await bucket.deleteFiles({ force: true });
      await bucket.delete();
    },
  });
  await refusedMeansAbsent(
    signal,
    () => {
      mayExist = false;
    },
    storage.createBucket(bucketName, {
      location,
      iamConfiguration: { uniformBucketLevelAccess: { enabled: true } },
    }),
  );
  const [metadata] = await bucket.getMetadata();
  const projectNumber = String(metadata.projectNumber);
  say(
    `  created bucket ${bucketName} in ${location} (project ${projectId}, number ${projectNumber})`,
  );
  signal.throwIfAborted();

  const names = `rr-conf-${suffix}`;
  const saved = await relay.call("PUT", "/v2/recording-storage", {
    provider: "gcs",
    bucket_name: bucketName,
    project_number: projectNumber,
    workload_identity_pool_id: names,
    workload_identity_provider_id: names,
    service_account_email: `${names}@${projectId}.iam.gserviceaccount.com`,
  });
  if (saved.status !== 200) {
    throw new Error(
      `saving the GCS default answered ${saved.status}: ${JSON.stringify(saved.body)}`,
    );
  }
  const guide = await guideFromRelay(relay, "gcs");
  const terraform = await TerraformWorkspace.create(
    terraformFiles(guide, { project_id: projectId, bucket_name: bucketName }),
    cleanups,
    `workload identity pool ${names}, service account ${names}, custom roles and bindings`,
    signal,
    say,
  );
  await terraform.init();
  await terraform.apply();
  const destination = JSON.parse(await terraform.output("recording_storage")) as Record<
    string,
    unknown
  >;
  return {
    provider: "gcs",
    storage: destination,
    breakDescription: `roles/iam.workloadIdentityUser on ${names} now names another workspace's principalSet (Terraform override)`,
    breakTrust: () =>
      terraform.applyOverride(
        [
          'resource "google_service_account_iam_member" "recording_relay_impersonation" {',
          '  member = "principalSet://iam.googleapis.com/${google_iam_workload_identity_pool.recording_relay.name}/attribute.customer_id/conformance-broken"',
          "}",
          "",
        ].join("\n"),
      ),
    restoreTrust: () => terraform.applyOverride(undefined),
    download: async (key) => await digestOf(bucket.file(key).createReadStream()),
    expectedHint: /workloadIdentityUser/,
  };
}
