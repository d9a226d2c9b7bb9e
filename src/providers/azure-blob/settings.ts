/** The Azure Blob adapter's settings: the Entra authority and the Blob service endpoint. */
import type { Config } from "../../config/index.ts";
import type { SettingsWith } from "../../destinations/settings.ts";

/** Settings of the Azure Blob adapter (`settings.azure`). */
export interface AzureBlobSettings {
  /** Entra authority host (`https://login.microsoftonline.com`). */
  authorityHost: string;
  /** Blob service URL with `{account}` (`https://{account}.blob.core.windows.net`). */
  blobEndpointTemplate: string;
}

/** Azure's public cloud. */
export const defaultAzureBlobSettings: AzureBlobSettings = {
  authorityHost: "https://login.microsoftonline.com",
  blobEndpointTemplate: "https://{account}.blob.core.windows.net",
};

/** The Azure Blob settings from the configuration (docs/configuration.md). */
export function azureBlobSettingsFrom(config: Config): AzureBlobSettings {
  return {
    authorityHost: config.azureAuthorityHost,
    blobEndpointTemplate: config.azureBlobEndpointTemplate,
  };
}

/** What the azure-blob adapter reads of the destination settings: the common ones and its own part. */
export type AzureBlobAdapterSettings = SettingsWith<"azure", AzureBlobSettings>;
