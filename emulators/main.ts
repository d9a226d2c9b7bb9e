/**
 * All three cloud emulators at once, each with one ready customer trusting the relay for one
 * workspace: what `recording-relay emulators`, the demo and the end-to-end tests start.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DEMO as AWS_DEMO,
  type AwsEmulator,
  demoAwsConfig,
  oidcProviderUrlProblem,
  startAwsEmulator,
} from "./aws/index.ts";
import { type AzureEmulator, buildAzureDemoConfig, startAzureEmulator } from "./azure/index.ts";
import { demoGcpSetup, type GcpEmulator, startGcpEmulator } from "./gcp/index.ts";

/** Who the emulated customers trust. */
export interface EmulatorsOptions {
  /** The relay's issuer URL (GCP, Azure and AWS web identity fetch its discovery document and JWKS). */
  issuerUrl: string;
  /** The Workspace ID the customers trust (token `sub`/`customer_id`, and the AWS ExternalId). */
  workspaceId: string;
}

/** The three destination providers, as `recording_storage.provider` names them. */
export type StorageProviderName = "s3" | "gcs" | "azure_blob";

/** The running emulators and the `recording_storage` object of each customer. */
export interface RunningEmulators {
  aws: AwsEmulator;
  gcp: GcpEmulator;
  azure: AzureEmulator;
  destinations: {
    s3: { provider: "s3"; bucket_name: string; bucket_region: string; assume_role_arn: string };
    gcs: ReturnType<typeof demoGcpSetup>["destination"];
    azure_blob: ReturnType<typeof buildAzureDemoConfig>["destination"];
  };
  /** The operator's emulated AWS identity (the long-term key the relay assumes roles with). */
  awsOperator: { accountId: string; accessKeyId: string; secretAccessKey: string };
  /** A file holding the Azure emulator's CA certificate (for NODE_EXTRA_CA_CERTS). */
  azureCaCertPath: string;
  /**
   * The environment a relay needs to deliver to these emulators (endpoints, the operator's
   * emulated AWS key, the Azure CA): what the demo and the end-to-end tests start the relay with.
   */
  relayEnv(): Record<string, string>;
  /** Size and SHA-256 of what an emulated bucket holds at `key`; undefined when absent. */
  storedDigest(
    provider: StorageProviderName,
    key: string,
  ): Promise<{ size: number; sha256: string } | undefined>;
  /** A human-readable summary of endpoints and destinations. */
  describe(): string;
  stop(): Promise<void>;
}

/** Starts the three emulators on free loopback ports. */
export async function startEmulators({
  issuerUrl,
  workspaceId,
}: EmulatorsOptions): Promise<RunningEmulators> {
  const dir = await mkdtemp(join(tmpdir(), "relay-emulators-"));
  const gcpSetup = demoGcpSetup({ issuerUrl, workspaceId });
  const azureSetup = buildAzureDemoConfig({ issuer: issuerUrl, workspaceId });
  const started: { stop(): Promise<void> }[] = [];
  try {
    // IAM takes only https issuers (the emulator also loopback http); others get AssumeRole only.
    const webIdentityProblem = oidcProviderUrlProblem(issuerUrl);
    const aws = await startAwsEmulator(
      demoAwsConfig({
        externalId: workspaceId,
        ...(webIdentityProblem ? {} : { webIdentity: { issuerUrl, workspaceId } }),
      }),
    );
    started.push(aws);
    const gcp = await startGcpEmulator({ customers: gcpSetup.customers });
    started.push(gcp);
    const azure = await startAzureEmulator(azureSetup.config);
    started.push(azure);
    const azureCaCertPath = join(dir, "azure-emulator-ca.pem");
    await writeFile(azureCaCertPath, azure.caCertPem);
    const destinations: RunningEmulators["destinations"] = {
      s3: {
        provider: "s3",
        bucket_name: AWS_DEMO.bucket,
        bucket_region: AWS_DEMO.region,
        assume_role_arn: AWS_DEMO.roleArn,
      },
      gcs: gcpSetup.destination,
      azure_blob: azureSetup.destination,
    };
    const awsOperator = {
      accountId: AWS_DEMO.operatorAccountId,
      accessKeyId: AWS_DEMO.operatorAccessKeyId,
      secretAccessKey: AWS_DEMO.operatorSecretAccessKey,
    };
    return {
      aws,
      gcp,
      azure,
      destinations,
      awsOperator,
      azureCaCertPath,
      relayEnv: () => ({
        RELAY_AWS_ACCOUNT_ID: awsOperator.accountId,
        RELAY_AWS_EXTERNAL_ID_MODE: "workspace",
        RELAY_AWS_ENDPOINT_URL: aws.endpoint,
        AWS_ACCESS_KEY_ID: awsOperator.accessKeyId,
        AWS_SECRET_ACCESS_KEY: awsOperator.secretAccessKey,
        AWS_REGION: "us-east-1",
        RELAY_GCP_STS_URL: `${gcp.endpoint}/v1/token`,
        RELAY_GCP_IAM_CREDENTIALS_URL: gcp.endpoint,
        RELAY_GCS_URL: gcp.endpoint,
        RELAY_AZURE_AUTHORITY_HOST: azure.authorityHost,
        RELAY_AZURE_BLOB_ENDPOINT_TEMPLATE: `${azure.origin}/{account}`,
        RELAY_EXTRA_CA_FILE: azureCaCertPath,
      }),
      async storedDigest(provider, key) {
        switch (provider) {
          case "s3": {
            const info = aws.objectInfo(destinations.s3.bucket_name, key);
            return info && { size: info.size, sha256: info.sha256Hex };
          }
          case "gcs": {
            const object = gcp.getObject(destinations.gcs.bucket_name, key);
            return object && { size: object.sizeBytes, sha256: object.sha256Hex };
          }
          case "azure_blob": {
            const { storage_account, container } = destinations.azure_blob;
            const digest = await azure.blobDigest(storage_account, container, key);
            return digest && { size: digest.size, sha256: digest.sha256 };
          }
        }
      },
      describe: () =>
        [
          `Emulated customers trust issuer ${issuerUrl} for workspace ${workspaceId}.`,
          "",
          `AWS (STS + S3, path-style):  ${aws.endpoint}`,
          `  operator account ${awsOperator.accountId}, access key ${awsOperator.accessKeyId} (emulator only)`,
          `  ExternalId ${workspaceId}; bucket ${AWS_DEMO.bucket} in ${AWS_DEMO.region}`,
          webIdentityProblem
            ? `  no AssumeRoleWithWebIdentity: the issuer URL ${webIdentityProblem}`
            : `  or, with no AWS credentials: AssumeRoleWithWebIdentity on ${AWS_DEMO.webIdentityRoleArn} (aud ${AWS_DEMO.webIdentityAudience})`,
          `GCP (STS, IAM Credentials, GCS): ${gcp.endpoint}`,
          `  token audience ${gcpSetup.audience}`,
          `Azure (Entra ID + Blob, HTTPS):  ${azure.authorityHost}`,
          `  blob endpoint ${azure.blobEndpoint(azureSetup.destination.storage_account)}`,
          `  CA certificate ${azureCaCertPath}`,
          "",
          "recording_storage objects:",
          ...Object.values(destinations).map((destination) => `  ${JSON.stringify(destination)}`),
        ].join("\n"),
      async stop() {
        await Promise.allSettled(started.map((emulator) => emulator.stop()));
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await Promise.allSettled(started.map((emulator) => emulator.stop()));
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
