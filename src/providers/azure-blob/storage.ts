/** The Azure Blob `recording_storage` object (docs/api.md, recording_storage). */
import {
  azureContainer,
  azureStorageAccount,
  entraClientId,
  entraTenantId,
} from "./field-rules.ts";

/** An Azure Blob destination: the App Registration's federated credential trusts the relay. */
export interface AzureBlobStorage {
  provider: "azure_blob";
  tenant_id: string;
  client_id: string;
  storage_account: string;
  container: string;
  key_template?: string;
}

/** The fields of an Azure Blob destination and their rules, in the order they are checked. */
export const azureBlobFields = {
  tenant_id: entraTenantId,
  client_id: entraClientId,
  storage_account: azureStorageAccount,
  container: azureContainer,
};

/** GUIDs compare without case in Entra; one spelling keeps stored configs comparable. */
export function normalizeAzureBlob(storage: AzureBlobStorage): AzureBlobStorage {
  return {
    ...storage,
    tenant_id: storage.tenant_id.toLowerCase(),
    client_id: storage.client_id.toLowerCase(),
  };
}
