// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the generated shell and Terraform interpolate ${...} themselves.
/**
 * Azure Blob setup (docs/security.md): an App Registration with no secret and one
 * federated credential matching exactly the relay's issuer, this workspace as subject and the
 * audience Entra requires; its service principal may write blobs in one container.
 */
import { keyTemplatePermissionPrefix } from "../../domain/key-template.ts";
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
import type { AzureBlobStorage } from "./storage.ts";
import { AZURE_TOKEN_AUDIENCE } from "./trust.ts";

/** The role granted, and why it and not a broader or narrower one. */
export const azureRole = "Storage Blob Data Contributor";
const azureRoleWhy =
  "the narrowest built-in role that can write blocks and commit block lists (no built-in role writes without also reading and deleting); scoped to the one container, not the account";

/** The Azure Blob setup guide. */
export function azureSetup(input: SetupInput<AzureBlobStorage>): SetupGuide {
  const { workspaceId, trust, keyTemplate } = input;
  const issuerWarning = insecureIssuerWarning(trust.issuerUrl);
  const { known } = input;
  const prefix = keyTemplatePermissionPrefix(keyTemplate);
  const storageAccount = known?.storage_account ?? fillIn("storage-account");
  const container = known?.container ?? fillIn("container");
  const appName = "Recording relay";
  const credentialName = "recording-relay";
  const description = `recording-relay delivers recordings of workspace ${workspaceId}`;

  const placeholders: Placeholder[] = [
    { name: "SUBSCRIPTION", description: "the subscription id (UUID) of the storage account" },
    { name: "RESOURCE_GROUP", description: "the resource group of the storage account" },
    ...(known
      ? []
      : [
          { name: "STORAGE_ACCOUNT", description: "the existing storage account" },
          { name: "CONTAINER", description: "the existing container recordings go to" },
        ]),
  ];
  const fill = fillInMarker(placeholders);
  const federation = JSON.stringify(
    {
      name: credentialName,
      issuer: "${ISSUER}",
      subject: "${WORKSPACE_ID}",
      audiences: [AZURE_TOKEN_AUDIENCE],
      description,
    },
    null,
    2,
  );

  const cli = [
    ...scriptHeader(
      "Azure Blob",
      workspaceId,
      [
        "Creates an App Registration without any secret whose only credential is a federated one",
        "trusting the relay's issuer for this workspace, and lets it write blobs in one container.",
        "Fill in the values marked FILL IN; sign in first with az login (to the storage account's tenant).",
      ],
      issuerWarning,
    ),
    `SUBSCRIPTION=${shellQuote(fillIn("subscription-uuid"))}${fill("SUBSCRIPTION")}`,
    `RESOURCE_GROUP=${shellQuote(fillIn("resource-group"))}${fill("RESOURCE_GROUP")}`,
    `STORAGE_ACCOUNT=${shellQuote(storageAccount)}${fill("STORAGE_ACCOUNT")}`,
    `CONTAINER=${shellQuote(container)}${fill("CONTAINER")}`,
    `APP_NAME=${shellQuote(appName)}`,
    "",
    "# From the relay (do not change):",
    `ISSUER=${shellQuote(trust.issuerUrl)}  # the exact iss of the relay's tokens`,
    `WORKSPACE_ID=${shellQuote(workspaceId)}  # the sub of your tokens (matched exactly, case-sensitive)`,
    "",
    ...placeholderGuard(placeholders.map((p) => p.name)),
    "# 1. The App Registration. It gets no password and no certificate: the federated credential",
    "#    below is its only way in.",
    'APP_ID=$(az ad app create --display-name "$APP_NAME" --query appId -o tsv)',
    "",
    "# 2. The federated credential: tokens from the relay's issuer, for your workspace only, with",
    `#    the audience Entra ID requires (${AZURE_TOKEN_AUDIENCE}).`,
    "cat > recording-relay-federation.json <<EOF",
    federation,
    "EOF",
    'az ad app federated-credential create --id "$APP_ID" --parameters recording-relay-federation.json',
    "",
    "# 3. Its service principal, the identity role assignments name.",
    'SP_ID=$(az ad sp create --id "$APP_ID" --query id -o tsv)',
    "",
    `# 4. ${azureRole} on the one container: ${azureRoleWhy}.`,
    'SCOPE="/subscriptions/${SUBSCRIPTION}/resourceGroups/${RESOURCE_GROUP}/providers/Microsoft.Storage/storageAccounts/${STORAGE_ACCOUNT}/blobServices/default/containers/${CONTAINER}"',
    'az role assignment create --assignee-object-id "$SP_ID" --assignee-principal-type ServicePrincipal \\',
    `  --role ${shellQuote(azureRole)} --scope "$SCOPE"`,
    "",
    "# 5. Send this as recording_storage (POST /v2/conversations, or PUT /v2/recording-storage):",
    "TENANT_ID=$(az account show --query tenantId -o tsv)",
    "cat <<EOF",
    `{"provider": "azure_blob", "tenant_id": "\${TENANT_ID}", "client_id": "\${APP_ID}", "storage_account": "\${STORAGE_ACCOUNT}", "container": "\${CONTAINER}", "key_template": ${JSON.stringify(keyTemplate)}}`,
    "EOF",
    "",
  ].join("\n");

  const terraform = [
    `# recording-relay: Azure Blob setup for workspace ${workspaceId}.`,
    "# An App Registration without any secret whose only credential is a federated one trusting the",
    "# relay's issuer for this workspace, allowed to write blobs in one container. Variables without",
    "# a default are yours to fill in (terraform asks for them); the locals come from the relay.",
    ...warningComment(issuerWarning),
    "",
    "terraform {",
    "  required_providers {",
    "    azuread = {",
    '      source  = "hashicorp/azuread"',
    '      version = ">= 3.0"',
    "    }",
    "    azurerm = {",
    '      source  = "hashicorp/azurerm"',
    '      version = ">= 4.0"',
    "    }",
    "  }",
    "}",
    "",
    hclVariable(
      "subscription_id",
      "FILL IN: the subscription id (UUID) of the storage account",
      undefined,
    ),
    "",
    hclVariable(
      "resource_group_name",
      "FILL IN: the resource group of the storage account",
      undefined,
    ),
    "",
    hclVariable(
      "storage_account_name",
      "FILL IN: the existing storage account",
      known?.storage_account,
    ),
    "",
    hclVariable(
      "container_name",
      "FILL IN: the existing container recordings go to",
      known?.container,
    ),
    "",
    "# azurerm needs the subscription explicitly; without it plan stops with an unclear error.",
    'provider "azurerm" {',
    "  features {}",
    "  subscription_id = var.subscription_id",
    "}",
    "",
    "# From the relay (do not change).",
    "locals {",
    `  issuer       = ${hclString(trust.issuerUrl)}`,
    `  workspace_id = ${hclString(workspaceId)}`,
    "}",
    "",
    'data "azuread_client_config" "current" {}',
    "",
    "# No password and no certificate: the federated credential is its only way in.",
    'resource "azuread_application" "recording_relay" {',
    `  display_name = ${hclString(appName)}`,
    "}",
    "",
    "# Tokens from the relay's issuer, for your workspace only (subject matched exactly),",
    "# with the audience Entra ID requires.",
    'resource "azuread_application_federated_identity_credential" "recording_relay" {',
    "  application_id = azuread_application.recording_relay.id",
    `  display_name   = ${hclString(credentialName)}`,
    `  description    = ${hclString(description)}`,
    `  audiences      = [${hclString(AZURE_TOKEN_AUDIENCE)}]`,
    "  issuer         = local.issuer",
    "  subject        = local.workspace_id",
    "}",
    "",
    'resource "azuread_service_principal" "recording_relay" {',
    "  client_id = azuread_application.recording_relay.client_id",
    "}",
    "",
    `# ${azureRoleWhy}.`,
    'resource "azurerm_role_assignment" "recording_relay_writer" {',
    '  scope                = "/subscriptions/${var.subscription_id}/resourceGroups/${var.resource_group_name}/providers/Microsoft.Storage/storageAccounts/${var.storage_account_name}/blobServices/default/containers/${var.container_name}"',
    `  role_definition_name = ${hclString(azureRole)}`,
    "  principal_id         = azuread_service_principal.recording_relay.object_id",
    '  principal_type       = "ServicePrincipal"',
    "}",
    "",
    "# Send this as recording_storage.",
    'output "recording_storage" {',
    "  value = jsonencode({",
    '    provider        = "azure_blob"',
    "    tenant_id       = data.azuread_client_config.current.tenant_id",
    "    client_id       = azuread_application.recording_relay.client_id",
    "    storage_account = var.storage_account_name",
    "    container       = var.container_name",
    `    key_template    = ${hclString(keyTemplate)}`,
    "  })",
    "}",
    "",
  ].join("\n");

  return {
    provider: "azure_blob",
    workspace_id: workspaceId,
    relay_identity: {
      issuer: trust.issuerUrl,
      subject: workspaceId,
      audience: AZURE_TOKEN_AUDIENCE,
    },
    placeholders,
    cli,
    terraform,
    recording_storage: {
      provider: "azure_blob",
      tenant_id: known?.tenant_id ?? fillIn("tenant-uuid"),
      client_id: known?.client_id ?? fillIn("app-client-id"),
      storage_account: storageAccount,
      container,
      key_template: keyTemplate,
    },
    notes: [
      ...(issuerWarning ? [`WARNING: ${issuerWarning}`] : []),
      `The federated credential matches issuer ${trust.issuerUrl}, subject ${workspaceId} and audience ${AZURE_TOKEN_AUDIENCE} exactly (Entra compares them as strings, case-sensitively, no trailing slash); tokens for any other workspace do not match.`,
      "The App Registration has no password or certificate: nothing secret exists to leak.",
      `${azureRole} on the container only: ${azureRoleWhy}.`,
      `Recording keys start with "${prefix || "(the container root)"}"; to narrow further, add an ABAC condition on the role assignment limiting blob paths to that prefix (and widen it if you change key_template, or deliveries fail with DESTINATION_AUTH_FAILED).`,
      "New federated credentials take a few minutes to propagate; the relay retries authentication failures for about 30 minutes.",
    ],
  };
}
