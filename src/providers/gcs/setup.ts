// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the generated shell and Terraform interpolate ${...} themselves.
/**
 * GCS setup (docs/security.md): a Workload Identity pool and OIDC provider trusting the
 * relay's issuer, admitting only tokens whose `customer_id` is this workspace; a service account
 * only this workspace's federated identity may impersonate; and object permissions on the bucket
 * limited to the key prefix.
 */
import {
  keyTemplateOverwrites,
  keyTemplatePermissionPrefix,
  verifyProbePrefix,
} from "../../domain/key-template.ts";
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
import type { GcsStorage } from "./storage.ts";
import { gcpAudience } from "./trust.ts";

/** Permissions of the writer role, each with the reason the relay needs it. */
export const gcsWritePermissions: [permission: string, why: string][] = [
  ["storage.objects.create", "upload the recording (a resumable upload needs only this)"],
  [
    "storage.objects.get",
    "read the object's metadata on redelivery: an object already present with the same size and CRC32C counts as delivered instead of being uploaded again",
  ],
];

const overwriteWhy =
  "GCS requires it to replace an object, and your key_template has no {epoch_ms}, so a later recording of a conversation replaces the earlier one";
const probeWhy =
  "remove the small test object POST /v2/recording-storage/verify writes; limited to the probe folder, so the relay can never delete a recording";

