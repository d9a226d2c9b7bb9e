/**
 * The registry of cloud providers. Each folder holds everything one cloud knows (its
 * `recording_storage` fields and rules, trust, settings, credentials, upload, error classifier and
 * setup guide) behind one {@link Provider} object; the generic code iterates {@link providers}.
 * Adding a provider: its folder, one entry in `providers`, its storage type in
 * `RecordingStorage` and its settings in `ProviderSettings`
 * (and the docs).
 */
import type { Config } from "../config/index.ts";
import type { CommonDestinationSettings } from "../destinations/settings.ts";
import { encodeKeyPath } from "../domain/storage-uri.ts";
import { azureBlobProvider } from "./azure-blob/index.ts";
import type { AzureBlobSettings } from "./azure-blob/settings.ts";
import type { AzureBlobStorage } from "./azure-blob/storage.ts";
import { gcsProvider } from "./gcs/index.ts";
import type { GcsSettings } from "./gcs/settings.ts";
import type { GcsStorage } from "./gcs/storage.ts";
import type { Provider } from "./provider.ts";
import { s3Provider } from "./s3/index.ts";
import type { S3Settings } from "./s3/settings.ts";
import type { S3Storage } from "./s3/storage.ts";

export type { AzureBlobStorage } from "./azure-blob/storage.ts";
export type { GcsStorage } from "./gcs/storage.ts";
export type {
  DestinationContext,
  Provider,
} from "./provider.ts";
export { requireAwsAccount } from "./s3/setup.ts";
export type { S3Storage } from "./s3/storage.ts";

/** A validated destination of any provider. */
export type RecordingStorage = S3Storage | GcsStorage | AzureBlobStorage;

/** A storage provider's name. */
export type StorageProvider = RecordingStorage["provider"];

/** The destination settings of a process: the common ones and every provider's part. */
export type DestinationSettings = CommonDestinationSettings & ProviderSettings;

/** Each provider's part of the destination settings, under its `settingsKey`. */
export interface ProviderSettings {
  aws: S3Settings;
  gcp: GcsSettings;
  azure: AzureBlobSettings;
}

/** Every provider, in the order documentation lists them. */
export const providers: readonly Provider<RecordingStorage>[] = [
  s3Provider,
  gcsProvider,
  azureBlobProvider,
];

/** The provider names, in the order documentation lists them. */
export const storageProviders: readonly StorageProvider[] = providers.map(
  (provider) => provider.name,
);

/** The provider named `name`, if there is one. */
export function providerNamed(name: string): Provider<RecordingStorage> | undefined {
  return providers.find((provider) => provider.name === name);
}

/** The provider of a destination. */
export function providerOf<S extends RecordingStorage>(storage: S): Provider<S> {
  const provider = providerNamed(storage.provider);
  if (!provider) throw new Error(`unknown storage provider ${storage.provider}`);
  return provider as unknown as Provider<S>;
}

/** The fully-qualified `storage_uri` of the object at `key` (docs/api.md, recording_storage). */
export function storageUri(destination: RecordingStorage, key: string): string {
  return providerOf(destination).objectUri(destination, encodeKeyPath(key));
}

/** Every provider's settings for the real clouds. */
export function defaultProviderSettings(): ProviderSettings {
  return Object.fromEntries(
    providers.map((provider) => [provider.settingsKey, provider.defaultSettings]),
  ) as unknown as ProviderSettings;
}

/** Every provider's settings from the configuration (docs/configuration.md). */
export function providerSettingsFrom(config: Config): ProviderSettings {
  return Object.fromEntries(
    providers.map((provider) => [provider.settingsKey, provider.settingsFrom(config)]),
  ) as unknown as ProviderSettings;
}
