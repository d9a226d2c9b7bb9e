/**
 * S3 against the AWS emulator: every customer misconfiguration gives its docs/errors.md code and a
 * hint that names the fix, and injected faults are survived inside the adapter or reported transient.
 */
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import { crc32 } from "node:zlib";
import {
  type AwsEmulatorConfigInput,
  DEMO,
  type RequestLogEntry,
  type RoleConfig,
} from "../../emulators/aws/index.ts";
import { type DestinationError, uploadStream } from "../../src/destinations/index.ts";
import type { S3Storage } from "../../src/providers/index.ts";
import { sha256Hex, testBytes, testSignal } from "../helpers/bytes.ts";
import {
  awsRig,
  emulatorSettings,
  factoryFor,
  failureOf,
  newWorkspaceId,
  suiteRelayIssuer,
} from "../helpers/destinations.ts";

const MiB = 1_048_576;
const issuer = suiteRelayIssuer();

const roleOf = (config: AwsEmulatorConfigInput) =>
  (config.roles as RoleConfig[]).find((r) => r.arn === DEMO.roleArn) as RoleConfig;

/** What the emulator of the last {@link failureWith} saw, and the workspace it ran for. */
let lastRun: { workspaceId: string; requests: readonly RequestLogEntry[] } | undefined;

/** Runs `attempt` against an emulator set up wrongly by `tweak`, returning the DestinationError. */
async function failureWith(
  tweak: Parameters<typeof awsRig>[2],
  attempt: "identity" | "upload" | "stat" | "put" | "delete",
  storage: Partial<S3Storage> = {},
  authMode: "assume_role" | "web_identity" = "assume_role",
): Promise<DestinationError> {
  const workspaceId = newWorkspaceId();
  const rig = await awsRig(issuer.url, workspaceId, tweak, storage);
  try {
    const settings = emulatorSettings({ aws: rig.aws.endpoint, awsAuthMode: authMode });
    const destination = factoryFor({ issuer, settings })(rig.storage, { workspaceId });
    return await failureOf(destination, attempt, "tavus/c1/1.mp4");
  } finally {
    lastRun = { workspaceId, requests: [...rig.aws.requests()] };
    await rig.stop();
  }
}

