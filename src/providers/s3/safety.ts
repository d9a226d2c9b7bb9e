/**
 * The S3 confused-deputy self-check (docs/security.md): AssumeRole into the customer's role
 * *without* the ExternalId must be refused. If AWS grants it, the role trusts the relay's whole
 * account, so another workspace of the relay naming this role would be let in. With web identity,
 * a relay token for another Workspace ID must be refused (the trust must pin `sub`).
 */
import { randomUUID } from "node:crypto";
import { fromTemporaryCredentials, fromWebToken } from "@aws-sdk/credential-providers";
import type { SafetyCheck } from "../../destinations/contract.ts";
import { roleSessionName, type S3ClientInputs, stsClientConfig } from "./credentials.ts";
import { AWS_WEB_IDENTITY_AUDIENCE } from "./trust.ts";

/** STS codes that mean "the trust policy refused this caller". */
const refusals = new Set(["AccessDenied", "AccessDeniedException", "InvalidIdentityToken"]);

/** Runs the check for one workspace's S3 destination. */
export async function checkS3Safety(
  inputs: S3ClientInputs & { trustedAccountId: string | undefined },
  signal: AbortSignal,
): Promise<SafetyCheck> {
  const { destination, settings } = inputs;
  const clientConfig = stsClientConfig(inputs);
  const webIdentity = settings.aws.authMode === "web_identity";
  const provider = webIdentity
    ? async () =>
        await fromWebToken({
          roleArn: destination.assume_role_arn,
          roleSessionName: "recording-relay-safety-check",
          webIdentityToken: await inputs.mintToken({
            workspaceId: randomUUID(),
            audience: AWS_WEB_IDENTITY_AUDIENCE,
            signal,
          }),
          durationSeconds: 900,
          clientConfig,
        })()
    : fromTemporaryCredentials({
        params: {
          RoleArn: destination.assume_role_arn,
          RoleSessionName: roleSessionName(inputs.workspaceId),
          DurationSeconds: 900,
        },
        ...(settings.aws.operatorCredentials
          ? { masterCredentials: settings.aws.operatorCredentials }
          : {}),
        clientConfig,
      });
  try {
    signal.throwIfAborted();
    await provider();
  } catch (error) {
    const code = (error as { name?: string; Code?: string }).name ?? "UnknownError";
    if (refusals.has(code)) {
      return {
        status: "pass",
        cloud_code: code,
        message: webIdentity
          ? `AWS STS refused a relay token for another Workspace ID on ${destination.assume_role_arn}: the role's trust pins your Workspace ID`
          : `AWS STS refused AssumeRole into ${destination.assume_role_arn} without the ExternalId: the role's trust requires it`,
      };
    }
    return {
      status: "skip",
      cloud_code: code,
      message: `the check could not run: AWS STS answered ${code} (${error instanceof Error ? error.message : String(error)})`,
    };
  }
  return webIdentity
    ? {
        status: "warn",
        cloud_code: "accepted",
        message: `AWS STS let a relay token for another Workspace ID assume ${destination.assume_role_arn}: any customer of this relay could write with this role`,
        hint: `add the condition StringEquals "<issuer host>:sub": "${inputs.workspaceId}" to the role's trust policy (GET /v2/recording-storage/setup/s3 shows it)`,
      }
    : {
        status: "warn",
        cloud_code: "accepted",
        message: `AWS STS let the relay assume ${destination.assume_role_arn} without the ExternalId: the role trusts the relay's AWS account${inputs.trustedAccountId ? ` ${inputs.trustedAccountId}` : ""} for all of its customers`,
        hint: `add the condition StringEquals "sts:ExternalId": "${inputs.externalId ?? inputs.workspaceId}" to the role's trust policy (GET /v2/recording-storage/setup/s3 shows it)`,
      };
}
