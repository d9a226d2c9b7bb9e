import assert from "node:assert/strict";
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import type { AwsCredentialIdentity } from "@aws-sdk/types";
import type { AwsEmulator, AwsEmulatorConfigInput } from "./index.ts";

/** Fixtures shared by the emulator's own tests. */
export const T = {
  operatorAccount: "111111111111",
  operatorArn: "arn:aws:iam::111111111111:user/relay",
  operator: { accessKeyId: "TEST-OPERATOR-KEY-0001", secretAccessKey: "operator-secret" },
  stranger: { accessKeyId: "TEST-STRANGER-KEY-0001", secretAccessKey: "stranger-secret" },
  /** An ECS-task-like role session of the operator: its AssumeRole calls are role chaining. */
  taskSession: {
    accessKeyId: "ASIATESTTASKSESSION1",
    secretAccessKey: "task-secret",
    sessionToken: "task-session-token",
  },
  writerRole: "arn:aws:iam::222222222222:role/RecordingWriter",
  prefixRole: "arn:aws:iam::222222222222:role/PrefixWriter",
  shortRole: "arn:aws:iam::222222222222:role/ShortSessions",
  hopRole: "arn:aws:iam::111111111111:role/relay-hop",
  externalId: "ext-123",
  bucket: "acme-recs",
  region: "eu-west-1",
  usBucket: "us-recs",
  otherBucket: "other-recs",
} as const;

/** A customer setup with a 12 h writer role, a prefix-scoped role and a 1 h role. */
export function testConfig(
  overrides: Partial<AwsEmulatorConfigInput> = {},
): AwsEmulatorConfigInput {
  const trust = {
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow" as const,
        Principal: { AWS: `arn:aws:iam::${T.operatorAccount}:root` },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "sts:ExternalId": T.externalId } },
      },
    ],
  };
  return {
    identities: [
      {
        arn: T.operatorArn,
        accessKeyId: T.operator.accessKeyId,
        secretAccessKey: T.operator.secretAccessKey,
      },
      {
        arn: "arn:aws:iam::999999999999:user/stranger",
        accessKeyId: T.stranger.accessKeyId,
        secretAccessKey: T.stranger.secretAccessKey,
      },
      {
        arn: "arn:aws:sts::111111111111:assumed-role/relay-task/ecs-task-1",
        accessKeyId: T.taskSession.accessKeyId,
        secretAccessKey: T.taskSession.secretAccessKey,
        sessionToken: T.taskSession.sessionToken,
      },
    ],
    roles: [
      {
        arn: T.writerRole,
        maxSessionDurationSeconds: 43_200,
        trustPolicy: trust,
        permissions: [
          { bucket: T.bucket, actions: ["s3:*"] },
          { bucket: T.usBucket, actions: ["s3:*"] },
          { bucket: T.otherBucket, actions: ["s3:*"] },
        ],
      },
      {
        arn: T.prefixRole,
        maxSessionDurationSeconds: 43_200,
        trustPolicy: trust,
        permissions: [
          {
            bucket: T.bucket,
            prefix: "tavus/",
            actions: ["s3:PutObject", "s3:AbortMultipartUpload"],
          },
        ],
      },
      { arn: T.shortRole, trustPolicy: trust, permissions: [] },
      {
        // A role of the operator's own account: its sessions are trusted by the customer roles
        // (account principal), so assuming a customer role from it is role chaining.
        arn: T.hopRole,
        maxSessionDurationSeconds: 43_200,
        trustPolicy: {
          Statement: [
            { Effect: "Allow", Principal: { AWS: T.operatorArn }, Action: "sts:AssumeRole" },
          ],
        },
      },
    ],
    buckets: [
      { name: T.bucket, region: T.region },
      { name: T.usBucket, region: "us-east-1" },
      { name: T.otherBucket, region: "us-west-2" },
    ],
    ...overrides,
  };
}

/** An STS client for the emulator. */
export function stsClient(
  emulator: AwsEmulator,
  credentials: AwsCredentialIdentity,
  region = "us-east-1",
): STSClient {
  // A copy: the SDK annotates the credentials object it is given.
  return new STSClient({
    region,
    endpoint: emulator.endpoint,
    credentials: { ...credentials },
    maxAttempts: 1,
  });
}

/** Assumes a role as the operator and returns the temporary credentials. */
export async function assume(
  emulator: AwsEmulator,
  roleArn: string = T.writerRole,
  durationSeconds = 3600,
): Promise<AwsCredentialIdentity> {
  const out = await stsClient(emulator, T.operator).send(
    new AssumeRoleCommand({
      RoleArn: roleArn,
      RoleSessionName: "test-session",
      ExternalId: T.externalId,
      DurationSeconds: durationSeconds,
    }),
  );
  const c = out.Credentials!;
  return {
    accessKeyId: c.AccessKeyId!,
    secretAccessKey: c.SecretAccessKey!,
    sessionToken: c.SessionToken!,
    expiration: c.Expiration!,
  };
}

/** An S3 client configured the way the relay must configure one for the emulator. */
export function s3Client(
  emulator: AwsEmulator,
  credentials: S3ClientConfig["credentials"],
  region: string = T.region,
  extra: Partial<S3ClientConfig> = {},
): S3Client {
  return new S3Client({
    region,
    endpoint: emulator.endpoint,
    forcePathStyle: true,
    credentials,
    maxAttempts: 1,
    ...extra,
  });
}

/** Asserts that an SDK call fails with the AWS error code and HTTP status. */
export async function rejectsWith(
  promise: Promise<unknown>,
  code: string,
  status: number,
  message?: string | RegExp,
): Promise<
  Error & {
    $metadata?: { httpStatusCode?: number };
    $response?: { headers: Record<string, string> };
  }
> {
  try {
    await promise;
  } catch (error) {
    const e = error as Error & { $metadata?: { httpStatusCode?: number }; Code?: string };
    assert.equal(e.name, code, `expected ${code}, got ${e.name}: ${e.message}`);
    assert.equal(e.$metadata?.httpStatusCode, status);
    if (typeof message === "string") assert.equal(e.message, message);
    else if (message) assert.match(e.message, message);
    return e;
  }
  assert.fail(`expected ${code} (${status}) but the call succeeded`);
}