describe("S3 misconfigurations", () => {
  it("wrong ExternalId → DESTINATION_AUTH_FAILED naming the ExternalId", async () => {
    const error = await failureWith((c) => {
      roleOf(c).trustPolicy.Statement[0]!.Condition = {
        StringEquals: { "sts:ExternalId": "someone-else" },
      };
    }, "identity");
    assert.equal(error.code, "DESTINATION_AUTH_FAILED");
    assert.equal(error.cloudCode, "AccessDenied");
    assert.equal(error.transient, false);
    assert.match(error.message, /unable to assume role with given parameters/);
    // What STS saw: the relay sent the Workspace ID as ExternalId (workspace mode), and STS
    // refused it with AccessDenied; a relay sending none (or another) fails here, whatever the hint.
    const { workspaceId, requests } = lastRun!;
    const assumed = requests.filter((r) => r.operation === "AssumeRole");
    assert.ok(assumed.length >= 1);
    for (const request of assumed) {
      assert.equal(request.externalId, workspaceId, "the ExternalId STS received");
      assert.equal(request.status, 403);
      assert.equal(request.code, "AccessDenied");
    }
    assert.ok(error.hint.includes(`sts:ExternalId = "${workspaceId}"`), error.hint);
  });

  it("role with a 1-hour maximum session → DESTINATION_AUTH_FAILED asking for 12 h", async () => {
    const error = await failureWith((c) => {
      roleOf(c).maxSessionDurationSeconds = 3600;
    }, "identity");
    assert.equal(error.code, "DESTINATION_AUTH_FAILED");
    assert.equal(error.cloudCode, "ValidationError");
    assert.match(error.cloudMessage, /MaxSessionDuration/);
    assert.match(error.hint, /maximum session duration to 43200 seconds/);
  });

  it("role trusting another account → DESTINATION_AUTH_FAILED naming the relay's account", async () => {
    const error = await failureWith((c) => {
      roleOf(c).trustPolicy.Statement[0]!.Principal = { AWS: "arn:aws:iam::999999999999:root" };
    }, "identity");
    assert.equal(error.code, "DESTINATION_AUTH_FAILED");
    assert.match(error.hint, /arn:aws:iam::111111111111:root/);
  });

  it("permission scoped to a prefix that does not cover the key → DESTINATION_AUTH_FAILED", async () => {
    const error = await failureWith((c) => {
      for (const p of roleOf(c).permissions ?? []) p.prefix = "other-prefix/";
    }, "upload");
    assert.equal(error.code, "DESTINATION_AUTH_FAILED");
    assert.equal(error.cloudCode, "AccessDenied");
    assert.equal(error.stage, "storage");
    assert.match(error.hint, /s3:PutObject/);
  });

  it("missing bucket → DESTINATION_NOT_FOUND", async () => {
    const error = await failureWith(() => {}, "upload", { bucket_name: "no-such-bucket-here" });
    assert.equal(error.code, "DESTINATION_NOT_FOUND");
    assert.equal(error.cloudCode, "NoSuchBucket");
    assert.match(error.hint, /bucket_name/);
  });

  it("wrong region → DESTINATION_REGION_MISMATCH naming both regions", async () => {
    const error = await failureWith(() => {}, "upload", { bucket_region: "us-west-2" });
    assert.equal(error.code, "DESTINATION_REGION_MISMATCH");
    assert.match(error.hint, /eu-west-1/);
    assert.match(error.hint, /us-west-2/);
  });

  for (const region of ["us-west-2", "us-east-1"]) {
    it(`wrong region (${region}) on every operation delivery and verify use → DESTINATION_REGION_MISMATCH`, async () => {
      for (const attempt of ["stat", "upload", "put", "delete"] as const) {
        const error = await failureWith(() => {}, attempt, { bucket_region: region });
        assert.equal(error.code, "DESTINATION_REGION_MISMATCH", `${attempt}: ${error.message}`);
        assert.equal(error.transient, false);
        assert.match(error.hint, /set bucket_region to eu-west-1/, attempt);
        assert.doesNotMatch(error.message, /Unknown/, attempt);
      }
    });
  }

  it("web identity: role trusting another workspace (subject) → DESTINATION_AUTH_FAILED", async () => {
    const error = await failureWith(
      (c) => {
        const role = c.roles?.find((r) => r.arn === DEMO.webIdentityRoleArn) as RoleConfig;
        const condition = role.trustPolicy.Statement[0]!.Condition!.StringEquals as Record<
          string,
          string
        >;
        for (const name of Object.keys(condition))
          if (name.endsWith(":sub")) condition[name] = "another-workspace";
      },
      "identity",
      { assume_role_arn: DEMO.webIdentityRoleArn },
      "web_identity",
    );
    assert.equal(error.code, "DESTINATION_AUTH_FAILED");
    assert.equal(error.cloudCode, "AccessDenied");
  });

  it("web identity: provider with another audience, or another issuer → DESTINATION_AUTH_FAILED", async () => {
    const audience = await failureWith(
      (c) => {
        c.oidcProviders![0]!.clientIds = ["not-sts"];
      },
      "identity",
      { assume_role_arn: DEMO.webIdentityRoleArn },
      "web_identity",
    );
    assert.equal(audience.code, "DESTINATION_AUTH_FAILED");
    assert.equal(audience.cloudCode, "InvalidIdentityToken");
    assert.match(audience.cloudMessage, /audience/);
    assert.match(audience.hint, /OIDC provider/);
    const issuerError = await failureWith(
      (c) => {
        c.oidcProviders![0]!.url = "https://other-issuer.example.com";
      },
      "identity",
      { assume_role_arn: DEMO.webIdentityRoleArn },
      "web_identity",
    );
    assert.equal(issuerError.code, "DESTINATION_AUTH_FAILED");
    assert.equal(issuerError.cloudCode, "InvalidIdentityToken");
    assert.match(issuerError.cloudMessage, /No OpenIDConnect provider/);
  });
});

describe("S3 web identity and faults", () => {
  it("uploads with AssumeRoleWithWebIdentity (no operator credentials used)", async () => {
    const workspaceId = newWorkspaceId();
    const rig = await awsRig(issuer.url, workspaceId, () => {}, {
      assume_role_arn: DEMO.webIdentityRoleArn,
    });
    try {
      const settings = emulatorSettings({ aws: rig.aws.endpoint, awsAuthMode: "web_identity" });
      const destination = factoryFor({ issuer, settings })(rig.storage, { workspaceId });
      const data = testBytes(6 * MiB);
      await uploadStream(destination, "tavus/c/1", Readable.from([data]), { signal: testSignal() });
      assert.deepEqual(await rig.stored("tavus/c/1"), {
        size: data.length,
        sha256: sha256Hex(data),
      });
      assert.equal(
        rig.aws.requests().filter((r) => r.operation === "AssumeRoleWithWebIdentity").length,
        1,
      );
      assert.equal(rig.aws.requests().filter((r) => r.operation === "AssumeRole").length, 0);
    } finally {
      await rig.stop();
    }
  });

  it("survives 5xx, throttling, resets and a session expiring mid-upload", async () => {
    const workspaceId = newWorkspaceId();
    const rig = await awsRig(issuer.url, workspaceId);
    try {
      // One part in flight: the session expiry below follows a write boundary (parts in flight
      // under faults: destinations-parts-in-flight.test.ts).
      const settings = { ...rig.settings, partsInFlight: 1 };
      const destination = factoryFor({ issuer, settings })(rig.storage, {
        workspaceId,
      });
      rig.aws.faults.set({
        seed: 11,
        rules: [
          {
            bucket: DEMO.bucket,
            operations: ["UploadPart", "CreateMultipartUpload", "CompleteMultipartUpload"],
            errorRate: 0.25,
            resetRate: 0.15,
          },
        ],
      });
      const data = testBytes(40 * MiB, 5);
      const upload = await destination.openUpload("tavus/faults/1", { signal: testSignal() });
      await upload.write(data.subarray(0, 20 * MiB), testSignal());
      assert.ok(rig.aws.expireSessions() > 0);
      await upload.write(data.subarray(20 * MiB), testSignal());
      await upload.complete(testSignal());
      assert.deepEqual(await rig.stored("tavus/faults/1"), {
        size: data.length,
        sha256: sha256Hex(data),
      });
      const log = rig.aws.requests();
      assert.ok(
        log.some((r) => r.fault === "error"),
        "errors were injected",
      );
      assert.ok(
        log.some((r) => r.fault === "reset"),
        "resets were injected",
      );
      assert.ok(
        log.some((r) => r.code === "ExpiredToken"),
        "the session expired mid-upload",
      );
      assert.equal(rig.exchanges(), 2, "one refresh after the expiry");
    } finally {
      await rig.stop();
    }
  });

  it("STS failing past the retry budget → transient DESTINATION_UNAVAILABLE", async () => {
    const error = await failureWith((c) => {
      c.faults = { seed: 1, rules: [{ service: "sts", errorRate: 1, errors: ["InternalError"] }] };
    }, "identity");
    assert.equal(error.code, "DESTINATION_UNAVAILABLE");
    assert.equal(error.transient, true);
  });
});

