/**
 * Azure Blob against the Azure emulator: every customer misconfiguration gives its docs/errors.md
 * code and a hint that names the fix, and injected faults are survived or reported transient.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import type { AzureEmulatorConfig } from "../../emulators/azure/index.ts";
import { type DestinationError, uploadStream } from "../../src/destinations/index.ts";
import type { AzureBlobStorage, DestinationSettings } from "../../src/providers/index.ts";
import { sha256Hex, testBytes, testSignal } from "../helpers/bytes.ts";
import {
  azureRig,
  factoryFor,
  failureOf,
  newWorkspaceId,
  suiteRelayIssuer,
} from "../helpers/destinations.ts";

const MiB = 1_048_576;
const issuer = suiteRelayIssuer();

type Tenant = {
  apps: { federatedCredentials: { issuer: string; subject: string; audiences?: string[] }[] }[];
  storageAccounts: { containers: string[] }[];
  roleAssignments: unknown[];
};
const tenantOf = (c: AzureEmulatorConfig) => (c as unknown as { tenants: Tenant[] }).tenants[0]!;
const ficOf = (c: AzureEmulatorConfig) => tenantOf(c).apps[0]!.federatedCredentials[0]!;

async function failureWith(
  tweak: (c: AzureEmulatorConfig) => void,
  attempt: "identity" | "upload" | "stat",
  storage: Partial<AzureBlobStorage> = {},
  settingsTweak: (settings: DestinationSettings) => DestinationSettings = (s) => s,
): Promise<DestinationError> {
  const workspaceId = newWorkspaceId();
  const rig = await azureRig(issuer.url, workspaceId, tweak);
  try {
    const destination = factoryFor({ issuer, settings: settingsTweak(rig.settings) })(
      { ...rig.storage, ...storage } as AzureBlobStorage,
      {
        workspaceId,
      },
    );
    return await failureOf(destination, attempt);
  } finally {
    await rig.stop();
  }
}

describe("Azure Blob misconfigurations", () => {
  it("federated credential for another issuer → DESTINATION_AUTH_FAILED (AADSTS700211)", async () => {
    const error = await failureWith((c) => {
      ficOf(c).issuer = "https://other-issuer.example.com";
    }, "identity");
    assert.equal(error.code, "DESTINATION_AUTH_FAILED");
    assert.equal(error.cloudCode, "AADSTS700211");
    assert.ok(error.hint.includes(issuer.url));
  });

  it("federated credential for another subject (workspace) → DESTINATION_AUTH_FAILED (AADSTS700213)", async () => {
    const error = await failureWith((c) => {
      ficOf(c).subject = "another-workspace";
    }, "identity");
    assert.equal(error.code, "DESTINATION_AUTH_FAILED");
    assert.equal(error.cloudCode, "AADSTS700213");
    assert.match(error.hint, /subject "[0-9a-f-]{36}"/);
  });

  it("federated credential with another audience → DESTINATION_AUTH_FAILED (AADSTS700212)", async () => {
    const error = await failureWith((c) => {
      ficOf(c).audiences = ["api://SomethingElse"];
    }, "identity");
    assert.equal(error.code, "DESTINATION_AUTH_FAILED");
    assert.equal(error.cloudCode, "AADSTS700212");
    assert.match(error.hint, /api:\/\/AzureADTokenExchange/);
  });

  it("unknown client id → DESTINATION_AUTH_FAILED (AADSTS700016)", async () => {
    const error = await failureWith(() => {}, "identity", {
      client_id: "00000000-1111-4222-8333-444444444444",
    });
    assert.equal(error.code, "DESTINATION_AUTH_FAILED");
    assert.equal(error.cloudCode, "AADSTS700016");
    assert.match(error.hint, /client_id/);
  });

  it("unknown tenant → DESTINATION_AUTH_FAILED (AADSTS90002) naming tenant_id", async () => {
    const error = await failureWith(() => {}, "identity", {
      tenant_id: "00000000-1111-4222-8333-555555555555",
    });
    assert.equal(error.code, "DESTINATION_AUTH_FAILED");
    assert.equal(error.cloudCode, "AADSTS90002");
    assert.match(error.hint, /tenant_id/);
  });

  it("no role assignment → DESTINATION_AUTH_FAILED (AuthorizationPermissionMismatch)", async () => {
    const error = await failureWith((c) => {
      tenantOf(c).roleAssignments = [];
    }, "upload");
    assert.equal(error.code, "DESTINATION_AUTH_FAILED");
    assert.equal(error.cloudCode, "AuthorizationPermissionMismatch");
    assert.match(error.hint, /Storage Blob Data Contributor/);
  });

  it("role assignment conditioned on a prefix that does not cover the key → DESTINATION_AUTH_FAILED", async () => {
    const error = await failureWith((c) => {
      for (const assignment of tenantOf(c).roleAssignments) {
        (assignment as { condition?: unknown }).condition = { blobPathPrefix: "other-prefix/" };
      }
    }, "upload");
    assert.equal(error.code, "DESTINATION_AUTH_FAILED");
    assert.equal(error.cloudCode, "AuthorizationPermissionMismatch");
  });

  it("authority host that does not resolve → transient DESTINATION_UNAVAILABLE (the operator's endpoint)", async () => {
    for (const attempt of ["identity", "upload"] as const) {
      const error = await failureWith(
        () => {},
        attempt,
        {},
        (s) => ({
          ...s,
          azure: { ...s.azure, authorityHost: "https://login.relay-test.invalid" },
        }),
      );
      assert.equal(error.code, "DESTINATION_UNAVAILABLE", `${attempt}: ${error.message}`);
      assert.equal(error.transient, true, `${attempt}: ${error.message}`);
      assert.equal(error.stage, "identity");
      assert.equal(error.cloudCode, "ENOTFOUND");
      assert.match(error.hint, /does not resolve/);
      assert.doesNotMatch(error.hint, /immutability/);
    }
  });

  it("storage account that does not exist (its host does not resolve) → DESTINATION_NOT_FOUND naming it", async () => {
    // The emulator serves the accounts it knows under one origin; an account that does not exist
    // has no DNS name in Azure, as a blob endpoint under .invalid (RFC 2606) never resolves.
    const error = await failureWith(
      () => {},
      "upload",
      { storage_account: "nosuchaccount42" },
      (s) => ({
        ...s,
        azure: { ...s.azure, blobEndpointTemplate: "https://{account}.blob.relay-test.invalid" },
      }),
    );
    assert.equal(error.code, "DESTINATION_NOT_FOUND", error.message);
    assert.equal(error.cloudCode, "ENOTFOUND");
    assert.match(error.hint, /storage_account: nosuchaccount42/);
    assert.match(error.message, /nosuchaccount42/);
  });

  it("container that does not exist, with a role on the account's other container → DESTINATION_NOT_FOUND naming it", async () => {
    // stat is what a delivery sends first (a HEAD: Azure's code only in x-ms-error-code, no text).
    for (const attempt of ["stat", "upload"] as const) {
      const error = await failureWith(() => {}, attempt, { container: "no-such-container" });
      assert.equal(error.code, "DESTINATION_NOT_FOUND", `${attempt}: ${error.message}`);
      assert.equal(error.cloudCode, "ContainerNotFound");
      assert.match(error.hint, /check container: no-such-container does not exist/);
      assert.ok(error.cloudMessage.trim().length > 0, `${attempt}: a message, not an empty one`);
    }
  });

  it("missing container → DESTINATION_NOT_FOUND", async () => {
    const error = await failureWith((c) => {
      tenantOf(c).storageAccounts[0]!.containers = [];
    }, "upload");
    assert.equal(error.code, "DESTINATION_NOT_FOUND");
    assert.equal(error.cloudCode, "ContainerNotFound");
    assert.match(error.hint, /container/);
  });
});

describe("Azure Blob faults", () => {
  it("survives 5xx, resets and a token refused as expired mid-upload", async () => {
    const workspaceId = newWorkspaceId();
    const rig = await azureRig(issuer.url, workspaceId);
    try {
      // One block in flight: the fault phases below follow write boundaries (blocks in flight
      // under faults: destinations-parts-in-flight.test.ts).
      const settings = { ...rig.settings, partsInFlight: 1 };
      const destination = factoryFor({ issuer, settings })(rig.storage, {
        workspaceId,
      });
      const data = testBytes(40 * MiB, 9);
      const upload = await destination.openUpload("tavus/faults/1", { signal: testSignal() });
      await upload.write(data.subarray(0, 8 * MiB), testSignal());
      rig.azure.setFaults({ errorRate: 0.4, resetRate: 0.3, surfaces: ["blob"] });
      await upload.write(data.subarray(8 * MiB, 32 * MiB), testSignal());
      assert.ok(rig.azure.stats().faultsInjected > 0, "errors and resets were injected");
      rig.azure.setFaults({ errorRate: 0, resetRate: 0, earlyExpiryRate: 0.5 });
      await upload.write(data.subarray(32 * MiB), testSignal());
      await upload.complete(testSignal());
      rig.azure.setFaults({ earlyExpiryRate: 0 });
      assert.deepEqual(await rig.stored("tavus/faults/1"), {
        size: data.length,
        sha256: sha256Hex(data),
      });
      assert.ok(rig.exchanges() >= 2, "a new token after a refused one");
    } finally {
      await rig.stop();
    }
  });

  it("Entra failing past the retry budget → transient DESTINATION_UNAVAILABLE", async () => {
    const workspaceId = newWorkspaceId();
    const rig = await azureRig(issuer.url, workspaceId);
    try {
      rig.azure.setFaults({ errorRate: 1, surfaces: ["entra"] });
      const destination = factoryFor({ issuer, settings: rig.settings })(rig.storage, {
        workspaceId,
      });
      await assert.rejects(destination.checkIdentity(testSignal()), {
        code: "DESTINATION_UNAVAILABLE",
        transient: true,
      });
    } finally {
      await rig.stop();
    }
  });
});

describe("Azure Blob leftovers", () => {
  it("abortLeftover: nothing to abort for staged blocks, already gone once committed", async () => {
    const workspaceId = newWorkspaceId();
    const rig = await azureRig(issuer.url, workspaceId);
    try {
      const destination = factoryFor({ issuer, settings: rig.settings })(rig.storage, {
        workspaceId,
      });
      const abandoned = await destination.openUpload("tavus/leftover/1", {
        expectedSizeBytes: 20 * MiB,
        signal: testSignal(),
      });
      await abandoned.write(testBytes(12 * MiB), testSignal());
      assert.ok(abandoned.handle);
      assert.equal(
        await destination.abortLeftover(abandoned.handle, testSignal()),
        "nothing_to_abort",
      );
      await abandoned.abort(testSignal());
      assert.deepEqual(await destination.stat("tavus/leftover/1", testSignal()), {
        exists: false,
      });

      // Larger than one block: blocks staged, then committed.
      const finished = await destination.openUpload("tavus/leftover/2", { signal: testSignal() });
      await finished.write(testBytes(9 * MiB), testSignal());
      await finished.complete(testSignal());
      assert.ok(finished.handle);
      assert.equal(await destination.abortLeftover(finished.handle, testSignal()), "already_gone");
    } finally {
      await rig.stop();
    }
  });
});

describe("Azure Blob small blobs", () => {
  it("a blob within one block: one Put Blob with its MD5, no handle, no read-back", async () => {
    const workspaceId = newWorkspaceId();
    const rig = await azureRig(issuer.url, workspaceId);
    try {
      const destination = factoryFor({ issuer, settings: rig.settings })(rig.storage, {
        workspaceId,
      });
      const data = testBytes(MiB + 3, 4);
      const md5 = createHash("md5").update(data).digest("base64");
      const before = { ...rig.azure.stats().operations };
      const result = await uploadStream(
        destination,
        "tavus/single/1.mp4",
        Readable.from([data.subarray(0, 1000), data.subarray(1000)]),
        {
          expectedSizeBytes: data.length,
          signal: testSignal(),
          onHandle: async () => assert.fail("a single Put Blob leaves nothing to clean up"),
        },
      );
      const after = rig.azure.stats().operations;
      const delta = Object.fromEntries(
        Object.entries(after)
          .map(([name, count]) => [name, count - (before[name] ?? 0)])
          .filter(([, count]) => count !== 0),
      );
      assert.deepEqual(delta, { PutBlob: 1 });
      assert.deepEqual(result, {
        key: "tavus/single/1.mp4",
        sizeBytes: data.length,
        checksums: { md5Base64: md5, etag: result.checksums.etag },
      });
      assert.ok(result.checksums.etag);
      assert.deepEqual(await rig.stored("tavus/single/1.mp4"), {
        size: data.length,
        sha256: sha256Hex(data),
      });
      // The blob's own MD5 is set: a redelivery's stat can prove the object.
      const stat = await destination.stat("tavus/single/1.mp4", testSignal());
      assert.ok(stat.exists);
      assert.equal(stat.checksums.md5Base64, md5);
      assert.equal(stat.sizeBytes, data.length);
    } finally {
      await rig.stop();
    }
  });

  it("a blob of exactly one block is staged and committed (the stream may go on)", async () => {
    const workspaceId = newWorkspaceId();
    const rig = await azureRig(issuer.url, workspaceId);
    try {
      const destination = factoryFor({ issuer, settings: rig.settings })(rig.storage, {
        workspaceId,
      });
      const data = testBytes(8 * MiB, 5);
      let blocksAtHandle: number | undefined;
      const upload = await destination.openUpload("tavus/single/2.mp4", {
        signal: testSignal(),
        onHandle: async () => {
          blocksAtHandle = rig.azure.stats().operations.PutBlock ?? 0;
        },
      });
      await upload.write(data, testSignal());
      assert.ok(upload.handle, "a full first block is staged: the upload has a handle");
      assert.equal(blocksAtHandle, 0, "reported before the first block is sent");
      await upload.complete(testSignal());
      assert.equal(rig.azure.stats().operations.PutBlockList, 1);
      assert.deepEqual(await rig.stored("tavus/single/2.mp4"), {
        size: data.length,
        sha256: sha256Hex(data),
      });
    } finally {
      await rig.stop();
    }
  });
});
