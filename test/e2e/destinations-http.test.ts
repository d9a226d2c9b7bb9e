/**
 * The destination adapters behind the HTTP API, against the emulators: S3's AssumeRole check at
 * conversation creation (docs/api.md, recording_storage) and `POST /v2/recording-storage/verify` step by step.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DEMO, type RoleConfig } from "../../emulators/aws/index.ts";
import { s3CreationCheck } from "../../src/conversations/s3-check.ts";
import { CredentialCache } from "../../src/destinations/index.ts";
import { verifierOf } from "../../src/runtime/destinations.ts";
import { setDefaultRecordingStorage } from "../../src/workspaces/index.ts";
import { testTrust } from "../helpers/app-deps.ts";
import {
  awsRig,
  azureRig,
  factoryFor,
  gcpRig,
  type ProviderRig,
  type RelayIssuer,
  startRelayIssuer,
} from "../helpers/destinations.ts";
import { startTestRelay, type TestRelay } from "../helpers/relay-api.ts";

const SHORT_ROLE = "arn:aws:iam::222222222222:role/ShortSessions";

describe("destinations behind the HTTP API", () => {
  let issuer: RelayIssuer;
  let relay: TestRelay;
  let workspace: { id: string; apiKey: string };
  const rigs: Record<string, ProviderRig> = {};
  const factories: Record<string, ReturnType<typeof factoryFor>> = {};

  before(async () => {
    issuer = await startRelayIssuer();
    const cache = new CredentialCache();
    // The relay needs the workspace id before the emulated customers can trust it: the
    // destination hooks look the factory up per provider once the rigs exist.
    relay = await startTestRelay("embedded", {
      trust: testTrust({ awsAccountId: DEMO.operatorAccountId }),
      checkDestination: (destination, context) =>
        s3CreationCheck((storage, ctx) => factories[storage.provider]!(storage, ctx))(
          destination,
          context,
        ),
      verifyDestination: (destination, context) =>
        verifierOf((storage, ctx) => factories[storage.provider]!(storage, ctx))(
          destination,
          context,
        ),
    });
    workspace = await relay.workspace();
    rigs.s3 = await awsRig(issuer.url, workspace.id, (config) => {
      const role = structuredClone((config.roles as RoleConfig[])[0]!);
      role.arn = SHORT_ROLE;
      role.maxSessionDurationSeconds = 3600;
      (config.roles as RoleConfig[]).push(role);
    });
    rigs.gcs = await gcpRig(issuer.url, workspace.id);
    rigs.azure_blob = await azureRig(issuer.url, workspace.id, (config) => {
      // Write access only under recordings/: the probe of a template elsewhere must fail.
      for (const assignment of (
        config as unknown as { tenants: { roleAssignments: { condition?: unknown }[] }[] }
      ).tenants[0]!.roleAssignments) {
        assignment.condition = { blobPathPrefix: "recordings/" };
      }
    });
    for (const [provider, rig] of Object.entries(rigs)) {
      factories[provider] = factoryFor({ issuer, settings: rig.settings, cache });
    }
  });
  after(async () => {
    await relay?.close();
    for (const rig of Object.values(rigs)) await rig.stop();
    await issuer?.stop();
  });

  it("creates a conversation whose S3 role can be assumed with the configured duration", async () => {
    const created = await relay.call("POST", "/v2/conversations", {
      apiKey: workspace.apiKey,
      body: { properties: { recording_storage: rigs.s3!.storage } },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
  });

  it("refuses an S3 role limited to 1-hour sessions with the cloud's reason and a hint", async () => {
    const refused = await relay.call("POST", "/v2/conversations", {
      apiKey: workspace.apiKey,
      body: {
        properties: { recording_storage: { ...rigs.s3!.storage, assume_role_arn: SHORT_ROLE } },
      },
    });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, "VALIDATION_FAILED");
    assert.match(refused.body.error.message, /unable to assume role with given parameters/);
    assert.match(
      refused.body.error.message,
      /ValidationError: The requested DurationSeconds exceeds the MaxSessionDuration/,
    );
    assert.match(refused.body.error.message, /Hint: raise the role's maximum session duration/);
  });

  it("refuses to save an S3 default whose role cannot be assumed, and stores nothing", async () => {
    const refused = await relay.call("PUT", "/v2/recording-storage", {
      apiKey: workspace.apiKey,
      body: { ...rigs.s3!.storage, assume_role_arn: SHORT_ROLE },
    });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, "VALIDATION_FAILED");
    assert.equal(refused.body.error.field, undefined, "the whole body is the destination");
    assert.doesNotMatch(refused.body.error.message, /properties\./);
    assert.match(refused.body.error.message, /unable to assume role with given parameters/);
    assert.match(refused.body.error.message, /DurationSeconds exceeds the MaxSessionDuration/);
    assert.match(refused.body.error.message, /Hint: raise the role's maximum session duration/);
    assert.match(refused.body.error.message, /the default was not saved/);
    const stored = await relay.call("GET", "/v2/recording-storage", { apiKey: workspace.apiKey });
    assert.equal(stored.status, 404);

    // A role that can be assumed is saved.
    const saved = await relay.call("PUT", "/v2/recording-storage", {
      apiKey: workspace.apiKey,
      body: rigs.s3!.storage,
    });
    assert.equal(saved.status, 200, JSON.stringify(saved.body));
    await relay.call("DELETE", "/v2/recording-storage", { apiKey: workspace.apiKey });
  });

  it("names the workspace default, not a field the caller never sent, when the saved default stopped working", async () => {
    // Saved while it worked; the customer has since limited the role's sessions to one hour.
    await setDefaultRecordingStorage(relay.db, workspace.id, {
      ...(rigs.s3!.storage as { provider: "s3"; bucket_name: string; bucket_region: string }),
      assume_role_arn: SHORT_ROLE,
    });
    try {
      const refused = await relay.call("POST", "/v2/conversations", {
        apiKey: workspace.apiKey,
        body: { properties: { enable_recording: true } },
      });
      assert.equal(refused.status, 400, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, "VALIDATION_FAILED");
      assert.equal(refused.body.error.field, "recording_storage (workspace default)");
      assert.doesNotMatch(refused.body.error.message, /properties\.recording_storage/);
      assert.match(
        refused.body.error.message,
        /^recording_storage \(workspace default\): the workspace's saved default destination no longer works: unable to assume role with given parameters: ValidationError: /,
      );
      assert.match(refused.body.error.message, /PUT \/v2\/recording-storage/);
      assert.match(refused.body.error.message, /POST \/v2\/recording-storage\/verify/);
    } finally {
      await setDefaultRecordingStorage(relay.db, workspace.id, null);
    }
  });

  it("verifies a GCS destination: every step passes and the probe is gone", async () => {
    const answer = await relay.call("POST", "/v2/recording-storage/verify", {
      apiKey: workspace.apiKey,
      body: rigs.gcs!.storage,
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.ok, true);
    assert.deepEqual(
      answer.body.steps.map((s: { step: string; status: string }) => [s.step, s.status]),
      [
        ["identity_exchange", "pass"],
        ["impersonation", "pass"],
        ["probe_write", "pass"],
        ["probe_delete", "pass"],
        ["safety", "pass"],
      ],
    );
    assert.match(answer.body.probe_key, /^tavus\/\.recording-relay-verify\/probe-/);
    assert.equal(await rigs.gcs!.stored(answer.body.probe_key), undefined);
  });

  it("verifies the workspace default (S3): impersonation is skipped", async () => {
    const put = await relay.call("PUT", "/v2/recording-storage", {
      apiKey: workspace.apiKey,
      body: rigs.s3!.storage,
    });
    assert.equal(put.status, 200);
    const answer = await relay.call("POST", "/v2/recording-storage/verify", {
      apiKey: workspace.apiKey,
    });
    assert.equal(answer.status, 200);
    assert.equal(answer.body.ok, true);
    assert.deepEqual(
      answer.body.steps.map((s: { status: string }) => s.status),
      ["pass", "skip", "pass", "pass", "pass"],
    );
  });

  it("reports a failing probe write with its code, the cloud's message and a hint; later steps skip", async () => {
    const answer = await relay.call("POST", "/v2/recording-storage/verify", {
      apiKey: workspace.apiKey,
      body: { ...rigs.azure_blob!.storage, key_template: "elsewhere/{conversation_id}/{epoch_ms}" },
    });
    assert.equal(answer.status, 200);
    assert.equal(answer.body.ok, false);
    const [exchange, impersonation, write, remove] = answer.body.steps;
    assert.equal(exchange.status, "pass");
    assert.equal(impersonation.status, "skip");
    assert.equal(write.status, "fail");
    assert.equal(write.error_code, "DESTINATION_AUTH_FAILED");
    assert.equal(write.cloud_code, "AuthorizationPermissionMismatch");
    assert.match(write.cloud_message, /not authorized/);
    assert.match(write.hint, /Storage Blob Data Contributor/);
    assert.equal(remove.status, "skip");
    // Under the permitted prefix the same destination passes.
    const good = await relay.call("POST", "/v2/recording-storage/verify", {
      apiKey: workspace.apiKey,
      body: {
        ...rigs.azure_blob!.storage,
        key_template: "recordings/{conversation_id}/{epoch_ms}",
      },
    });
    assert.equal(good.body.ok, true, JSON.stringify(good.body));
  });
});
