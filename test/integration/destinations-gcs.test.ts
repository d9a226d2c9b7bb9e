/**
 * GCS against the GCP emulator: every customer misconfiguration gives its docs/errors.md code and
 * a hint that names the fix, and injected faults are survived inside the adapter or reported transient.
 */
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import type { CustomerModelInput } from "../../emulators/gcp/index.ts";
import { type DestinationError, uploadStream } from "../../src/destinations/index.ts";
import type { DestinationSettings, GcsStorage } from "../../src/providers/index.ts";
import { sha256Hex, testBytes, testSignal } from "../helpers/bytes.ts";
import {
  factoryFor,
  failureOf,
  gcpRig,
  newWorkspaceId,
  suiteRelayIssuer,
} from "../helpers/destinations.ts";

const MiB = 1_048_576;
const issuer = suiteRelayIssuer();

type Provider = { issuerUri: string; allowedAudiences?: string[]; attributeCondition?: string };
const providerOf = (c: CustomerModelInput) =>
  (c as { projects: { workloadIdentityPools: { providers: Provider[] }[] }[] }).projects[0]!
    .workloadIdentityPools[0]!.providers[0]!;

async function failureWith(
  tweak: (c: CustomerModelInput) => void,
  attempt: "identity" | "upload" | "stat",
  options: {
    storage?: Partial<GcsStorage>;
    objectPrefix?: string;
    settings?: (settings: DestinationSettings) => DestinationSettings;
  } = {},
): Promise<DestinationError> {
  const workspaceId = newWorkspaceId();
  const rig = await gcpRig(
    issuer.url,
    workspaceId,
    tweak,
    options.objectPrefix === undefined ? {} : { objectPrefix: options.objectPrefix },
  );
  try {
    const settings = options.settings ? options.settings(rig.settings) : rig.settings;
    const destination = factoryFor({ issuer, settings })(
      { ...rig.storage, ...options.storage } as GcsStorage,
      {
        workspaceId,
      },
    );
    return await failureOf(destination, attempt);
  } finally {
    await rig.stop();
  }
}

