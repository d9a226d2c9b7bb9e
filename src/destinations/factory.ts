/**
 * Picks the adapter for a `recording_storage` object and binds it to one workspace, reusing the
 * workspace's cached authenticated clients (one identity exchange per credential lifetime).
 */
import type { S3Client } from "@aws-sdk/client-s3";
import type { ClientAssertionCredential } from "@azure/identity";
import type { IdentityPoolClient } from "google-auth-library";
import { externalIdFor, type RecordingStorage, type RelayTrust } from "../domain/index.ts";
import { createAzureCredential } from "./azure-blob/credentials.ts";
import { createAzureBlobDestination } from "./azure-blob/upload.ts";
import type { Destination } from "./contract.ts";
import { type CredentialCache, credentialKey } from "./credential-cache.ts";
import { audienceOf, createGcpAuthClient } from "./gcs/credentials.ts";
import { createGcsDestination } from "./gcs/upload.ts";
import { createS3Client } from "./s3/credentials.ts";
import { createS3Destination } from "./s3/upload.ts";
import type { DestinationSettings } from "./settings.ts";

/** Mints a relay OIDC token (the issuer's `mintToken`). */
export type MintToken = (request: {
  workspaceId: string;
  audience: string;
  signal?: AbortSignal;
}) => Promise<string>;

/**
 * Told of every identity exchange (AWS STS, GCP STS with impersonation, Entra ID) and whether the
 * cloud granted a credential: the process's metrics. Never told who (no workspace).
 */
export type IdentityExchangeObserver = (
  provider: RecordingStorage["provider"],
  outcome: "success" | "failure",
) => void;

/** What every destination of a relay shares. */
export interface DestinationFactoryDeps {
  trust: RelayTrust;
  settings: DestinationSettings;
  mintToken: MintToken;
  /** Shared across calls so clients (and their credentials) are reused; one per process. */
  cache: CredentialCache;
  onIdentityExchange?: IdentityExchangeObserver;
}

/**
 * Hooks the exchange of a cached GCP client: a refresh (STS, then impersonation) emits `tokens`
 * when it succeeds, and getAccessToken only rejects when a refresh failed.
 */
function observedGcp(client: IdentityPoolClient, observe?: IdentityExchangeObserver) {
  if (!observe) return client;
  client.on("tokens", () => observe("gcs", "success"));
  const getAccessToken = client.getAccessToken.bind(client);
  client.getAccessToken = async () => {
    try {
      return await getAccessToken();
    } catch (error) {
      observe("gcs", "failure");
      throw error;
    }
  };
  return client;
}

/** Hooks the exchange of a cached Entra credential: every getToken the blob client asks for. */
function observedAzure(credential: ClientAssertionCredential, observe?: IdentityExchangeObserver) {
  if (!observe) return credential;
  const getToken = credential.getToken.bind(credential);
  credential.getToken = async (...args: Parameters<typeof getToken>) => {
    try {
      const token = await getToken(...args);
      observe("azure_blob", "success");
      return token;
    } catch (error) {
      observe("azure_blob", "failure");
      throw error;
    }
  };
  return credential;
}

/** The context of one destination: the workspace whose identity it writes with. */
export interface DestinationContext {
  workspaceId: string;
}

/** Builds a factory: `createDestination(storage, { workspaceId })` picks and binds the adapter. */
export function destinationFactory(deps: DestinationFactoryDeps) {
  return function createDestination(
    storage: RecordingStorage,
    { workspaceId }: DestinationContext,
  ): Destination {
    const { trust, settings, mintToken, cache } = deps;
    switch (storage.provider) {
      case "s3": {
        const externalId =
          settings.aws.authMode === "assume_role" ? externalIdFor(trust, workspaceId) : undefined;
        const key = credentialKey(workspaceId, [
          "s3",
          settings.aws.authMode,
          storage.assume_role_arn,
          storage.bucket_region,
          externalId ?? "",
          String(trust.awsRoleSessionSeconds),
        ]);
        const client = cache.getOrCreate<S3Client>(key, () =>
          createS3Client({
            destination: storage,
            workspaceId,
            externalId,
            durationSeconds: trust.awsRoleSessionSeconds,
            settings,
            mintToken,
            ...(deps.onIdentityExchange
              ? { onExchange: (outcome) => deps.onIdentityExchange?.("s3", outcome) }
              : {}),
          }),
        );
        return createS3Destination({
          destination: storage,
          client,
          hints: {
            bucketRegion: storage.bucket_region,
            roleArn: storage.assume_role_arn,
            externalId,
            durationSeconds: trust.awsRoleSessionSeconds,
            trustedAccountId: trust.awsAccountId,
          },
        });
      }
      case "gcs": {
        const key = credentialKey(workspaceId, [
          "gcs",
          audienceOf(storage),
          storage.service_account_email,
        ]);
        const inputs = { destination: storage, workspaceId, settings, mintToken };
        return createGcsDestination({
          destination: storage,
          auth: () =>
            cache.getOrCreate<IdentityPoolClient>(key, () =>
              observedGcp(createGcpAuthClient(inputs), deps.onIdentityExchange),
            ),
          resetAuth: () => cache.delete(key),
          settings,
          hints: {
            bucket: storage.bucket_name,
            serviceAccountEmail: storage.service_account_email,
            audience: audienceOf(storage),
            issuerUrl: trust.issuerUrl,
            workspaceId,
          },
        });
      }
      case "azure_blob": {
        const key = credentialKey(workspaceId, [
          "azure_blob",
          storage.tenant_id,
          storage.client_id,
        ]);
        const inputs = { destination: storage, workspaceId, settings, mintToken };
        return createAzureBlobDestination({
          destination: storage,
          credential: () =>
            cache.getOrCreate<ClientAssertionCredential>(key, () =>
              observedAzure(createAzureCredential(inputs), deps.onIdentityExchange),
            ),
          resetCredential: () => cache.delete(key),
          settings,
          hints: {
            tenantId: storage.tenant_id,
            clientId: storage.client_id,
            storageAccount: storage.storage_account,
            container: storage.container,
            issuerUrl: trust.issuerUrl,
            workspaceId,
          },
        });
      }
    }
  };
}

/** The function {@link destinationFactory} returns. */
export type CreateDestination = ReturnType<typeof destinationFactory>;
