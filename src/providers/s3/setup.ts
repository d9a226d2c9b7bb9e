// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the generated shell and Terraform interpolate ${...} themselves.
/**
 * S3 setup: an IAM role in the customer's account that trusts only the relay's AWS account, only
 * with the workspace's ExternalId, with a session long enough for the relay's AssumeRole, and that
 * may only write recordings under the key prefix (docs/security.md).
 */
import { keyTemplatePermissionPrefix, verifyProbePrefix } from "../../domain/key-template.ts";
import type { RelayTrust } from "../../domain/trust.ts";
import { AppError } from "../../errors/index.ts";
import {
  fillIn,
  fillInMarker,
  hclString,
  hclVariable,
  insecureIssuerWarning,
  type Placeholder,
  placeholderGuard,
  type SetupGuide,
  type SetupInput,
  scriptHeader,
  shellQuote,
  warningComment,
} from "../../setup/guide.ts";
import { partitionOfRegion } from "./field-rules.ts";
import type { S3Storage } from "./storage.ts";
import { AWS_WEB_IDENTITY_AUDIENCE, externalIdFor, requiredMaxSessionSeconds } from "./trust.ts";

/**
 * The actions granted on the key prefix, each with the reason the relay needs it. Nothing else is
 * granted: no s3:ListBucket (a HEAD of a missing key then answers 403 instead of 404, which the
 * relay treats as "not there yet" rather than asking for the right to list your keys), no
 * s3:PutObjectAcl (the relay never changes ownership or ACLs), no bucket-level action at all.
 */
export const s3WriteActions: [action: string, why: string][] = [
  [
    "s3:PutObject",
    "upload the recording: PutObject, and CreateMultipartUpload/UploadPart/CompleteMultipartUpload of streamed recordings, all authorize as s3:PutObject",
  ],
  [
    "s3:AbortMultipartUpload",
    "abandon a failed streamed upload so its parts do not linger (and bill) in your bucket",
  ],
  [
    "s3:ListMultipartUploadParts",
    "resume a streamed upload after a worker restart: ListParts tells which parts already landed",
  ],
  [
    "s3:GetObject",
    "HeadObject (authorized as s3:GetObject) on redelivery: an object already present with the same size and checksum counts as delivered instead of being uploaded again",
  ],
];

/** Why delete is granted, on the verify probe's folder only. */
export const s3ProbeDeleteWhy =
  "remove the small test object POST /v2/recording-storage/verify writes; limited to the probe folder, so the relay can never delete a recording";

/**
 * Throws the 409 that tells an operator which setting S3 needs: the operator's AWS account in
 * `assume_role` mode (`web_identity` needs none: the customer trusts the relay's issuer).
 */
export function requireAwsAccount(trust: Pick<RelayTrust, "awsAuthMode" | "awsAccountId">): void {
  if (trust.awsAuthMode === "web_identity") return;
  operatorAccount(trust.awsAccountId);
}

function operatorAccount(accountId: string | undefined): string {
  if (accountId === undefined) {
    throw new AppError(
      "NOT_CONFIGURED",
      "S3 destinations are not available: the relay's operator has not set RELAY_AWS_ACCOUNT_ID (the AWS account customers' role trust policies must name)",
      { details: { setting: "RELAY_AWS_ACCOUNT_ID" } },
    );
  }
  return accountId;
}

/** The S3 setup guide of the relay's auth mode. */
export function awsSetup(input: SetupInput<S3Storage>): SetupGuide {
  return input.trust.awsAuthMode === "web_identity"
    ? webIdentitySetup(input)
    : assumeRoleSetup(input);
}