describe("GCS misconfigurations", () => {
  for (const [endpoint, tweak] of [
    [
      "STS",
      (s: DestinationSettings) => ({
        ...s,
        gcp: { ...s.gcp, stsTokenUrl: "https://sts.relay-test.invalid/v1/token" },
      }),
    ],
    [
      "IAM Credentials",
      (s: DestinationSettings) => ({
        ...s,
        gcp: { ...s.gcp, iamCredentialsUrl: "https://iamcredentials.relay-test.invalid" },
      }),
    ],
  ] as const) {
    it(`${endpoint} host that does not resolve → transient DESTINATION_UNAVAILABLE (the operator's endpoint)`, async () => {
      for (const attempt of ["identity", "upload"] as const) {
        const error = await failureWith(() => {}, attempt, { settings: tweak });
        assert.equal(error.code, "DESTINATION_UNAVAILABLE", error.message);
        assert.equal(error.transient, true, `${attempt}: ${error.message}`);
        assert.equal(error.cloudCode, "ENOTFOUND");
        assert.match(error.hint, /does not resolve/);
      }
    });
  }

  it("provider trusting another issuer → DESTINATION_AUTH_FAILED naming the relay's issuer", async () => {
    const error = await failureWith((c) => {
      providerOf(c).issuerUri = "https://other-issuer.example.com";
    }, "identity");
    assert.equal(error.code, "DESTINATION_AUTH_FAILED");
    assert.equal(error.stage, "identity");
    assert.equal(error.cloudCode, "invalid_grant");
    assert.ok(error.hint.includes(issuer.url));
  });

  it("provider with another allowed audience → DESTINATION_AUTH_FAILED", async () => {
    const error = await failureWith((c) => {
      providerOf(c).allowedAudiences = ["https://example.com/not-the-relay"];
    }, "identity");
    assert.equal(error.code, "DESTINATION_AUTH_FAILED");
    assert.equal(error.cloudCode, "invalid_grant");
    assert.match(error.cloudMessage, /audience/);
    assert.match(error.hint, /audience/);
  });

  it("attribute condition for another workspace → DESTINATION_AUTH_FAILED naming the Workspace ID", async () => {
    const error = await failureWith((c) => {
      providerOf(c).attributeCondition = 'assertion.customer_id == "another-workspace"';
    }, "identity");
    assert.equal(error.code, "DESTINATION_AUTH_FAILED");
    assert.equal(error.cloudCode, "unauthorized_client");
    assert.match(error.hint, /Workspace ID/);
  });

  it("pool provider that does not exist → DESTINATION_AUTH_FAILED", async () => {
    const error = await failureWith(() => {}, "identity", {
      storage: { workload_identity_provider_id: "no-such-provider" },
    });
    assert.equal(error.code, "DESTINATION_AUTH_FAILED");
    assert.equal(error.cloudCode, "invalid_target");
    assert.match(error.hint, /workload_identity_provider_id/);
  });

  it("service account not bound to the pool → DESTINATION_AUTH_FAILED at impersonation", async () => {
    const error = await failureWith((c) => {
      const accounts = (c as { projects: { serviceAccounts: { bindings: unknown[] }[] }[] })
        .projects[0]!.serviceAccounts;
      accounts[0]!.bindings = [];
    }, "identity");
    assert.equal(error.code, "DESTINATION_AUTH_FAILED");
    assert.equal(error.stage, "impersonation");
    assert.equal(error.cloudCode, "PERMISSION_DENIED");
    assert.match(error.hint, /roles\/iam\.workloadIdentityUser/);
  });

  it("object permission scoped to a prefix that does not cover the key → DESTINATION_AUTH_FAILED", async () => {
    const error = await failureWith(() => {}, "upload", { objectPrefix: "other-prefix/" });
    assert.equal(error.code, "DESTINATION_AUTH_FAILED");
    assert.equal(error.stage, "storage");
    assert.match(error.hint, /storage\.objectUser/);
    // Worded by the operation: the relay was writing, not reading.
    assert.match(error.message, /^could not (write|commit) gs:\/\/acme-recordings\/tavus\/c1\/1/);
  });

  it("a token failure is worded as the identity's, whatever the request was for", async () => {
    const unbind = (c: CustomerModelInput) => {
      const accounts = (c as { projects: { serviceAccounts: { bindings: unknown[] }[] }[] })
        .projects[0]!.serviceAccounts;
      accounts[0]!.bindings = [];
    };
    for (const attempt of ["stat", "upload"] as const) {
      const error = await failureWith(unbind, attempt);
      assert.equal(error.code, "DESTINATION_AUTH_FAILED");
      assert.equal(error.stage, "impersonation");
      assert.match(error.message, /^impersonating \S+ failed \(PERMISSION_DENIED: /, attempt);
    }
  });

  it("missing bucket → DESTINATION_NOT_FOUND", async () => {
    const error = await failureWith(() => {}, "upload", {
      storage: { bucket_name: "no-such-bucket-here" },
    });
    assert.equal(error.code, "DESTINATION_NOT_FOUND");
    assert.match(error.hint, /bucket_name/);
  });
});

describe("GCS faults", () => {
  it("survives 5xx, throttling, resets and tokens dying mid-upload", async () => {
    const workspaceId = newWorkspaceId();
    const rig = await gcpRig(issuer.url, workspaceId);
    try {
      const destination = factoryFor({ issuer, settings: rig.settings })(rig.storage, {
        workspaceId,
      });
      rig.gcp.setFaults({
        seed: 3,
        errorRate: 0.2,
        errorStatuses: [429, 500, 503],
        resetRate: 0.15,
        apis: ["gcs"],
      });
      const data = testBytes(40 * MiB, 7);
      const upload = await destination.openUpload("tavus/faults/1", { signal: testSignal() });
      await upload.write(data.subarray(0, 20 * MiB), testSignal());
      rig.gcp.expireTokens();
      await upload.write(data.subarray(20 * MiB), testSignal());
      await upload.complete(testSignal());
      // A new upload after the expiry needs a new token: the 401 makes the adapter exchange again.
      await uploadStream(destination, "tavus/faults/2", Readable.from([testBytes(1000)]), {
        signal: testSignal(),
      });
      rig.gcp.setFaults({ errorRate: 0, resetRate: 0 });
      assert.deepEqual(await rig.stored("tavus/faults/1"), {
        size: data.length,
        sha256: sha256Hex(data),
      });
      assert.ok(
        rig.gcp.requests.some((r) => r.injected && r.status === "reset"),
        "resets were injected",
      );
      assert.ok(
        rig.gcp.requests.some((r) => r.injected && r.status !== "reset"),
        "errors were injected",
      );
      assert.equal(rig.exchanges(), 2, "one new exchange after the tokens died");
    } finally {
      await rig.stop();
    }
  });

  it("a cancel GCS does not confirm fails (and is retried) instead of counting as aborted", async () => {
    const workspaceId = newWorkspaceId();
    const rig = await gcpRig(issuer.url, workspaceId);
    try {
      const destination = factoryFor({ issuer, settings: rig.settings })(rig.storage, {
        workspaceId,
      });
      let putsAtHandle: number | undefined;
      const upload = await destination.openUpload("tavus/cancel/1", {
        signal: testSignal(),
        onHandle: async () => {
          putsAtHandle = rig.gcp.requests.filter((r) => r.method === "PUT").length;
        },
      });
      // Past the first 8 MiB chunk: a resumable session holds the bytes.
      await upload.write(testBytes(9 * MiB, 5), testSignal());
      assert.equal(putsAtHandle, 0, "the session is reported before its first chunk is sent");
      const handle = upload.handle;
      assert.ok(handle, "the session exists once the first chunk was sent");
      rig.gcp.setFaults({ errorRate: 1, errorStatuses: [503], apis: ["gcs"] });
      await assert.rejects(destination.abortLeftover(handle, testSignal()), {
        code: "DESTINATION_UNAVAILABLE",
        transient: true,
      });
      rig.gcp.setFaults({ errorRate: 0 });
      assert.equal(await destination.abortLeftover(handle, testSignal()), "aborted");
    } finally {
      await rig.stop();
    }
  });

  it("STS failing past the retry budget → transient DESTINATION_UNAVAILABLE", async () => {
    const workspaceId = newWorkspaceId();
    const rig = await gcpRig(issuer.url, workspaceId);
    try {
      rig.gcp.setFaults({ errorRate: 1, errorStatuses: [503], apis: ["sts"] });
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

describe("GCS small objects", () => {
  it("an object within one chunk: one multipart request with its hashes, no session, no handle", async () => {
    const workspaceId = newWorkspaceId();
    const rig = await gcpRig(issuer.url, workspaceId);
    try {
      const destination = factoryFor({ issuer, settings: rig.settings })(rig.storage, {
        workspaceId,
      });
      const data = testBytes(MiB + 3, 4);
      const before = rig.gcp.requests.length;
      const result = await uploadStream(
        destination,
        "tavus/single/1.mp4",
        Readable.from([data.subarray(0, 1000), data.subarray(1000)]),
        {
          expectedSizeBytes: data.length,
          signal: testSignal(),
          onHandle: async () => assert.fail("a single request leaves nothing to cancel"),
        },
      );
      const gcs = rig.gcp.requests.slice(before).filter((r) => r.api === "gcs");
      assert.deepEqual(
        gcs.map((r) => [r.method, r.path, r.status]),
        [
          [
            "POST",
            `/upload/storage/v1/b/${encodeURIComponent((rig.storage as GcsStorage).bucket_name)}/o`,
            200,
          ],
        ],
      );
      assert.deepEqual(await rig.stored("tavus/single/1.mp4"), {
        size: data.length,
        sha256: sha256Hex(data),
      });
      // What complete() reported is what a redelivery's stat reads back.
      const stat = await destination.stat("tavus/single/1.mp4", testSignal());
      assert.ok(stat.exists);
      assert.equal(stat.checksums.md5Base64, result.checksums.md5Base64);
      assert.equal(stat.checksums.crc32cBase64, result.checksums.crc32cBase64);
      assert.equal(stat.sizeBytes, data.length);
    } finally {
      await rig.stop();
    }
  });

  it("retries the single request through 5xx and resets, sending the whole body each time", async () => {
    const workspaceId = newWorkspaceId();
    const rig = await gcpRig(issuer.url, workspaceId);
    try {
      const destination = factoryFor({ issuer, settings: rig.settings })(rig.storage, {
        workspaceId,
      });
      await destination.checkIdentity(testSignal());
      rig.gcp.setFaults({
        seed: 5,
        errorRate: 0.2,
        errorStatuses: [500, 503],
        resetRate: 0.1,
        apis: ["gcs"],
      });
      for (let n = 0; n < 6; n++) {
        const data = testBytes(512 * 1024 + n, 40 + n);
        await uploadStream(destination, `tavus/single/f${n}.mp4`, Readable.from([data]), {
          expectedSizeBytes: data.length,
          signal: testSignal(),
        });
        assert.deepEqual(await rig.stored(`tavus/single/f${n}.mp4`), {
          size: data.length,
          sha256: sha256Hex(data),
        });
      }
      rig.gcp.setFaults({ errorRate: 0, resetRate: 0 });
      assert.ok(
        rig.gcp.requests.some((r) => r.injected),
        "faults were injected into the single requests",
      );
    } finally {
      await rig.stop();
    }
  });
});
