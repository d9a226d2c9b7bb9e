import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { describe, it } from "node:test";
import { ClientAssertionCredential } from "@azure/identity";
import { BlockBlobClient, type StoragePipelineOptions } from "@azure/storage-blob";
import { startTestIssuer } from "../shared/test-issuer.ts";
import { parseAzureConfig, tokenExchangeAudience } from "./config.ts";
import { buildAzureDemoConfig, startAzureEmulator } from "./index.ts";
import { generateLoopbackTls } from "./tls.ts";

const tenantId = "11111111-2222-4333-8444-555555555555";
const app = (issuer: string) => ({
  displayName: "a",
  clientId: "aaaaaaaa-0000-4000-8000-000000000001",
  servicePrincipalObjectId: "bbbbbbbb-0000-4000-8000-000000000001",
  federatedCredentials: [{ name: "relay", issuer, subject: "ws_1" }],
});

describe("configuration", () => {
  it("refuses http issuers unless allowHttpIssuers is set", () => {
    const tenants = [{ tenantId, apps: [app("http://127.0.0.1:8080")] }];
    assert.throws(() => parseAzureConfig({ tenants }), /issuer must be an https URL/);
    assert.doesNotThrow(() => parseAzureConfig({ tenants, allowHttpIssuers: true }));
  });

  it("applies Azure's creation rules", () => {
    const account = (name: string) => ({ name, containers: [] });
    assert.throws(
      () => parseAzureConfig({ tenants: [{ tenantId, storageAccounts: [account("Bad_Name")] }] }),
      /storage account names/,
    );
    assert.throws(
      () =>
        parseAzureConfig({
          tenants: [
            { tenantId, storageAccounts: [account("same")] },
            {
              tenantId: "21111111-2222-4333-8444-555555555555",
              storageAccounts: [account("same")],
            },
          ],
        }),
      /exists twice/,
    );
    assert.throws(
      () =>
        parseAzureConfig({
          tenants: [{ tenantId, storageAccounts: [{ name: "acct", containers: ["Bad--name"] }] }],
        }),
      /container names/,
    );
    const twice = {
      ...app("https://issuer.example"),
      federatedCredentials: [
        { name: "one", issuer: "https://issuer.example", subject: "s" },
        { name: "two", issuer: "https://issuer.example", subject: "s" },
      ],
    };
    assert.throws(
      () => parseAzureConfig({ tenants: [{ tenantId, apps: [twice] }] }),
      /unique per app/,
    );
    assert.throws(
      () =>
        parseAzureConfig({
          tenants: [
            {
              tenantId,
              roleAssignments: [
                {
                  principalId: tenantId,
                  role: "Storage Blob Data Contributor",
                  scope: { storageAccount: "missing" },
                },
              ],
            },
          ],
        }),
      /does not have/,
    );
  });
});

describe("TLS", () => {
  it("issues a server certificate for 127.0.0.1, ::1 and localhost signed by the CA", async () => {
    const tls = await generateLoopbackTls();
    const ca = new X509Certificate(tls.caCertPem);
    const server = new X509Certificate(tls.serverCertPem);
    assert.ok(ca.ca);
    assert.ok(server.verify(ca.publicKey));
    assert.equal(server.checkIP("127.0.0.1"), "127.0.0.1");
    assert.equal(server.checkIP("::1"), "::1");
    assert.equal(server.checkHost("localhost"), "localhost");
    assert.equal(server.checkHost("example.com"), undefined);
  });
});

describe("demo config", () => {
  it("sets up a customer the SDKs can deliver to with the relay's issuer and workspace id", async () => {
    const issuer = await startTestIssuer({ audience: tokenExchangeAudience });
    const demo = buildAzureDemoConfig({ issuer: issuer.url, workspaceId: "ws_demo" });
    const emulator = await startAzureEmulator(demo.config);
    try {
      const credential = new ClientAssertionCredential(
        demo.destination.tenant_id,
        demo.destination.client_id,
        () => issuer.mint("ws_demo"),
        {
          authorityHost: emulator.authorityHost,
          disableInstanceDiscovery: true,
          tlsOptions: { ca: emulator.caCertPem },
        },
      );
      const options: StoragePipelineOptions & { tlsOptions: { ca: string } } = {
        tlsOptions: { ca: emulator.caCertPem },
      };
      const url = `${emulator.blobEndpoint(demo.destination.storage_account)}/${demo.destination.container}/tavus/c1/1`;
      await new BlockBlobClient(url, credential, options).upload("demo", 4);
      const stored = await emulator.blobDigest(
        demo.destination.storage_account,
        demo.destination.container,
        "tavus/c1/1",
      );
      assert.equal(stored?.size, 4);

      // Another workspace's token does not match the federated credential.
      const stranger = new ClientAssertionCredential(
        demo.destination.tenant_id,
        demo.destination.client_id,
        () => issuer.mint("ws_other"),
        {
          authorityHost: emulator.authorityHost,
          disableInstanceDiscovery: true,
          tlsOptions: { ca: emulator.caCertPem },
        },
      );
      await assert.rejects(stranger.getToken("https://storage.azure.com/.default"), /AADSTS700213/);
    } finally {
      await emulator.stop();
      await issuer.stop();
    }
  });
});
