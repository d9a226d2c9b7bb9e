/** The S3 adapter's settings: AWS endpoints and how the relay authenticates to AWS STS. */
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@aws-sdk/types";
import type { Config } from "../../config/index.ts";
import type { SettingsWith } from "../../destinations/settings.ts";

/** Settings of the S3 adapter (`settings.aws`). */
export interface S3Settings {
  /** Custom endpoint for STS and S3 (path-style S3 when set); undefined: AWS itself. */
  endpointUrl: string | undefined;
  /** `assume_role` with the operator's credentials, or `web_identity` with the relay's token. */
  authMode: "assume_role" | "web_identity";
  /** Operator credentials for AssumeRole; undefined: the AWS SDK's default chain. */
  operatorCredentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
}

/** AWS itself, with the operator's credentials. */
export const defaultS3Settings: S3Settings = { endpointUrl: undefined, authMode: "assume_role" };

/** The S3 settings from the configuration (docs/configuration.md). */
export function s3SettingsFrom(config: Config): S3Settings {
  return { endpointUrl: config.awsEndpointUrl, authMode: config.awsAuthMode };
}

/** What the s3 adapter reads of the destination settings: the common ones and its own part. */
export type S3AdapterSettings = SettingsWith<"aws", S3Settings>;