describe("S3 small objects", () => {
  it("an object within one part: one PutObject with its CRC32, no multipart upload, no handle", async () => {
    const workspaceId = newWorkspaceId();
    const rig = await awsRig(issuer.url, workspaceId);
    try {
      const destination = factoryFor({ issuer, settings: rig.settings })(rig.storage, {
        workspaceId,
      });
      const data = testBytes(MiB + 3, 4);
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(crc32(data));
      const result = await uploadStream(
        destination,
        "tavus/single/1.mp4",
        Readable.from([data.subarray(0, 1000), data.subarray(1000)]),
        {
          expectedSizeBytes: data.length,
          signal: testSignal(),
          onHandle: async () => assert.fail("a single PutObject leaves nothing to clean up"),
        },
      );
      const s3 = rig.aws.requests().filter((r) => r.service === "s3");
      assert.deepEqual(
        s3.map((r) => [r.operation, r.status, r.payload]),
        [["PutObject", 200, "UNSIGNED-PAYLOAD"]],
      );
      assert.equal(result.checksums.crc32Base64, crc.toString("base64"));
      assert.deepEqual(await rig.stored("tavus/single/1.mp4"), {
        size: data.length,
        sha256: sha256Hex(data),
      });
      // The whole object's CRC32 is what a redelivery's stat compares with the staged copy.
      const stat = await destination.stat("tavus/single/1.mp4", testSignal());
      assert.ok(stat.exists);
      assert.equal(stat.checksums.crc32Base64, crc.toString("base64"));
    } finally {
      await rig.stop();
    }
  });

  it("an object of exactly one part, or more, is a multipart upload; abort removes it", async () => {
    const workspaceId = newWorkspaceId();
    const rig = await awsRig(issuer.url, workspaceId);
    try {
      const destination = factoryFor({ issuer, settings: rig.settings })(rig.storage, {
        workspaceId,
      });
      const data = testBytes(8 * MiB, 5);
      const s3Operations = () =>
        rig.aws
          .requests()
          .filter((r) => r.service === "s3")
          .map((r) => r.operation);
      let atHandle: string[] | undefined;
      const upload = await destination.openUpload("tavus/single/2.mp4", {
        signal: testSignal(),
        onHandle: async () => {
          atHandle = s3Operations();
        },
      });
      const handle = () => upload.handle;
      assert.equal(handle(), undefined, "no request before the first part is full");
      await upload.write(data, testSignal());
      assert.equal(handle()?.provider, "s3");
      assert.deepEqual(atHandle, ["CreateMultipartUpload"], "reported before any part is sent");
      await upload.complete(testSignal());
      assert.deepEqual(
        rig.aws
          .requests()
          .filter((r) => r.service === "s3")
          .map((r) => r.operation),
        ["CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"],
      );
      assert.deepEqual(await rig.stored("tavus/single/2.mp4"), {
        size: data.length,
        sha256: sha256Hex(data),
      });
      const abandoned = await destination.openUpload("tavus/single/3.mp4", {
        signal: testSignal(),
      });
      await abandoned.write(testBytes(9 * MiB, 6), testSignal());
      assert.equal(rig.aws.pendingUploads(DEMO.bucket).length, 1);
      await abandoned.abort(testSignal());
      assert.deepEqual(rig.aws.pendingUploads(DEMO.bucket), []);
      assert.equal(await rig.stored("tavus/single/3.mp4"), undefined);
    } finally {
      await rig.stop();
    }
  });
});
