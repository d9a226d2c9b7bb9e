/**
 * Short-lived AWS credentials for one customer role: `sts:AssumeRole` with the operator's
 * credentials and the workspace's ExternalId (`fromTemporaryCredentials`), or
 * `AssumeRoleWithWebIdentity` with a fresh relay token (`fromWebToken`). The S3 client memoizes
 * the provider and calls it again shortly before `Expiration`, so long uploads keep going.
 */

import { S3Client } from "@aws-sdk/client-s3";
import { fromTemporaryCredentials, fromWebToken } from "@aws-sdk/credential-providers";
import type { AwsCredentialIdentityProvider } from "@aws-sdk/types";
import { type MintToken, sharedHttpsAgent } from "../../destinations/adapter.ts";
import type { S3AdapterSettings } from "./settings.ts";
import type { S3Storage } from "./storage.ts";
import { AWS_WEB_IDENTITY_AUDIENCE } from "./trust.ts";

/** What building an S3 client for a workspace needs. */
export interface S3ClientInputs {
  destination: S3Storage;
  workspaceId: string;
  externalId: string | undefined;
  durationSeconds: number;
  settings: S3AdapterSettings;
  mintToken: MintToken;
  /** Told of every exchange's outcome (the identity-exchange hook of the process's metrics). */
  onExchange?: (outcome: "success" | "failure") => void;
}

/** RoleSessionName: names the workspace in the customer's CloudTrail (≤ 64 of `[\w+=,.@-]`). */
export function roleSessionName(workspaceId: string): string {
  return `recording-relay-${workspaceId.replace(/[^\w+=,.@-]/g, "")}`.slice(0, 64);
}

/**
 * A failure of the identity exchange (STS), told apart from S3's own failures: a marker internal
 * to the S3 provider (the SDK rethrows credential-provider errors inside its own); the adapter
 * unwraps it and reports the cause as a DestinationError at the identity stage.
 */
export class StsExchangeError extends Error {
  constructor(cause: unknown) {
    super("AWS STS identity exchange failed", { cause });
    this.name = "StsExchangeError";
  }
}

/** The credential provider of a customer role, its failures marked as {@link StsExchangeError}. */
export function roleCredentials(inputs: S3ClientInputs): AwsCredentialIdentityProvider {
  const inner = exchangeProvider(inputs);
  return async (identityProperties) => {
    try {
      const credentials = await inner(identityProperties);
      inputs.onExchange?.("success");
      return credentials;
    } catch (error) {
      inputs.onExchange?.("failure");
      throw error instanceof StsExchangeError ? error : new StsExchangeError(error);
    }
  };
}

/** The configuration of the STS client behind a role's credential provider. */
export function stsClientConfig(inputs: Pick<S3ClientInputs, "destination" | "settings">) {
  const { destination, settings } = inputs;
  return {
    region: destination.bucket_region,
    maxAttempts: settings.maxAttempts,
    ...(settings.aws.endpointUrl ? { endpoint: settings.aws.endpointUrl } : {}),
    ...requestHandlerOptions(settings),
  };
}

function exchangeProvider(inputs: S3ClientInputs): AwsCredentialIdentityProvider {
  const { destination, settings } = inputs;
  const clientConfig = stsClientConfig(inputs);
  if (settings.aws.authMode === "web_identity") {
    // fromWebToken takes a fixed token: build it per call so every exchange presents a fresh one.
    return async (identityProperties) => {
      const webIdentityToken = await inputs.mintToken({
        workspaceId: inputs.workspaceId,
        audience: AWS_WEB_IDENTITY_AUDIENCE,
      });
      return await fromWebToken({
        roleArn: destination.assume_role_arn,
        roleSessionName: roleSessionName(inputs.workspaceId),
        webIdentityToken,
        durationSeconds: inputs.durationSeconds,
        clientConfig,
      })(identityProperties);
    };
  }
  return fromTemporaryCredentials({
    params: {
      RoleArn: destination.assume_role_arn,
      RoleSessionName: roleSessionName(inputs.workspaceId),
      DurationSeconds: inputs.durationSeconds,
      ...(inputs.externalId === undefined ? {} : { ExternalId: inputs.externalId }),
    },
    ...(settings.aws.operatorCredentials
      ? { masterCredentials: settings.aws.operatorCredentials }
      : {}),
    clientConfig,
  });
}

/**
 * Timeouts, and the process's keep-alive agent for the AWS endpoint (trusting the extra CA), for
 * the SDK's Node HTTP handler: every client of every workspace shares its connections.
 */
export function requestHandlerOptions(settings: S3AdapterSettings) {
  return {
    requestHandler: {
      connectionTimeout: 10_000,
      requestTimeout: settings.requestTimeoutMs,
      httpsAgent: sharedHttpsAgent(settings.aws.endpointUrl ?? "", settings.extraCaPem),
    },
  };
}

/** Commands whose body carries a CRC32 checksum S3 verifies (sent with UNSIGNED-PAYLOAD). */
const unsignedPayloadCommands = new Set(["UploadPartCommand", "PutObjectCommand"]);

/** An S3 client in the bucket's region (path-style against a custom endpoint) with role credentials. */
export function createS3Client(inputs: S3ClientInputs): S3Client {
  const { destination, settings } = inputs;
  const client = new S3Client({
    region: destination.bucket_region,
    credentials: roleCredentials(inputs),
    maxAttempts: settings.maxAttempts,
    // The region is the customer's statement; a redirect is reported, never silently followed.
    followRegionRedirects: false,
    ...(settings.aws.endpointUrl
      ? { endpoint: settings.aws.endpointUrl, forcePathStyle: true }
      : {}),
    ...requestHandlerOptions(settings),
  });
  // Parts carry their CRC32, which S3 checks: signing a SHA-256 of every byte as well (SigV4's
  // payload hash) was the largest single cost of an S3 delivery in a worker's CPU profile.
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (unsignedPayloadCommands.has(context.commandName ?? "") && request.headers) {
        request.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD";
      }
      return await next(args);
    },
    { step: "build", name: "relayUnsignedPayloadWithChecksum" },
  );
  return client;
}
