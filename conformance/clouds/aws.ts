// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the Terraform overrides interpolate ${...} themselves.
/**
 * Step 1 against a real AWS account: the caller's identity (the first call, so wrong credentials
 * fail here with AWS's own error), a uniquely named bucket, then the S3 guide (assume_role mode,
 * ExternalId = Workspace ID, the account trusting itself) applied with Terraform into a uniquely
 * named role. The relay assumes it with the same credentials (the SDK's default chain).
 * Breaking: the role's ExternalId condition names another value.
 */
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import type { Cleanups } from "../cleanup.ts";
import type { Customer } from "../journey.ts";
import { guideFromRelay, TerraformWorkspace, terraformFiles } from "../terraform.ts";
import { type CloudContext, refusedMeansAbsent } from "./context.ts";
import { digestOf } from "./digest.ts";

export async function awsCustomer(context: CloudContext, cleanups: Cleanups): Promise<Customer> {
  const { relay, env, say, signal, suffix } = context;
  const region = env.CONFORMANCE_AWS_REGION!;
  const sts = new STSClient({ region });
  const identity = await sts.send(new GetCallerIdentityCommand({}), { abortSignal: signal });
  const accountId = identity.Account!;
  say(`  AWS account ${accountId} (${identity.Arn})`);

  const bucket = `rr-conformance-${suffix}`;
  const roleName = `rr-conformance-${suffix}`;
  const s3 = new S3Client({ region });
  // Registered first: a creation interrupted in flight may still have happened. A creation the
  // cloud refused left nothing.
  let mayExist = true;
  cleanups.add({
    what: `S3 bucket ${bucket} (${region}) and its objects`,
    manually: `aws s3 rb s3://${bucket} --force --region ${region}`,
    run: async () => {
      if (mayExist) await emptyAndDeleteBucket(s3, bucket);
    },
  });
  await refusedMeansAbsent(
    signal,
    () => {
      mayExist = false;
    },
    s3.send(
      new CreateBucketCommand({
        Bucket: bucket,
        ...(region === "us-east-1"
          ? {}
          : { CreateBucketConfiguration: { LocationConstraint: region as never } }),
      }),
      { abortSignal: signal },
    ),
  );
  say(`  created bucket ${bucket} in ${region}`);

  // The relay trusts this account: the guide's role names it, with the Workspace ID as ExternalId.
  await relay.restart({
    RELAY_AWS_AUTH_MODE: "assume_role",
    RELAY_AWS_ACCOUNT_ID: accountId,
    RELAY_AWS_EXTERNAL_ID_MODE: "workspace",
  });
  const guide = await guideFromRelay(relay, "s3");
  const terraform = await TerraformWorkspace.create(
    terraformFiles(guide, { bucket_name: bucket, bucket_region: region, role_name: roleName }),
    cleanups,
    `IAM role ${roleName} and its policy`,
    signal,
    say,
  );
  await terraform.init();
  await terraform.apply();
  const storage = JSON.parse(await terraform.output("recording_storage")) as Record<
    string,
    unknown
  >;
  return {
    provider: "s3",
    storage,
    breakDescription: `the trust policy of role ${roleName} now requires another ExternalId (Terraform override)`,
    breakTrust: () =>
      terraform.applyOverride(
        [
          'resource "aws_iam_role" "recording_relay" {',
          "  assume_role_policy = jsonencode({",
          '    Version = "2012-10-17"',
          "    Statement = [{",
          '      Effect    = "Allow"',
          '      Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${local.relay_aws_account_id}:root" }',
          '      Action    = "sts:AssumeRole"',
          '      Condition = { StringEquals = { "sts:ExternalId" = "conformance-broken" } }',
          "    }]",
          "  })",
          "}",
          "",
        ].join("\n"),
      ),
    restoreTrust: () => terraform.applyOverride(undefined),
    async download(key) {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return await digestOf(object.Body as AsyncIterable<Uint8Array>);
    },
    expectedHint: /ExternalId|trust/i,
  };
}

async function emptyAndDeleteBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await emptyBucket(s3, bucket);
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
  } catch (error) {
    if ((error as { name?: string }).name !== "NoSuchBucket") throw error;
  }
}

async function emptyBucket(s3: S3Client, bucket: string): Promise<void> {
  for (;;) {
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    for (const upload of uploads.Uploads ?? []) {
      await s3.send(
        new AbortMultipartUploadCommand({
          Bucket: bucket,
          Key: upload.Key!,
          UploadId: upload.UploadId!,
        }),
      );
    }
    if (!uploads.IsTruncated) break;
  }
  for (;;) {
    const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
    const objects = [...(listed.Versions ?? []), ...(listed.DeleteMarkers ?? [])].map((v) => ({
      Key: v.Key!,
      VersionId: v.VersionId,
    }));
    if (objects.length > 0) {
      await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects } }));
    }
    if (!listed.IsTruncated) break;
  }
}
