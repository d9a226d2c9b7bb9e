/**
 * A ready-made customer for the demo and for tests: one tenant, an App Registration whose
 * federated credential trusts the relay's issuer for one workspace, and a storage account whose
 * container that app may write to (Storage Blob Data Contributor at container scope).
 */
import { type AzureEmulatorConfig, tokenExchangeAudience } from "./config.ts";

/** The demo customer's identifiers, shaped like the relay's `azure_blob` destination. */
export interface AzureDemoSetup {
  config: AzureEmulatorConfig;
  destination: {
    provider: "azure_blob";
    tenant_id: string;
    client_id: string;
    storage_account: string;
    container: string;
  };
  servicePrincipalObjectId: string;
}

/** Fixed ids so demo output and docs stay stable from run to run. */
const demoIds = {
  tenantId: "7d3c2a10-4b6e-4f7a-9c21-5e8f0a1b2c3d",
  clientId: "3f9e8d7c-6b5a-4c3d-8e2f-1a0b9c8d7e6f",
  servicePrincipalObjectId: "c0ffee00-1d2e-4f3a-8b4c-5d6e7f8a9b0c",
} as const;

/** Builds the demo customer for a relay issuer URL and a workspace id (the token `sub`). */
export function buildAzureDemoConfig(options: {
  issuer: string;
  workspaceId: string;
  storageAccount?: string;
  container?: string;
}): AzureDemoSetup {
  const storageAccount = options.storageAccount ?? "relaydemo";
  const container = options.container ?? "conversation-recordings";
  const config: AzureEmulatorConfig = {
    // The demo serves the relay's issuer on http://127.0.0.1; every other Entra check stays on.
    allowHttpIssuers: options.issuer.startsWith("http:"),
    tenants: [
      {
        tenantId: demoIds.tenantId,
        domains: ["relaydemo.onmicrosoft.com"],
        apps: [
          {
            displayName: "recording-relay writer",
            clientId: demoIds.clientId,
            servicePrincipalObjectId: demoIds.servicePrincipalObjectId,
            federatedCredentials: [
              {
                name: "recording-relay",
                issuer: options.issuer,
                subject: options.workspaceId,
                audiences: [tokenExchangeAudience],
              },
            ],
          },
        ],
        storageAccounts: [{ name: storageAccount, containers: [container] }],
        roleAssignments: [
          {
            principalId: demoIds.servicePrincipalObjectId,
            role: "Storage Blob Data Contributor",
            scope: { storageAccount, container },
          },
        ],
      },
    ],
  };
  return {
    config,
    destination: {
      provider: "azure_blob",
      tenant_id: demoIds.tenantId,
      client_id: demoIds.clientId,
      storage_account: storageAccount,
      container,
    },
    servicePrincipalObjectId: demoIds.servicePrincipalObjectId,
  };
}
