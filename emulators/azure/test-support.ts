/**
 * Shared setup for the emulator's tests: a test issuer, an emulator with a small customer
 * directory (apps with different trust and roles), and the SDK and raw clients configured the
 * way the relay must configure them.
 */
import { ClientAssertionCredential } from "@azure/identity";
import { BlockBlobClient, type StoragePipelineOptions } from "@azure/storage-blob";
import { Agent, fetch } from "undici";
import { startTestIssuer, type TestIssuer } from "../shared/test-issuer.ts";
import { type AzureEmulatorConfig, tokenExchangeAudience } from "./config.ts";
import { type AzureEmulator, startAzureEmulator } from "./index.ts";

/** Fixed identifiers of the test customer. */
export const ids = {
  tenantId: "11111111-2222-4333-8444-555555555555",
  otherTenantId: "99999999-8888-4777-8666-555555555555",
  account: "acmerecordings",
  otherAccount: "othertenantrecs",
  container: "conversation-recordings",
  writer: {
    clientId: "aaaaaaaa-0000-4000-8000-000000000001",
    oid: "bbbbbbbb-0000-4000-8000-000000000001",
    subject: "ws_writer",
  },
  reader: {
    clientId: "aaaaaaaa-0000-4000-8000-000000000002",
    oid: "bbbbbbbb-0000-4000-8000-000000000002",
    subject: "ws_reader",
  },
  ownerOnly: {
    clientId: "aaaaaaaa-0000-4000-8000-000000000003",
    oid: "bbbbbbbb-0000-4000-8000-000000000003",
    subject: "ws_owner",
  },
  prefixed: {
    clientId: "aaaaaaaa-0000-4000-8000-000000000004",
    oid: "bbbbbbbb-0000-4000-8000-000000000004",
    subject: "ws_prefixed",
  },
} as const;

/** A started issuer + emulator pair and helpers bound to them. */
export interface Harness {
  issuer: TestIssuer;
  emulator: AzureEmulator;
  /** Mutable clock offset (ms) applied to the emulator's clock. */
  clock: { offsetMs: number };
  credential(
    who: AppKey,
    options?: { tenantId?: string; subject?: string },
  ): ClientAssertionCredential;
  blobClient(who: AppKey, blobName: string, options?: BlobClientOptions): BlockBlobClient;
  /** fetch() that trusts the emulator's CA. */
  fetch: typeof fetch;
  stop(): Promise<void>;
}

/** Which test app to act as. */
export type AppKey = "writer" | "reader" | "ownerOnly" | "prefixed";

/** Options for SDK blob clients in tests. */
export interface BlobClientOptions {
  account?: string;
  container?: string;
  maxTries?: number;
}

/** Starts an issuer and an emulator with the standard test customer. */
export async function startHarness(overrides: Partial<AzureEmulatorConfig> = {}): Promise<Harness> {
  const issuer = await startTestIssuer({ audience: tokenExchangeAudience });
  const clock = { offsetMs: 0 };
  const app = (key: AppKey, name: string) => ({
    displayName: name,
    clientId: ids[key].clientId,
    servicePrincipalObjectId: ids[key].oid,
    federatedCredentials: [{ name: "relay", issuer: issuer.url, subject: ids[key].subject }],
  });
  const emulator = await startAzureEmulator({
    allowHttpIssuers: true,
    now: () => Date.now() + clock.offsetMs,
    tenants: [
      {
        tenantId: ids.tenantId,
        domains: ["contoso.onmicrosoft.com"],
        apps: [
          app("writer", "writer"),
          app("reader", "reader"),
          app("ownerOnly", "owner only"),
          app("prefixed", "prefix limited"),
        ],
        storageAccounts: [{ name: ids.account, containers: [ids.container, "other-container"] }],
        roleAssignments: [
          {
            principalId: ids.writer.oid,
            role: "Storage Blob Data Contributor",
            scope: { storageAccount: ids.account, container: ids.container },
          },
          {
            principalId: ids.reader.oid,
            role: "Storage Blob Data Reader",
            scope: { storageAccount: ids.account },
          },
          { principalId: ids.ownerOnly.oid, role: "Owner", scope: { storageAccount: ids.account } },
          {
            principalId: ids.prefixed.oid,
            role: "Storage Blob Data Contributor",
            scope: { storageAccount: ids.account, container: ids.container },
            condition: { blobPathPrefix: "tavus/ws_prefixed/" },
          },
        ],
      },
      {
        tenantId: ids.otherTenantId,
        storageAccounts: [{ name: ids.otherAccount, containers: [ids.container] }],
        roleAssignments: [
          {
            principalId: ids.writer.oid,
            role: "Storage Blob Data Contributor",
            scope: { storageAccount: ids.otherAccount },
          },
        ],
      },
    ],
    ...overrides,
  });
  const dispatcher = new Agent({ connect: { ca: emulator.caCertPem } });
  const trustedFetch = ((
    input: Parameters<typeof fetch>[0],
    init: Parameters<typeof fetch>[1] = {},
  ) => fetch(input, { ...init, dispatcher })) as typeof fetch;

  const credential: Harness["credential"] = (who, options = {}) =>
    new ClientAssertionCredential(
      options.tenantId ?? ids.tenantId,
      ids[who].clientId,
      () => issuer.mint(options.subject ?? ids[who].subject),
      {
        authorityHost: emulator.authorityHost,
        // Without this MSAL asks login.microsoftonline.com for instance metadata first.
        disableInstanceDiscovery: true,
        tlsOptions: { ca: emulator.caCertPem },
      },
    );

  const blobClient: Harness["blobClient"] = (who, blobName, options = {}) => {
    // StoragePipelineOptions does not declare tlsOptions, but getCoreClientOptions spreads
    // every option into core-rest-pipeline's createPipelineFromOptions, which honours it.
    const pipelineOptions: StoragePipelineOptions & { tlsOptions: { ca: string } } = {
      tlsOptions: { ca: emulator.caCertPem },
      retryOptions: { maxTries: options.maxTries ?? 1, retryDelayInMs: 5, maxRetryDelayInMs: 20 },
    };
    const url = `${emulator.blobEndpoint(options.account ?? ids.account)}/${options.container ?? ids.container}/${blobName}`;
    return new BlockBlobClient(url, credential(who), pipelineOptions);
  };

  return {
    issuer,
    emulator,
    clock,
    credential,
    blobClient,
    fetch: trustedFetch,
    stop: async () => {
      await emulator.stop();
      await issuer.stop();
      await dispatcher.close();
    },
  };
}

/** Posts a raw token request (form fields as given) and returns status and JSON body. */
export async function postToken(
  h: Harness,
  fields: Record<string, string>,
  tenant: string = ids.tenantId,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await h.fetch(`${h.emulator.authorityHost}/${tenant}/oauth2/v2.0/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** The form a client-credentials request with a federated assertion sends. */
export function tokenForm(clientId: string, assertion: string): Record<string, string> {
  return {
    client_id: clientId,
    scope: "https://storage.azure.com/.default",
    grant_type: "client_credentials",
    client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    client_assertion: assertion,
  };
}
