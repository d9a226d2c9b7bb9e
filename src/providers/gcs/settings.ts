/** The GCS adapter's settings: Google's STS, IAM Credentials and Cloud Storage endpoints. */
import type { Config } from "../../config/index.ts";
import type { SettingsWith } from "../../destinations/settings.ts";

/** Settings of the GCS adapter (`settings.gcp`). */
export interface GcsSettings {
  /** STS token endpoint (`https://sts.googleapis.com/v1/token`). */
  stsTokenUrl: string;
  /** IAM Credentials base URL (`https://iamcredentials.googleapis.com`). */
  iamCredentialsUrl: string;
  /** Cloud Storage base URL (`https://storage.googleapis.com`). */
  storageUrl: string;
}

/** Google's public endpoints. */
export const defaultGcsSettings: GcsSettings = {
  stsTokenUrl: "https://sts.googleapis.com/v1/token",
  iamCredentialsUrl: "https://iamcredentials.googleapis.com",
  storageUrl: "https://storage.googleapis.com",
};

/** The GCS settings from the configuration (docs/configuration.md). */
export function gcsSettingsFrom(config: Config): GcsSettings {
  return {
    stsTokenUrl: config.gcpStsUrl,
    iamCredentialsUrl: config.gcpIamCredentialsUrl,
    storageUrl: config.gcsUrl,
  };
}

/** What the gcs adapter reads of the destination settings: the common ones and its own part. */
export type GcsAdapterSettings = SettingsWith<"gcp", GcsSettings>;
