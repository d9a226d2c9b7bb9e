/** `recording-relay verify`: the live diagnostic from the command line, against the AWS emulator. */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type AwsEmulator,
  DEMO,
  demoAwsConfig,
  startAwsEmulator,
} from "../../emulators/aws/index.ts";
import { killAllRelays, runRelay } from "../helpers/relay-process.ts";

describe("recording-relay verify (S3)", () => {
  let dir: string;
  let aws: AwsEmulator;
  let workspaceId: string;
  let env: Record<string, string>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "relay-verify-"));
    const created = runRelay(["workspace", "create", "--name", "Acme", "--data-dir", dir]);
    assert.equal((await created.exited).code, 0, created.output());
    workspaceId = (JSON.parse(created.output()) as { workspace_id: string }).workspace_id;
    // The emulated customer's role trusts the operator with this workspace's id as ExternalId.
    aws = await startAwsEmulator(demoAwsConfig({ externalId: workspaceId }));
    env = {
      RELAY_DATA_DIR: dir,
      RELAY_AWS_ACCOUNT_ID: DEMO.operatorAccountId,
      RELAY_AWS_ENDPOINT_URL: aws.endpoint,
      AWS_ACCESS_KEY_ID: DEMO.operatorAccessKeyId,
      AWS_SECRET_ACCESS_KEY: DEMO.operatorSecretAccessKey,
      AWS_REGION: "us-east-1",
    };
  });
  after(async () => {
    killAllRelays();
    await aws.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const storageFile = async (roleArn: string) => {
    const path = join(dir, `storage-${crypto.randomUUID()}.json`);
    const storage = {
      provider: "s3",
      bucket_name: DEMO.bucket,
      bucket_region: DEMO.region,
      assume_role_arn: roleArn,
    };
    await writeFile(path, JSON.stringify(storage));
    return path;
  };

  it("passes every step for a correct destination and leaves no probe behind", async () => {
    const verify = runRelay(
      ["verify", "--workspace", workspaceId, "--file", await storageFile(DEMO.roleArn)],
      env,
    );
    assert.equal((await verify.exited).code, 0, verify.output());
    const report = JSON.parse(verify.output().slice(verify.output().indexOf("{"))) as {
      ok: boolean;
      steps: { status: string }[];
    };
    assert.equal(report.ok, true);
    assert.ok(report.steps.every((step) => step.status === "pass" || step.status === "skip"));
    assert.deepEqual(aws.keys(DEMO.bucket), []);
  });

  it("fails with the cloud's reason and exit code 1 when the role does not trust the relay", async () => {
    const otherRole = DEMO.roleArn.replace("RecordingWriter", "SomeoneElsesRole");
    const verify = runRelay(
      ["verify", "--workspace", workspaceId, "--file", await storageFile(otherRole)],
      env,
    );
    assert.equal((await verify.exited).code, 1);
    assert.match(verify.output(), /DESTINATION_AUTH_FAILED/);
    assert.match(verify.output(), /error: the destination failed verification/);
  });
});