/** What both modes share: names, placeholders and the role's permissions. */
function commonParts(input: SetupInput<S3Storage>) {
  const { workspaceId, trust, keyTemplate, known } = input;
  const maxSessionSeconds = requiredMaxSessionSeconds(trust);
  const prefix = keyTemplatePermissionPrefix(keyTemplate);
  const probePrefix = verifyProbePrefix(keyTemplate);
  const roleName = known ? known.assume_role_arn.split("/").pop()! : "recording-relay-writer";
  const bucket = known?.bucket_name ?? fillIn("bucket-name");
  const region = known?.bucket_region ?? fillIn("bucket-region");
  const partition = known ? partitionOfRegion(known.bucket_region) : "aws";
  const placeholders: Placeholder[] = [];
  if (!known) {
    placeholders.push(
      { name: "BUCKET", description: "the existing S3 bucket recordings go to" },
      { name: "BUCKET_REGION", description: "the bucket's region, e.g. eu-west-1" },
    );
  }
  const fill = fillInMarker(placeholders);
  const description = `recording-relay writes conversation recordings (workspace ${workspaceId})`;

  const cliVariables = [
    `BUCKET=${shellQuote(bucket)}${fill("BUCKET")}`,
    `BUCKET_REGION=${shellQuote(region)}${fill("BUCKET_REGION")}`,
    `ROLE_NAME=${shellQuote(roleName)}`,
    "",
    "# From the relay (do not change):",
  ];
  const cliSessionAndPrefixes = [
    `MAX_SESSION_SECONDS=${maxSessionSeconds}  # the relay asks for ${trust.awsRoleSessionSeconds} s sessions; a shorter maximum fails the role assumption`,
    `KEY_PREFIX=${shellQuote(prefix)}  # every recording key starts with this (your key_template)`,
    `PROBE_PREFIX=${shellQuote(probePrefix)}  # where the verify diagnostic writes and removes its test object`,
    "",
    ...placeholderGuard(placeholders.map((p) => p.name)),
  ];
  const cliCreateRole = [
    'aws iam create-role --role-name "$ROLE_NAME" \\',
    `  --description ${shellQuote(description)} \\`,
    '  --max-session-duration "$MAX_SESSION_SECONDS" \\',
    "  --assume-role-policy-document file://recording-relay-trust.json",
  ];
  const cliPermissions = (step: number) => [
    `# ${step}. Its only permissions, on objects under the key prefix:`,
    ...s3WriteActions.map(([action, why]) => `#    ${action}: ${why}.`),
    `#    s3:DeleteObject, on the probe folder only: ${s3ProbeDeleteWhy}.`,
    "#    If the bucket uses SSE-KMS with a customer-managed key, also allow kms:GenerateDataKey",
    "#    and kms:Decrypt on that key (multipart uploads need both).",
    "cat > recording-relay-permissions.json <<EOF",
    "{",
    '  "Version": "2012-10-17",',
    '  "Statement": [',
    "    {",
    '      "Sid": "WriteRecordings",',
    '      "Effect": "Allow",',
    `      "Action": [${s3WriteActions.map(([action]) => `"${action}"`).join(", ")}],`,
    '      "Resource": "arn:${PARTITION}:s3:::${BUCKET}/${KEY_PREFIX}*"',
    "    },",
    "    {",
    '      "Sid": "RemoveVerifyProbe",',
    '      "Effect": "Allow",',
    '      "Action": "s3:DeleteObject",',
    '      "Resource": "arn:${PARTITION}:s3:::${BUCKET}/${PROBE_PREFIX}*"',
    "    }",
    "  ]",
    "}",
    "EOF",
    'aws iam put-role-policy --role-name "$ROLE_NAME" --policy-name recording-relay-write \\',
    "  --policy-document file://recording-relay-permissions.json",
    "",
    `# ${step + 1}. Send this as recording_storage (POST /v2/conversations, or PUT /v2/recording-storage):`,
    'ROLE_ARN=$(aws iam get-role --role-name "$ROLE_NAME" --query Role.Arn --output text)',
    "cat <<EOF",
    `{"provider": "s3", "bucket_name": "\${BUCKET}", "bucket_region": "\${BUCKET_REGION}", "assume_role_arn": "\${ROLE_ARN}", "key_template": ${JSON.stringify(keyTemplate)}}`,
    "EOF",
    "",
  ];

  const terraformVariables = [
    hclVariable(
      "bucket_name",
      "FILL IN: the existing S3 bucket recordings go to",
      known?.bucket_name,
    ),
    "",
    hclVariable(
      "bucket_region",
      "FILL IN: the bucket's region, e.g. eu-west-1",
      known?.bucket_region,
    ),
    "",
    hclVariable("role_name", "Name of the IAM role the relay assumes", roleName),
  ];
  const terraformPermissionsAndOutput = [
    'resource "aws_iam_role_policy" "recording_relay_write" {',
    '  name = "recording-relay-write"',
    "  role = aws_iam_role.recording_relay.id",
    "  policy = jsonencode({",
    '    Version = "2012-10-17"',
    "    Statement = [",
    "      {",
    '        Sid    = "WriteRecordings"',
    '        Effect = "Allow"',
    "        Action = [",
    ...s3WriteActions.flatMap(([action, why]) => [`          # ${why}`, `          "${action}",`]),
    "        ]",
    '        Resource = "arn:${data.aws_partition.current.partition}:s3:::${var.bucket_name}/${local.key_prefix}*"',
    "      },",
    "      {",
    `        # ${s3ProbeDeleteWhy}`,
    '        Sid      = "RemoveVerifyProbe"',
    '        Effect   = "Allow"',
    '        Action   = "s3:DeleteObject"',
    '        Resource = "arn:${data.aws_partition.current.partition}:s3:::${var.bucket_name}/${local.probe_prefix}*"',
    "      },",
    "    ]",
    "  })",
    "}",
    "",
    "# Send this as recording_storage.",
    'output "recording_storage" {',
    "  value = jsonencode({",
    '    provider        = "s3"',
    "    bucket_name     = var.bucket_name",
    "    bucket_region   = var.bucket_region",
    "    assume_role_arn = aws_iam_role.recording_relay.arn",
    `    key_template    = ${hclString(keyTemplate)}`,
    "  })",
    "}",
    "",
  ];
  const recordingStorage = {
    provider: "s3",
    bucket_name: bucket,
    bucket_region: region,
    assume_role_arn:
      known?.assume_role_arn ?? `arn:${partition}:iam::<your-account-id>:role/${roleName}`,
    key_template: keyTemplate,
  };
  const permissionNotes = [
    `MaxSessionDuration must be at least ${maxSessionSeconds} s: the relay requests ${trust.awsRoleSessionSeconds} s sessions, and AWS refuses a longer session than the role allows ("unable to assume role with given parameters" at conversation creation).`,
    `Writes are limited to keys under "${prefix || "(the whole bucket)"}"; if you change key_template, widen the Resource to the new prefix or deliveries fail with DESTINATION_AUTH_FAILED.`,
    ...s3WriteActions.map(([action, why]) => `${action}: ${why}.`),
    `s3:DeleteObject on "${probePrefix}" only: ${s3ProbeDeleteWhy}.`,
    "Recommended: a lifecycle rule with AbortIncompleteMultipartUpload (DaysAfterInitiation 1) on the bucket. The relay aborts the uploads it abandons, but one started in the instant a relay process is killed cannot be named without listing the bucket, which this policy does not grant; it holds no bytes, and the rule removes it.",
  ];
  return {
    maxSessionSeconds,
    prefix,
    probePrefix,
    placeholders,
    description,
    cliVariables,
    cliSessionAndPrefixes,
    cliCreateRole,
    cliPermissions,
    terraformVariables,
    terraformPermissionsAndOutput,
    recordingStorage,
    permissionNotes,
  };
}

