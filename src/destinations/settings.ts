/**
 * What the adapters need from the operator's configuration: cloud endpoints (real clouds by
 * default; emulators, the demo and sovereign clouds otherwise), retry bounds and timeouts.
 */
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@aws-sdk/types";

/** Endpoint and behaviour settings of the three adapters. */
export interface DestinationSettings {
  aws: {
    /** Custom endpoint for STS and S3 (path-style S3 when set); undefined: AWS itself. */
    endpointUrl: string | undefined;
    /** `assume_role` with the operator's credentials, or `web_identity` with the relay's token. */
    authMode: "assume_role" | "web_identity";
    /** Operator credentials for AssumeRole; undefined: the AWS SDK's default chain. */
    operatorCredentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  };
  gcp: {
    /** STS token endpoint (`https://sts.googleapis.com/v1/token`). */
    stsTokenUrl: string;
    /** IAM Credentials base URL (`https://iamcredentials.googleapis.com`). */
    iamCredentialsUrl: string;
    /** Cloud Storage base URL (`https://storage.googleapis.com`). */
    storageUrl: string;
  };
  azure: {
    /** Entra authority host (`https://login.microsoftonline.com`). */
    authorityHost: string;
    /** Blob service URL with `{account}` (`https://{account}.blob.core.windows.net`). */
    blobEndpointTemplate: string;
  };
  /** PEM of an extra CA to trust for outgoing TLS (added to the built-in roots). */
  extraCaPem: string | undefined;
  /** Attempts per cloud request, first included (SDK retries; our GCS client likewise). */
  maxAttempts: number;
  /** First retry delay; doubles with full jitter, capped at 20 s. */
  retryBaseDelayMs: number;
  /** Timeout of one request (a part upload included), in ms. */
  requestTimeoutMs: number;
}

/** The real clouds, with the documented retry and timeout defaults. */
export const defaultDestinationSettings: DestinationSettings = {
  aws: { endpointUrl: undefined, authMode: "assume_role" },
  gcp: {
    stsTokenUrl: "https://sts.googleapis.com/v1/token",
    iamCredentialsUrl: "https://iamcredentials.googleapis.com",
    storageUrl: "https://storage.googleapis.com",
  },
  azure: {
    authorityHost: "https://login.microsoftonline.com",
    blobEndpointTemplate: "https://{account}.blob.core.windows.net",
  },
  extraCaPem: undefined,
  maxAttempts: 5,
  retryBaseDelayMs: 500,
  requestTimeoutMs: 120_000,
};

/** Full-jitter exponential backoff delay for retry `attempt` (1-based). */
export function backoffDelayMs(attempt: number, baseDelayMs: number): number {
  return Math.random() * Math.min(20_000, baseDelayMs * 2 ** (attempt - 1));
}
