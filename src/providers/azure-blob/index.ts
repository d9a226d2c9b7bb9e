/** Azure Blob Storage: everything the relay knows about it, behind {@link azureBlobProvider}. */
import { cachedCredential, credentialKey } from "../../destinations/credential-cache.ts";
import { lazyDestination } from "../../destinations/lazy.ts";
import type { Provider } from "../provider.ts";
import {
  type AzureBlobAdapterSettings,
  type AzureBlobSettings,
  azureBlobSettingsFrom,
  defaultAzureBlobSettings,
} from "./settings.ts";
import { azureSetup } from "./setup.ts";
import { type AzureBlobStorage, azureBlobFields, normalizeAzureBlob } from "./storage.ts";

/** The Azure Blob provider. */
export const azureBlobProvider: Provider<
  AzureBlobStorage,
  AzureBlobSettings,
  AzureBlobAdapterSettings
> = {
  name: "azure_blob",
  settingsKey: "azure",
  fields: azureBlobFields,
  validate: normalizeAzureBlob,
  objectUri: (storage, path) =>
    `https://${storage.storage_account}.blob.core.windows.net/${storage.container}/${path}`,
  setupGuide: azureSetup,
  defaultSettings: defaultAzureBlobSettings,
  settingsFrom: azureBlobSettingsFrom,

  createDestination(storage, { workspaceId }, deps) {
    const { trust, settings, mintToken, cache, onIdentityExchange } = deps;
    const key = credentialKey(workspaceId, ["azure_blob", storage.tenant_id, storage.client_id]);
    const inputs = { destination: storage, workspaceId, settings, mintToken };
    return lazyDestination("azure_blob", async () => {
      // The Azure SDKs are loaded on first use (see lazyDestination).
      const [
        { createAzureCredential, observedAzure },
        { createAzureBlobDestination },
        { checkAzureSafety },
      ] = await Promise.all([
        import("./credentials.ts"),
        import("./upload.ts"),
        import("./safety.ts"),
      ]);
      const destination = createAzureBlobDestination({
        destination: storage,
        credential: cachedCredential(cache, key, () =>
          observedAzure(createAzureCredential(inputs), onIdentityExchange),
        ),
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
      return { ...destination, checkSafety: (signal) => checkAzureSafety(inputs, signal) };
    });
  },
};