/** The GCS setup guide. */
export function gcpSetup(input: SetupInput<GcsStorage>): SetupGuide {
  const { workspaceId, trust, keyTemplate } = input;
  const issuerWarning = insecureIssuerWarning(trust.issuerUrl);
  const { known } = input;
  const prefix = keyTemplatePermissionPrefix(keyTemplate);
  const probePrefix = verifyProbePrefix(keyTemplate);
  const overwrites = keyTemplateOverwrites(keyTemplate);
  const [saName, saDomain] = known
    ? known.service_account_email.split("@")
    : ["recording-relay-writer", undefined];
  const projectId = saDomain?.replace(/\.iam\.gserviceaccount\.com$/, "") ?? fillIn("project-id");
  const bucket = known?.bucket_name ?? fillIn("bucket-name");
  const poolId = known?.workload_identity_pool_id ?? "recording-relay-pool";
  const providerId = known?.workload_identity_provider_id ?? "recording-relay";
  const writerPermissions = [
    ...gcsWritePermissions,
    ...(overwrites ? [["storage.objects.delete", overwriteWhy] as [string, string]] : []),
  ];

  const placeholders: Placeholder[] = known
    ? []
    : [
        { name: "PROJECT_ID", description: "the GCP project that holds the bucket" },
        { name: "BUCKET", description: "the existing GCS bucket recordings go to" },
      ];
  const fill = fillInMarker(placeholders);
  const principalSet = (projectNumber: string) =>
    `principalSet://iam.googleapis.com/projects/${projectNumber}/locations/global/workloadIdentityPools/${poolId}/attribute.customer_id/${workspaceId}`;

  const cli = [
    ...scriptHeader(
      "GCS",
      workspaceId,
      [
        "Trusts the relay's OIDC issuer for this workspace only, and lets that identity write",
        "recordings under the key prefix of one bucket. Fill in the values marked FILL IN.",
      ],
      issuerWarning,
    ),
    `PROJECT_ID=${shellQuote(projectId)}${fill("PROJECT_ID")}`,
    `BUCKET=${shellQuote(bucket)}${fill("BUCKET")}`,
    `POOL_ID=${shellQuote(poolId)}`,
    `PROVIDER_ID=${shellQuote(providerId)}`,
    `SA_NAME=${shellQuote(saName!)}`,
    "",
    "# From the relay (do not change):",
    `ISSUER=${shellQuote(trust.issuerUrl)}  # the exact iss of the relay's tokens`,
    `WORKSPACE_ID=${shellQuote(workspaceId)}  # the sub and customer_id of your tokens`,
    `KEY_PREFIX=${shellQuote(prefix)}  # every recording key starts with this (your key_template)`,
    `PROBE_PREFIX=${shellQuote(probePrefix)}  # where the verify diagnostic writes and removes its test object`,
    "",
    ...placeholderGuard(placeholders.map((p) => p.name)),
    `PROJECT_NUMBER=$(gcloud projects describe "$PROJECT_ID" --format='value(projectNumber)')`,
    "",
    "# A service account just created can take up to 60 s to be usable in IAM policies (Google",
    "# documents the delay): retries a command every 5 s for up to 2 minutes, then gives up.",
    "retry_while_propagating() {",
    "  local attempt",
    "  for attempt in $(seq 1 24); do",
    '    if "$@"; then return 0; fi',
    '    if [ "$attempt" -eq 24 ]; then',
    '      echo "gave up after 2 minutes: the service account is still not visible to IAM; run this script again" >&2',
    "      return 1",
    "    fi",
    '    echo "the service account is not visible yet (attempt $attempt); retrying in 5 s" >&2',
    "    sleep 5",
    "  done",
    "}",
    'SA_EMAIL="${SA_NAME}@${PROJECT_ID}.iam.gserviceaccount.com"',
    "",
    "# 0. The APIs token exchange and impersonation go through.",
    'gcloud services enable iam.googleapis.com iamcredentials.googleapis.com sts.googleapis.com --project="$PROJECT_ID"',
    "",
    "# 1. A pool, and an OIDC provider trusting the relay's issuer. The audience stays the default",
    "#    (the provider's own resource name), which is what the relay puts in aud. The condition",
    "#    admits only tokens minted for your workspace: the issuer is shared by every customer.",
    'gcloud iam workload-identity-pools create "$POOL_ID" --project="$PROJECT_ID" --location=global \\',
    '  --display-name="Recording relay"',
    'gcloud iam workload-identity-pools providers create-oidc "$PROVIDER_ID" --project="$PROJECT_ID" \\',
    '  --location=global --workload-identity-pool="$POOL_ID" --display-name="Recording relay" \\',
    '  --issuer-uri="$ISSUER" \\',
    '  --attribute-mapping="google.subject=assertion.sub,attribute.customer_id=assertion.customer_id" \\',
    `  --attribute-condition="assertion.customer_id == '\${WORKSPACE_ID}'"`,
    "",
    "# 2. The service account the relay impersonates; it gets no project-level role at all.",
    'gcloud iam service-accounts create "$SA_NAME" --project="$PROJECT_ID" \\',
    '  --display-name="Recording relay writer"',
    "",
    "# 3. Only your workspace's federated identity may impersonate it",
    "#    (roles/iam.workloadIdentityUser on this one service account).",
    'retry_while_propagating gcloud iam service-accounts add-iam-policy-binding "$SA_EMAIL" --project="$PROJECT_ID" \\',
    "  --role=roles/iam.workloadIdentityUser \\",
    '  --member="principalSet://iam.googleapis.com/projects/${PROJECT_NUMBER}/locations/global/workloadIdentityPools/${POOL_ID}/attribute.customer_id/${WORKSPACE_ID}"',
    "",
    "# 4. Object permissions on the bucket, limited to the key prefix by an IAM condition.",
    "#    IAM conditions need uniform bucket-level access (no object ACLs) on the bucket:",
    'gcloud storage buckets update "gs://${BUCKET}" --uniform-bucket-level-access',
    ...writerPermissions.map(([permission, why]) => `#    ${permission}: ${why}.`),
    ...(overwrites ? [] : [`#    storage.objects.delete, on the probe folder only: ${probeWhy}.`]),
    'gcloud iam roles create recordingRelayWriter --project="$PROJECT_ID" --stage=GA \\',
    '  --title="Recording relay writer" \\',
    `  --permissions=${writerPermissions.map(([permission]) => permission).join(",")}`,
    'retry_while_propagating gcloud storage buckets add-iam-policy-binding "gs://${BUCKET}" \\',
    '  --member="serviceAccount:${SA_EMAIL}" --role="projects/${PROJECT_ID}/roles/recordingRelayWriter" \\',
    `  --condition="expression=resource.name.startsWith('projects/_/buckets/\${BUCKET}/objects/\${KEY_PREFIX}'),title=recording-relay-key-prefix"`,
    ...(overwrites
      ? []
      : [
          'gcloud iam roles create recordingRelayProbeCleanup --project="$PROJECT_ID" --stage=GA \\',
          '  --title="Recording relay verify probe cleanup" --permissions=storage.objects.delete',
          'retry_while_propagating gcloud storage buckets add-iam-policy-binding "gs://${BUCKET}" \\',
          '  --member="serviceAccount:${SA_EMAIL}" --role="projects/${PROJECT_ID}/roles/recordingRelayProbeCleanup" \\',
          `  --condition="expression=resource.name.startsWith('projects/_/buckets/\${BUCKET}/objects/\${PROBE_PREFIX}'),title=recording-relay-verify-probe"`,
        ]),
    "",
    "# 5. Send this as recording_storage (POST /v2/conversations, or PUT /v2/recording-storage):",
    "cat <<EOF",
    `{"provider": "gcs", "bucket_name": "\${BUCKET}", "project_number": "\${PROJECT_NUMBER}", "workload_identity_pool_id": "\${POOL_ID}", "workload_identity_provider_id": "\${PROVIDER_ID}", "service_account_email": "\${SA_EMAIL}", "key_template": ${JSON.stringify(keyTemplate)}}`,
    "EOF",
    "",
  ].join("\n");

  const prefixCondition = (local: string) =>
    `"resource.name.startsWith(\\"projects/_/buckets/\${var.bucket_name}/objects/\${local.${local}}\\")"`;

  const terraform = [
    `# recording-relay: GCS setup for workspace ${workspaceId}.`,
    "# Trusts the relay's OIDC issuer for this workspace only, and lets that identity write",
    "# recordings under the key prefix of one bucket. Variables without a default are yours to fill",
    "# in (terraform asks for them); the locals come from the relay.",
    ...warningComment(issuerWarning),
    "",
    "terraform {",
    "  # 1.2 or later: the bucket binding checks uniform bucket-level access in a precondition.",
    '  required_version = ">= 1.2"',
    "  required_providers {",
    "    google = {",
    '      source  = "hashicorp/google"',
    '      version = ">= 5.0"',
    "    }",
    "  }",
    "}",
    "",
    hclVariable(
      "project_id",
      "FILL IN: the GCP project that holds the bucket",
      known ? projectId : undefined,
    ),
    "",
    hclVariable(
      "bucket_name",
      "FILL IN: the existing GCS bucket recordings go to",
      known?.bucket_name,
    ),
    "",
    'provider "google" {',
    "  project = var.project_id",
    "}",
    "",
    "# From the relay (do not change).",
    "locals {",
    `  issuer_uri   = ${hclString(trust.issuerUrl)}`,
    `  workspace_id = ${hclString(workspaceId)}`,
    `  key_prefix   = ${hclString(prefix)}`,
    `  probe_prefix = ${hclString(probePrefix)}`,
    "}",
    "",
    'data "google_project" "this" {',
    "  project_id = var.project_id",
    "}",
    "",
    "# Your existing bucket, looked up (this configuration does not manage it). The conditional",
    "# bindings below need uniform bucket-level access on it: set",
    "# uniform_bucket_level_access = true where the bucket is managed, or run",
    "# gcloud storage buckets update gs://<bucket> --uniform-bucket-level-access",
    'data "google_storage_bucket" "recordings" {',
    "  name = var.bucket_name",
    "}",
    "",
    "# The APIs token exchange and impersonation go through.",
    'resource "google_project_service" "recording_relay" {',
    '  for_each           = toset(["iam.googleapis.com", "iamcredentials.googleapis.com", "sts.googleapis.com"])',
    "  project            = var.project_id",
    "  service            = each.value",
    "  disable_on_destroy = false",
    "}",
    "",
    'resource "google_iam_workload_identity_pool" "recording_relay" {',
    "  project                   = var.project_id",
    `  workload_identity_pool_id = ${hclString(poolId)}`,
    '  display_name              = "Recording relay"',
    "  depends_on                = [google_project_service.recording_relay]",
    "}",
    "",
    "# Trusts the relay's issuer; the audience stays the default (this provider's resource name),",
    "# which is what the relay puts in aud. The condition admits only tokens minted for your",
    "# workspace: the issuer is shared by every customer of the relay.",
    'resource "google_iam_workload_identity_pool_provider" "recording_relay" {',
    "  project                            = var.project_id",
    "  workload_identity_pool_id          = google_iam_workload_identity_pool.recording_relay.workload_identity_pool_id",
    `  workload_identity_pool_provider_id = ${hclString(providerId)}`,
    '  display_name                       = "Recording relay"',
    "  attribute_mapping = {",
    '    "google.subject"        = "assertion.sub"',
    '    "attribute.customer_id" = "assertion.customer_id"',
    "  }",
    '  attribute_condition = "assertion.customer_id == \\"${local.workspace_id}\\""',
    "  oidc {",
    "    issuer_uri = local.issuer_uri",
    "  }",
    "}",
    "",
    "# The service account the relay impersonates; it gets no project-level role at all.",
    'resource "google_service_account" "recording_relay" {',
    "  project      = var.project_id",
    `  account_id   = ${hclString(saName!)}`,
    '  display_name = "Recording relay writer"',
    "  depends_on   = [google_project_service.recording_relay]",
    "}",
    "",
    "# Only your workspace's federated identity may impersonate it.",
    'resource "google_service_account_iam_member" "recording_relay_impersonation" {',
    "  service_account_id = google_service_account.recording_relay.name",
    '  role               = "roles/iam.workloadIdentityUser"',
    '  member             = "principalSet://iam.googleapis.com/${google_iam_workload_identity_pool.recording_relay.name}/attribute.customer_id/${local.workspace_id}"',
    "}",
    "",
    'resource "google_project_iam_custom_role" "recording_relay_writer" {',
    "  project = var.project_id",
    '  role_id = "recordingRelayWriter"',
    '  title   = "Recording relay writer"',
    "  permissions = [",
    ...writerPermissions.flatMap(([permission, why]) => [`    # ${why}`, `    "${permission}",`]),
    "  ]",
    "  depends_on = [google_project_service.recording_relay]",
    "}",
    "",
    "# Limited to the key prefix (IAM conditions need uniform bucket-level access on the bucket).",
    'resource "google_storage_bucket_iam_member" "recording_relay_writer" {',
    "  bucket = data.google_storage_bucket.recordings.name",
    "  role   = google_project_iam_custom_role.recording_relay_writer.name",
    '  member = "serviceAccount:${google_service_account.recording_relay.email}"',
    "  condition {",
    '    title      = "recording-relay-key-prefix"',
    `    expression = ${prefixCondition("key_prefix")}`,
    "  }",
    "  lifecycle {",
    "    precondition {",
    "      condition     = data.google_storage_bucket.recordings.uniform_bucket_level_access",
    '      error_message = "IAM conditions need uniform bucket-level access on the bucket: run gcloud storage buckets update gs://${var.bucket_name} --uniform-bucket-level-access (or set uniform_bucket_level_access = true where the bucket is managed), then apply again."',
    "    }",
    "  }",
    "}",
    ...(overwrites
      ? []
      : [
          "",
          `# ${probeWhy}`,
          'resource "google_project_iam_custom_role" "recording_relay_probe_cleanup" {',
          "  project     = var.project_id",
          '  role_id     = "recordingRelayProbeCleanup"',
          '  title       = "Recording relay verify probe cleanup"',
          '  permissions = ["storage.objects.delete"]',
          "  depends_on  = [google_project_service.recording_relay]",
          "}",
          "",
          'resource "google_storage_bucket_iam_member" "recording_relay_probe_cleanup" {',
          "  bucket = data.google_storage_bucket.recordings.name",
          "  role   = google_project_iam_custom_role.recording_relay_probe_cleanup.name",
          '  member = "serviceAccount:${google_service_account.recording_relay.email}"',
          "  condition {",
          '    title      = "recording-relay-verify-probe"',
          `    expression = ${prefixCondition("probe_prefix")}`,
          "  }",
          "}",
        ]),
    "",
    "# Send this as recording_storage.",
    'output "recording_storage" {',
    "  value = jsonencode({",
    '    provider                      = "gcs"',
    "    bucket_name                   = var.bucket_name",
    "    project_number                = data.google_project.this.number",
    "    workload_identity_pool_id     = google_iam_workload_identity_pool.recording_relay.workload_identity_pool_id",
    "    workload_identity_provider_id = google_iam_workload_identity_pool_provider.recording_relay.workload_identity_pool_provider_id",
    "    service_account_email         = google_service_account.recording_relay.email",
    `    key_template                  = ${hclString(keyTemplate)}`,
    "  })",
    "}",
    "",
  ].join("\n");

  const projectNumber = known?.project_number ?? fillIn("project-number");
  return {
    provider: "gcs",
    workspace_id: workspaceId,
    relay_identity: {
      issuer: trust.issuerUrl,
      subject: workspaceId,
      customer_id: workspaceId,
      audience: gcpAudience(projectNumber, poolId, providerId),
      attribute_mapping: "google.subject=assertion.sub,attribute.customer_id=assertion.customer_id",
      attribute_condition: `assertion.customer_id == '${workspaceId}'`,
      principal_set: principalSet(projectNumber),
    },
    placeholders,
    cli,
    terraform,
    recording_storage: {
      provider: "gcs",
      bucket_name: bucket,
      project_number: projectNumber,
      workload_identity_pool_id: poolId,
      workload_identity_provider_id: providerId,
      service_account_email:
        known?.service_account_email ?? `${saName}@${projectId}.iam.gserviceaccount.com`,
      key_template: keyTemplate,
    },
    notes: [
      ...(issuerWarning ? [`WARNING: ${issuerWarning}`] : []),
      `The provider trusts the issuer ${trust.issuerUrl} and admits only tokens with customer_id ${workspaceId}; the issuer is shared by every customer of the relay, so the condition is what keeps other workspaces out.`,
      "Only principalSet …/attribute.customer_id/<your workspace> holds roles/iam.workloadIdentityUser, and only on this one service account, which has no project-level role.",
      ...writerPermissions.map(([permission, why]) => `${permission}: ${why}.`),
      ...(overwrites ? [] : [`storage.objects.delete on "${probePrefix}" only: ${probeWhy}.`]),
      `Object permissions are limited to "${prefix || "(the whole bucket)"}" by an IAM condition, which needs uniform bucket-level access: the script turns it on (gcloud storage buckets update --uniform-bucket-level-access), the Terraform checks it on your bucket and stops with that command if it is off. If you change key_template, widen the condition or deliveries fail with DESTINATION_AUTH_FAILED.`,
      "A new service account can take up to 60 s to be usable in IAM policies: the script retries its bindings for up to 2 minutes; Terraform creates the service account and custom roles only after the APIs they need are enabled.",
    ],
  };
}