/**
 * `web_identity` mode: the relay presents its own token to AssumeRoleWithWebIdentity, so the
 * customer's account gets an IAM OIDC provider for the relay's issuer (audience
 * `sts.amazonaws.com`), and the role trusts that provider for this workspace's `sub` only.
 */
function webIdentitySetup(input: SetupInput<S3Storage>): SetupGuide {
  const { workspaceId, trust } = input;
  const issuerWarning = insecureIssuerWarning(trust.issuerUrl);
  const parts = commonParts(input);
  const issuer = trust.issuerUrl;
  // IAM names the provider, and its condition keys, by the issuer without its scheme.
  const hostPath = issuer.replace(/^https?:\/\//, "");
  const audience = AWS_WEB_IDENTITY_AUDIENCE;

  const cli = [
    ...scriptHeader(
      "S3 (web identity)",
      workspaceId,
      [
        "Trusts the relay's OIDC issuer in your account (an IAM OIDC provider), and creates one IAM",
        "role that the relay's tokens for this workspace may assume to write recordings into your",
        "bucket, and nothing else. Fill in the values marked FILL IN; the rest comes from the relay.",
      ],
      issuerWarning,
    ),
    ...parts.cliVariables,
    `ISSUER=${shellQuote(issuer)}  # the exact iss of the relay's tokens`,
    `ISSUER_HOST_PATH=${shellQuote(hostPath)}  # the issuer without https://: IAM's name for the provider and its condition keys`,
    `AUDIENCE=${shellQuote(audience)}  # the aud of every token the relay presents to AWS STS`,
    `WORKSPACE_ID=${shellQuote(workspaceId)}  # the sub of your workspace's tokens`,
    ...parts.cliSessionAndPrefixes,
    "# The partition (aws, aws-cn, aws-us-gov) and account you are signed in to.",
    "CALLER_ARN=$(aws sts get-caller-identity --query Arn --output text)",
    'PARTITION=$(echo "$CALLER_ARN" | cut -d: -f2)',
    'ACCOUNT_ID=$(echo "$CALLER_ARN" | cut -d: -f5)',
    'OIDC_PROVIDER_ARN="arn:${PARTITION}:iam::${ACCOUNT_ID}:oidc-provider/${ISSUER_HOST_PATH}"',
    "",
    "# 1. An IAM OIDC provider for the relay's issuer, accepting the STS audience. An account has",
    "#    one per issuer: if another workspace of this relay already created it, add the audience.",
    'if aws iam get-open-id-connect-provider --open-id-connect-provider-arn "$OIDC_PROVIDER_ARN" >/dev/null 2>&1; then',
    '  aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn "$OIDC_PROVIDER_ARN" --client-id "$AUDIENCE"',
    "else",
    '  aws iam create-open-id-connect-provider --url "$ISSUER" --client-id-list "$AUDIENCE"',
    "fi",
    "",
    "# 2. The role: only tokens of that provider, with the STS audience and your Workspace ID as",
    "#    sub (the issuer is shared by every customer of the relay: sub keeps the others out),",
    "#    through sts:AssumeRoleWithWebIdentity and no other action.",
    "cat > recording-relay-trust.json <<EOF",
    "{",
    '  "Version": "2012-10-17",',
    '  "Statement": [',
    "    {",
    '      "Sid": "RecordingRelayWebIdentity",',
    '      "Effect": "Allow",',
    '      "Principal": { "Federated": "${OIDC_PROVIDER_ARN}" },',
    '      "Action": "sts:AssumeRoleWithWebIdentity",',
    '      "Condition": {',
    '        "StringEquals": {',
    '          "${ISSUER_HOST_PATH}:aud": "${AUDIENCE}",',
    '          "${ISSUER_HOST_PATH}:sub": "${WORKSPACE_ID}"',
    "        }",
    "      }",
    "    }",
    "  ]",
    "}",
    "EOF",
    ...parts.cliCreateRole,
    "",
    ...parts.cliPermissions(3),
  ].join("\n");

  const terraform = [
    `# recording-relay: S3 setup (web identity) for workspace ${workspaceId}.`,
    "# An IAM OIDC provider for the relay's issuer and one IAM role the relay's tokens for this",
    "# workspace may assume to write recordings, and nothing else. Variables without a default are",
    "# yours to fill in (terraform asks for them); the locals come from the relay.",
    ...warningComment(issuerWarning),
    "",
    "terraform {",
    "  required_providers {",
    "    # 6.0 or later: thumbprint_list is optional (IAM checks the issuer's certificate itself).",
    "    aws = {",
    '      source  = "hashicorp/aws"',
    '      version = ">= 6.0"',
    "    }",
    "  }",
    "}",
    "",
    ...parts.terraformVariables,
    "",
    'variable "create_oidc_provider" {',
    `  description = ${hclString("false when this account already has an IAM OIDC provider for the relay's issuer (another workspace of the same relay): it is then looked up, and must list sts.amazonaws.com among its client ids")}`,
    "  type        = bool",
    "  default     = true",
    "}",
    "",
    'provider "aws" {',
    "  region = var.bucket_region",
    "}",
    "",
    "# From the relay (do not change).",
    "locals {",
    `  issuer_url          = ${hclString(issuer)}`,
    `  issuer_host_path    = ${hclString(hostPath)}`,
    `  audience            = ${hclString(audience)}`,
    `  workspace_id        = ${hclString(workspaceId)}`,
    `  max_session_seconds = ${parts.maxSessionSeconds}`,
    `  key_prefix          = ${hclString(parts.prefix)}`,
    `  probe_prefix        = ${hclString(parts.probePrefix)}`,
    "}",
    "",
    'data "aws_partition" "current" {}',
    "",
    "# The relay's issuer, accepting the audience the relay sends to AWS STS.",
    'resource "aws_iam_openid_connect_provider" "recording_relay" {',
    "  count          = var.create_oidc_provider ? 1 : 0",
    "  url            = local.issuer_url",
    "  client_id_list = [local.audience]",
    "}",
    "",
    'data "aws_iam_openid_connect_provider" "existing" {',
    "  count = var.create_oidc_provider ? 0 : 1",
    "  url   = local.issuer_url",
    "}",
    "",
    "locals {",
    "  oidc_provider_arn = var.create_oidc_provider ? aws_iam_openid_connect_provider.recording_relay[0].arn : data.aws_iam_openid_connect_provider.existing[0].arn",
    "}",
    "",
    'resource "aws_iam_role" "recording_relay" {',
    "  name        = var.role_name",
    `  description = ${hclString(parts.description)}`,
    "  # The relay asks for sessions this long; a shorter maximum makes the assumption fail.",
    "  max_session_duration = local.max_session_seconds",
    "  # Only the relay's tokens for your workspace (sub), with the STS audience: the issuer is",
    "  # shared by every customer of the relay.",
    "  assume_role_policy = jsonencode({",
    '    Version = "2012-10-17"',
    "    Statement = [{",
    '      Sid       = "RecordingRelayWebIdentity"',
    '      Effect    = "Allow"',
    "      Principal = { Federated = local.oidc_provider_arn }",
    '      Action    = "sts:AssumeRoleWithWebIdentity"',
    "      Condition = {",
    "        StringEquals = {",
    '          "${local.issuer_host_path}:aud" = local.audience',
    '          "${local.issuer_host_path}:sub" = local.workspace_id',
    "        }",
    "      }",
    "    }]",
    "  })",
    "}",
    "",
    ...parts.terraformPermissionsAndOutput,
  ].join("\n");

  return {
    provider: "s3",
    workspace_id: workspaceId,
    relay_identity: {
      auth_mode: "web_identity",
      issuer,
      subject: workspaceId,
      audience,
      role_session_seconds: trust.awsRoleSessionSeconds,
      required_max_session_duration: parts.maxSessionSeconds,
    },
    placeholders: parts.placeholders,
    cli,
    terraform,
    recording_storage: parts.recordingStorage,
    notes: [
      ...(issuerWarning ? [`WARNING: ${issuerWarning}`] : []),
      `The relay assumes the role with sts:AssumeRoleWithWebIdentity and its own token (iss ${issuer}, aud ${audience}, sub ${workspaceId}); it holds no AWS credentials of its own. The role trusts the IAM OIDC provider ${hostPath} only for sub ${workspaceId}: tokens the relay mints for any other workspace are refused.`,
      `One IAM OIDC provider per issuer and account: if another workspace of this relay already created it, the script adds the audience ${audience} to it (Terraform: set create_oidc_provider = false).`,
      ...parts.permissionNotes,
    ],
  };
}

/** `assume_role` mode: the operator's account with the ExternalId. */
function assumeRoleSetup(input: SetupInput<S3Storage>): SetupGuide {
  const { workspaceId, trust } = input;
  const accountId = operatorAccount(trust.awsAccountId);
  const externalId = externalIdFor(trust, workspaceId);
  const parts = commonParts(input);
  const externalIdNote =
    trust.awsExternalIdMode === "workspace"
      ? "your Workspace ID, which the relay sends as ExternalId"
      : "the relay's ExternalId";

  const cli = [
    ...scriptHeader("S3", workspaceId, [
      "Creates one IAM role that the relay assumes to write recordings into your bucket, and",
      "nothing else. Fill in the values marked FILL IN; everything else comes from the relay.",
    ]),
    ...parts.cliVariables,
    `RELAY_AWS_ACCOUNT=${shellQuote(accountId)}  # the only principal the role trusts`,
    `EXTERNAL_ID=${shellQuote(externalId)}  # ${externalIdNote}`,
    ...parts.cliSessionAndPrefixes,
    "# The partition (aws, aws-cn, aws-us-gov) of the account you are signed in to.",
    "PARTITION=$(aws sts get-caller-identity --query Arn --output text | cut -d: -f2)",
    "",
    "# 1. The role: only the relay's account may assume it, and only with the ExternalId",
    "#    (the confused-deputy guard). No other action than sts:AssumeRole is trusted.",
    "cat > recording-relay-trust.json <<EOF",
    "{",
    '  "Version": "2012-10-17",',
    '  "Statement": [',
    "    {",
    '      "Sid": "RecordingRelayAssumeRole",',
    '      "Effect": "Allow",',
    '      "Principal": { "AWS": "arn:${PARTITION}:iam::${RELAY_AWS_ACCOUNT}:root" },',
    '      "Action": "sts:AssumeRole",',
    '      "Condition": { "StringEquals": { "sts:ExternalId": "${EXTERNAL_ID}" } }',
    "    }",
    "  ]",
    "}",
    "EOF",
    ...parts.cliCreateRole,
    "",
    ...parts.cliPermissions(2),
  ].join("\n");

  const terraform = [
    `# recording-relay: S3 setup for workspace ${workspaceId}.`,
    "# One IAM role the relay assumes to write recordings, and nothing else. Variables without a",
    "# default are yours to fill in (terraform asks for them); the locals come from the relay.",
    "",
    "terraform {",
    "  required_providers {",
    "    aws = {",
    '      source  = "hashicorp/aws"',
    '      version = ">= 5.0"',
    "    }",
    "  }",
    "}",
    "",
    ...parts.terraformVariables,
    "",
    'provider "aws" {',
    "  region = var.bucket_region",
    "}",
    "",
    "# From the relay (do not change).",
    "locals {",
    `  relay_aws_account_id = ${hclString(accountId)}`,
    `  external_id          = ${hclString(externalId)}`,
    `  max_session_seconds  = ${parts.maxSessionSeconds}`,
    `  key_prefix           = ${hclString(parts.prefix)}`,
    `  probe_prefix         = ${hclString(parts.probePrefix)}`,
    "}",
    "",
    'data "aws_partition" "current" {}',
    "",
    'resource "aws_iam_role" "recording_relay" {',
    "  name        = var.role_name",
    `  description = ${hclString(parts.description)}`,
    "  # The relay asks for sessions this long; a shorter maximum makes AssumeRole fail.",
    "  max_session_duration = local.max_session_seconds",
    "  # Only the relay's account, only with the ExternalId (the confused-deputy guard).",
    "  assume_role_policy = jsonencode({",
    '    Version = "2012-10-17"',
    "    Statement = [{",
    '      Sid       = "RecordingRelayAssumeRole"',
    '      Effect    = "Allow"',
    '      Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${local.relay_aws_account_id}:root" }',
    '      Action    = "sts:AssumeRole"',
    '      Condition = { StringEquals = { "sts:ExternalId" = local.external_id } }',
    "    }]",
    "  })",
    "}",
    "",
    ...parts.terraformPermissionsAndOutput,
  ].join("\n");

  return {
    provider: "s3",
    workspace_id: workspaceId,
    relay_identity: {
      trusted_aws_account_id: accountId,
      external_id: externalId,
      external_id_mode: trust.awsExternalIdMode,
      role_session_seconds: trust.awsRoleSessionSeconds,
      required_max_session_duration: parts.maxSessionSeconds,
    },
    placeholders: parts.placeholders,
    cli,
    terraform,
    recording_storage: parts.recordingStorage,
    notes: [
      `The role trusts the relay's AWS account ${accountId} only when it presents ExternalId ${externalId}; every other caller, and the relay acting for another workspace, is refused.`,
      ...parts.permissionNotes,
    ],
  };
}
