/**
 * Step 1 against a real Azure subscription: a uniquely named container in an existing storage
 * account (its creation is the first call, so wrong credentials fail here with Entra's or
 * Storage's error), then the Azure Blob guide applied with Terraform (app registration, federated
 * credential, service principal, role assignment on the container). Breaking: the federated
 * credential's subject names another workspace.
 */
import { ClientSecretCredential } from "@azure/identity";
import { BlobServiceClient } from "@azure/storage-blob";
import type { Cleanups } from "../cleanup.ts";
import type { Customer } from "../journey.ts";
import { guideFromRelay, TerraformWorkspace, terraformFiles } from "../terraform.ts";
import { type CloudContext, refusedMeansAbsent } from "./context.ts";
import { digestOf } from "./digest.ts";

export async function azureCustomer(context: CloudContext, cleanups: Cleanups): Promise<Customer> {
  const { relay, env, say, signal, suffix } = context;
  const account = env.CONFORMANCE_AZURE_STORAGE_ACCOUNT!;
  const credential = new ClientSecretCredential(
    env.ARM_TENANT_ID!,
    env.ARM_CLIENT_ID!,
    env.ARM_CLIENT_SECRET!,
  );
  const endpoint =
    env.CONFORMANCE_AZURE_BLOB_ENDPOINT ?? `https://${account}.blob.core.windows.net`;
  const service = new BlobServiceClient(endpoint, credential);
  const containerName = `rr-conformance-${suffix}`;
  const container = service.getContainerClient(containerName);
  // Registered first: a creation interrupted in flight may still have happened. A creation the
  // cloud refused left nothing.
  let mayExist = true;
  cleanups.add({
    what: `Azure container ${containerName} in ${account} and its blobs`,
    manually: `az storage container delete --account-name ${account} --name ${containerName} --auth-mode login`,
    run: async () => {
      if (mayExist) await container.deleteIfExists();
    },
  });
  await refusedMeansAbsent(
    signal,
    () => {
      mayExist = false;
    },
    container.create({ abortSignal: signal }),
  );
  say(`  created container ${containerName} in storage account ${account}`);

  const guide = await guideFromRelay(relay, "azure_blob");
  const terraform = await TerraformWorkspace.create(
    terraformFiles(guide, {
      subscription_id: env.CONFORMANCE_AZURE_SUBSCRIPTION_ID!,
      resource_group_name: env.CONFORMANCE_AZURE_RESOURCE_GROUP!,
      storage_account_name: account,
      container_name: containerName,
    }),
    cleanups,
    "app registration, federated credential, service principal and role assignment",
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
    provider: "azure_blob",
    storage: destination,
    breakDescription:
      "the app's federated credential now trusts another subject (Terraform override)",
    breakTrust: () =>
      terraform.applyOverride(
        [
          'resource "azuread_application_federated_identity_credential" "recording_relay" {',
          '  subject = "conformance-broken"',
          "}",
          "",
        ].join("\n"),
      ),
    restoreTrust: () => terraform.applyOverride(undefined),
    async download(key) {
      const downloaded = await container.getBlobClient(key).download();
      return await digestOf(downloaded.readableStreamBody as AsyncIterable<Uint8Array>);
    },
    expectedHint: /federated credential/i,
  };
}
