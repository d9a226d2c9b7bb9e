/**
 * Local mode (`npm run conformance -- --local`): the emulators' ready-made customers stand in for
 * step 1; the trust is broken and restored inside the emulators, as a customer would in the
 * cloud's console: the S3 role's ExternalId condition, the GCP service account's workload
 * identity binding, the Azure app's federated credential.
 */
import { startEmulators } from "../emulators/main.ts";
import type { Cleanups } from "./cleanup.ts";
import type { Customer } from "./journey.ts";
import type { RelayOptions } from "./relay.ts";

/** The emulators, started once the workspace exists (they trust its id). */
export interface LocalClouds {
  relayOptions: RelayOptions;
  customers(): Customer[];
}

export function localClouds(cleanups: Cleanups): LocalClouds {
  let emulators: Awaited<ReturnType<typeof startEmulators>> | undefined;
  let trusted: { issuerUrl: string; workspaceId: string } | undefined;
  return {
    relayOptions: {
      port: 0,
      issuerUrl: (port) => `http://127.0.0.1:${port}`,
      async env(workspaceId, issuerUrl) {
        trusted = { issuerUrl, workspaceId };
        emulators = await startEmulators(trusted);
        cleanups.add({ what: "the emulators", run: () => emulators!.stop() });
        return emulators.relayEnv();
      },
    },
    customers() {
      const e = emulators!;
      const s3Role = e.destinations.s3.assume_role_arn;
      const s3Original = structuredClone(e.aws.role(s3Role)!);
      const gcsAccount = e.gcp.customers.projects[0]!.serviceAccounts[0]!;
      const gcsBindings = structuredClone(gcsAccount.bindings);
      const azure = e.destinations.azure_blob;
      const federated = {
        name: "recording-relay",
        issuer: trusted!.issuerUrl,
        subject: trusted!.workspaceId,
        audiences: ["api://AzureADTokenExchange"],
      };
      return [
        {
          provider: "s3",
          storage: e.destinations.s3,
          breakDescription: `replacing the ExternalId condition of ${s3Role}'s trust policy with another value`,
          async breakTrust() {
            const trustPolicy = structuredClone(s3Original.trustPolicy);
            for (const statement of trustPolicy.Statement) {
              statement.Condition = { StringEquals: { "sts:ExternalId": "conformance-broken" } };
            }
            e.aws.putRole({ ...s3Original, trustPolicy });
          },
          async restoreTrust() {
            e.aws.putRole(s3Original);
          },
          download: async (key) => required(await e.storedDigest("s3", key), key),
          expectedHint: /ExternalId|trust/i,
        },
        {
          provider: "gcs",
          storage: e.destinations.gcs,
          breakDescription: `removing roles/iam.workloadIdentityUser of the workspace's principalSet from ${gcsAccount.email}`,
          async breakTrust() {
            gcsAccount.bindings = gcsBindings.filter(
              (b) => b.role !== "roles/iam.workloadIdentityUser",
            );
          },
          async restoreTrust() {
            gcsAccount.bindings = structuredClone(gcsBindings);
          },
          download: async (key) => required(await e.storedDigest("gcs", key), key),
          expectedHint: /workloadIdentityUser/,
        },
        {
          provider: "azure_blob",
          storage: azure,
          breakDescription: `deleting the federated credential ${federated.name} of app ${azure.client_id}`,
          async breakTrust() {
            if (
              !e.azure.removeFederatedCredential(azure.tenant_id, azure.client_id, federated.name)
            ) {
              throw new Error(`the emulated app has no federated credential ${federated.name}`);
            }
          },
          async restoreTrust() {
            e.azure.removeFederatedCredential(azure.tenant_id, azure.client_id, federated.name);
            e.azure.addFederatedCredential(azure.tenant_id, azure.client_id, federated);
          },
          download: async (key) => required(await e.storedDigest("azure_blob", key), key),
          expectedHint: /federated credential/i,
        },
      ];
    },
  };
}

function required<T>(value: T | undefined, key: string): T {
  if (value === undefined) throw new Error(`no object at ${key}`);
  return value;
}
