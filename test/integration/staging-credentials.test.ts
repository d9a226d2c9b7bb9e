/**
 * An S3-compatible staging bucket with its own operator credentials (docs/operations.md,
 * Staging): the staging server (a second AWS emulator, standing for MinIO, R2 or Ceph) knows only
 * the staging key, while the relay assumes customers' roles with the identity of the AWS SDK's
 * default chain, which the staging server does not know.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { type AwsEmulator, startAwsEmulator } from "../../emulators/aws/index.ts";
import { testMp4 } from "../helpers/bytes.ts";
import {
  type InProcessRelay,
  prepareRig,
  type RigEnvironment,
  startRigServer,
} from "../helpers/delivery-rig.ts";

const STAGING = {
  bucket: "relay-staging",
  region: "eu-west-1",
  prefix: "staging/",
  user: {
    arn: "arn:aws:iam::999999999999:user/relay-staging",
    accessKeyId: "TEST-STAGING-OWN-KEY-01",
    secretAccessKey: "staging-own-secret-never-printed",
  },
} as const;

/** Polls `check` every 50 ms until it holds; fails after `ms` with `what`. */
async function until(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("S3-compatible staging with its own credentials", () => {
  let rig: RigEnvironment;
  let staging: AwsEmulator;
  let relay: InProcessRelay | undefined;
  let stagingEnv: Record<string, string>;

  before(async () => {
    rig = await prepareRig("embedded");
    staging = await startAwsEmulator({
      identities: [
        {
          ...STAGING.user,
          permissions: [
            {
              bucket: STAGING.bucket,
              prefix: STAGING.prefix,
              actions: [
                "s3:ListBucket",
                "s3:PutObject",
                "s3:GetObject",
                "s3:DeleteObject",
                "s3:AbortMultipartUpload",
              ],
            },
          ],
        },
      ],
      buckets: [{ name: STAGING.bucket, region: STAGING.region }],
    });
    stagingEnv = {
      RELAY_STAGING_S3_BUCKET: STAGING.bucket,
      RELAY_STAGING_S3_REGION: STAGING.region,
      RELAY_STAGING_S3_PREFIX: STAGING.prefix,
      RELAY_STAGING_S3_ENDPOINT: staging.endpoint,
    };
  });
  afterEach(async () => {
    await relay?.close();
    relay = undefined;
  });
  after(async () => {
    await staging?.stop();
    await rig?.stop();
  });

  const s3Conversation = async (call: InProcessRelay["call"]) => {
    const created = await call("POST", "/v2/conversations", {
      json: {
        properties: { enable_recording: true, recording_storage: rig.emulators.destinations.s3 },
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body.conversation_id as string;
  };

  it("stages with its own key while customers' roles are assumed with the default chain", async () => {
    relay = await startRigServer(rig, {
      ...stagingEnv,
      RELAY_STAGING_S3_ACCESS_KEY_ID: STAGING.user.accessKeyId,
      RELAY_STAGING_S3_SECRET_ACCESS_KEY: STAGING.user.secretAccessKey,
    });
    const ready = await relay.call("GET", "/readyz");
    assert.equal(ready.status, 200, JSON.stringify(ready.body));
    assert.equal(ready.body.checks.staging, "ok");
    const conversation = await s3Conversation(relay.call);
    const bytes = testMp4(200_000, 5_000);
    const uploaded = await relay.call("POST", `/v2/conversations/${conversation}/recordings`, {
      operator: true,
      bytes,
      headers: { "content-type": "video/mp4" },
    });
    assert.equal(uploaded.status, 202, JSON.stringify(uploaded.body));
    const id = uploaded.body.recording_id as string;
    assert.ok(
      staging.keys(STAGING.bucket).includes(`${STAGING.prefix}${id}/0000000000000000`),
      "the recording was staged in the staging bucket",
    );
    await until("the recording is delivered", async () => {
      const read = await relay!.call("GET", `/v2/recordings/${id}`);
      return read.body.state === "delivered";
    });
    const delivered = await rig.emulators.storedDigest("s3", uploaded.body.key);
    assert.equal(delivered?.size, bytes.length);
    // The customer's bucket was reached through AssumeRole with the default chain's identity.
    assert.ok(
      rig.emulators.aws
        .requests()
        .some((r) => r.service === "sts" && r.operation === "AssumeRole" && r.status === 200),
    );
    // The staging server saw no refused request: every one was signed with the staging key.
    assert.deepEqual(
      staging.requests().filter((r) => r.status >= 400),
      [],
    );
  });

  it("takes its credentials from a named profile (RELAY_STAGING_S3_PROFILE)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "relay-aws-profile-"));
    const saved = {
      AWS_SHARED_CREDENTIALS_FILE: process.env.AWS_SHARED_CREDENTIALS_FILE,
      AWS_CONFIG_FILE: process.env.AWS_CONFIG_FILE,
    };
    try {
      const credentialsFile = join(dir, "credentials");
      await writeFile(
        credentialsFile,
        `[relay-staging]\naws_access_key_id = ${STAGING.user.accessKeyId}\naws_secret_access_key = ${STAGING.user.secretAccessKey}\n`,
      );
      process.env.AWS_SHARED_CREDENTIALS_FILE = credentialsFile;
      process.env.AWS_CONFIG_FILE = join(dir, "config");
      relay = await startRigServer(rig, {
        ...stagingEnv,
        RELAY_STAGING_S3_PROFILE: "relay-staging",
      });
      const ready = await relay.call("GET", "/readyz");
      assert.equal(ready.status, 200, JSON.stringify(ready.body));
      const conversation = await s3Conversation(relay.call);
      const uploaded = await relay.call("POST", `/v2/conversations/${conversation}/recordings`, {
        operator: true,
        bytes: testMp4(10_000, 1_000),
        headers: { "content-type": "video/mp4" },
      });
      assert.equal(uploaded.status, 202, JSON.stringify(uploaded.body));
      assert.ok(
        staging.keys(STAGING.bucket).some((key) => key.includes(uploaded.body.recording_id)),
      );
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("without its own key, staging refuses the default chain's identity, clearly and without secrets", async () => {
    // The refusals below are expected: keep their error lines out of the test output.
    relay = await startRigServer(rig, { ...stagingEnv, RELAY_LOG_LEVEL: "silent" });
    const ready = await relay.call("GET", "/readyz");
    assert.equal(ready.status, 503, JSON.stringify(ready.body));
    assert.equal(ready.body.error.code, "NOT_READY");
    assert.equal(ready.body.error.details.staging, "failing");
    assert.match(ready.body.error.message, /s3:\/\/relay-staging\/staging\//);
    await assert.rejects(relay.server.engine.staging.check(), (error: Error) => {
      assert.match(error.message, /cannot be written/);
      assert.match(error.message, /InvalidAccessKeyId/);
      assert.ok(!error.message.includes(rig.emulators.awsOperator.secretAccessKey));
      return true;
    });
    const conversation = await s3Conversation(relay.call);
    const refused = await relay.call("POST", `/v2/conversations/${conversation}/recordings`, {
      operator: true,
      bytes: testMp4(10_000, 1_000),
      headers: { "content-type": "video/mp4" },
    });
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, "NOT_READY");
    assert.match(refused.body.error.message, /staging did not take the append/);
    const read = await relay.call("GET", `/v2/conversations/${conversation}`);
    assert.deepEqual(read.body.recordings, []);
    assert.ok(
      staging.requests().some((r) => r.code === "InvalidAccessKeyId"),
      "the staging server refused the default chain's key",
    );
  });
});
