/**
 * The start-up self-check: each warning on its own (AWS credentials missing in assume_role mode,
 * an http issuer on a non-loopback address, an issuer URL that answers with another relay's
 * discovery or not at all, a master key file readable by others), and end to end: a relay with
 * S3 enabled and no AWS credentials says so at start and in /readyz, and an S3 conversation is
 * refused with the operator-side NOT_CONFIGURED naming the setting, not as the customer's trust.
 */
import assert from "node:assert/strict";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { loadConfig } from "../../src/config/index.ts";
import { runSelfCheck, type SelfCheckInputs } from "../../src/runtime/self-check.ts";
import { startServer } from "../../src/runtime/server.ts";
import {
  createRecordedConversation,
  prepareRig,
  relayClient,
  startWebhookReceiver,
} from "../helpers/delivery-rig.ts";

// The AWS SDK's default chain reads the environment: this file runs in its own process, where no
// AWS credentials, profiles or instance metadata are to be found.
for (const name of [
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_PROFILE",
]) {
  delete process.env[name];
}
process.env.AWS_EC2_METADATA_DISABLED = "true";
process.env.AWS_CONFIG_FILE = "/nonexistent/aws-config";
process.env.AWS_SHARED_CREDENTIALS_FILE = "/nonexistent/aws-credentials";

let dir: string;
let other: Server;
let otherUrl: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "relay-self-check-"));
  // Another issuer: answers discovery, but not as this relay.
  other = createServer((_request, response) => {
    response.setHeader("content-type", "application/json");
    response.end(JSON.stringify({ issuer: "https://someone-else.example", jwks_uri: "x" }));
  });
  await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
  otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
});
after(async () => {
  other.close();
  await rm(dir, { recursive: true, force: true });
});

const quiet: SelfCheckInputs = {
  awsAccountId: undefined,
  awsAuthMode: "assume_role",
  issuerUrl: "http://127.0.0.1:9",
  signingKid: undefined,
  masterKeyPath: undefined,
  timeoutMs: 1_000,
};
const checks = async (inputs: Partial<SelfCheckInputs>) =>
  (await runSelfCheck({ ...quiet, ...inputs })).filter((f) => f.check !== "issuer_discovery");

describe("self-check warnings, one by one", () => {
  it("warns when S3 is enabled in assume_role mode and the SDK's chain finds no credentials", async () => {
    const [finding, ...rest] = await checks({ awsAccountId: "111122223333" });
    assert.deepEqual(rest, []);
    assert.equal(finding?.check, "aws_credentials");
    assert.equal(finding?.code, "NOT_CONFIGURED");
    assert.match(finding!.message, /RELAY_AWS_ACCOUNT_ID=111122223333/);
    assert.match(finding!.message, /RELAY_AWS_AUTH_MODE=web_identity/);
    // No S3, or web identity (no operator credentials needed), or credentials present: quiet.
    assert.deepEqual(await checks({}), []);
    assert.deepEqual(
      await checks({ awsAccountId: "111122223333", awsAuthMode: "web_identity" }),
      [],
    );
    process.env.AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE";
    process.env.AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    try {
      assert.deepEqual(await checks({ awsAccountId: "111122223333" }), []);
    } finally {
      delete process.env.AWS_ACCESS_KEY_ID;
      delete process.env.AWS_SECRET_ACCESS_KEY;
    }
  });

  it("warns of an http issuer on a non-loopback address, not on loopback", async () => {
    const [finding] = await checks({ issuerUrl: "http://relay.example.com" });
    assert.equal(finding?.check, "issuer_scheme");
    assert.equal(finding?.code, "INSECURE");
    assert.match(finding!.message, /RELAY_ISSUER_URL/);
    for (const issuerUrl of [
      "http://localhost:8080",
      "http://127.0.0.1:8080",
      "http://[::1]:8080",
      "https://relay.example.com",
    ]) {
      assert.deepEqual(await checks({ issuerUrl }), [], issuerUrl);
    }
  });

  it("warns when the issuer URL answers with another discovery document, or not at all", async () => {
    const foreign = await runSelfCheck({ ...quiet, issuerUrl: otherUrl });
    assert.equal(foreign.length, 1);
    assert.equal(foreign[0]!.check, "issuer_discovery");
    assert.match(foreign[0]!.message, /names the issuer "https:\/\/someone-else.example"/);
    const silent = await runSelfCheck({ ...quiet, issuerUrl: "http://127.0.0.1:9" });
    assert.equal(silent[0]?.check, "issuer_discovery");
    assert.match(silent[0]!.message, /failed/);
  });

  it("warns when the master key file is readable by group or others", async () => {
    const path = join(dir, "master-key");
    await writeFile(path, "key\n", { mode: 0o600 });
    assert.deepEqual(await checks({ masterKeyPath: path }), []);
    await chmod(path, 0o640);
    const [finding] = await checks({ masterKeyPath: path });
    assert.equal(finding?.check, "master_key_permissions");
    assert.match(finding!.message, /mode 0640.*chmod 600/);
  });
});

describe("a relay with S3 enabled and no AWS credentials of its own", () => {
  it("warns at start and in /readyz, and refuses S3 with NOT_CONFIGURED, not as the customer's trust", async () => {
    const rig = await prepareRig("embedded");
    const receiver = await startWebhookReceiver();
    const { AWS_ACCESS_KEY_ID: _id, AWS_SECRET_ACCESS_KEY: _secret, ...env } = rig.env;
    const server = await startServer(loadConfig({ env }));
    try {
      assert.deepEqual(
        server.selfCheck.map((finding) => finding.check),
        ["aws_credentials"],
      );
      const ready = await fetch(`${server.url}/readyz`);
      assert.equal(ready.status, 200);
      const body = (await ready.json()) as { warnings: { check: string; code: string }[] };
      assert.deepEqual(
        body.warnings.map((w) => [w.check, w.code]),
        [["aws_credentials", "NOT_CONFIGURED"]],
      );
      const call = relayClient(server.url, rig.workspace.apiKey);
      const refused = await call("POST", "/v2/conversations", {
        json: {
          properties: {
            enable_recording: true,
            callback_url: receiver.url,
            recording_storage: rig.emulators.destinations.s3,
          },
        },
      });
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, "NOT_CONFIGURED");
      assert.match(refused.body.error.message, /AWS_ACCESS_KEY_ID/);
      assert.match(refused.body.error.message, /RELAY_AWS_AUTH_MODE=web_identity/);
      assert.doesNotMatch(refused.body.error.message, /check the role's trust policy/);
      assert.match(refused.body.error.message, /not a problem with the customer's role/);
      assert.doesNotMatch(refused.body.error.message, /unable to assume role/);
      // GCS, which needs no operator credentials, is unaffected.
      await createRecordedConversation(call, receiver, rig.emulators.destinations.gcs);
    } finally {
      await server.close();
      await receiver.close();
      await rig.stop();
    }
  });
});
