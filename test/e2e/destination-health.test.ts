/**
 * Destination health end to end (docs/api.md, Destination health), on both databases: the
 * scheduled check (driven with `runOnce` at later instants, never by sleeping) finds a workspace's
 * default destination and a destination a delivery used, reports `health` on the API, and sends
 * exactly one signed `application.recording_storage_unhealthy` when a trust is broken in the
 * emulator and exactly one `application.recording_storage_recovered` when it is repaired; each
 * destination is checked at most once per interval however many rounds run.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DEMO as AWS_DEMO } from "../../emulators/aws/index.ts";
import { testBytes } from "../helpers/bytes.ts";
import { databaseKinds } from "../helpers/databases.ts";
import {
  connectReceiver,
  createRecordedConversation,
  type InProcessRelay,
  prepareRig,
  type RigEnvironment,
  startRigServer,
  startWebhookReceiver,
  type WebhookReceiver,
} from "../helpers/delivery-rig.ts";

const INTERVAL_MS = 6 * 3_600_000;

for (const kind of databaseKinds) {
  describe(`destination health (${kind})`, () => {
    let rig: RigEnvironment;
    let relay: InProcessRelay;
    let receiver: WebhookReceiver;
    let defaultConversation: string;
    let azureConversation: string;
    const t0 = Date.now();
    const at = (intervals: number) => ({ nowMs: t0 + intervals * INTERVAL_MS });

    const healthEvents = (type: "unhealthy" | "recovered", provider: string) =>
      receiver.events.filter(
        (e) =>
          e.body.event_type === `application.recording_storage_${type}` &&
          e.body.properties.storage_provider === provider,
      );
    const conversationHealth = async (id: string) =>
      (await relay.call("GET", `/v2/conversations/${id}`)).body.recording_storage_health;

    before(async () => {
      receiver = await startWebhookReceiver();
      rig = await prepareRig(kind);
      relay = await startRigServer(rig);
      await connectReceiver(relay.call, receiver);
      // The workspace default (S3), captured by a conversation; and an Azure destination a
      // delivery used.
      const put = await relay.call("PUT", "/v2/recording-storage", {
        json: rig.emulators.destinations.s3,
      });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      const created = await relay.call("POST", "/v2/conversations", {
        json: { properties: { enable_recording: true, callback_url: receiver.url } },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      defaultConversation = created.body.conversation_id;
      assert.deepEqual(created.body.recording_storage_health.status, "unknown");
      azureConversation = await createRecordedConversation(
        relay.call,
        receiver,
        rig.emulators.destinations.azure_blob,
      );
      const recorded = await relay.call(
        "POST",
        `/v2/conversations/${azureConversation}/recordings`,
        { operator: true, bytes: testBytes(10_000, 3) },
      );
      assert.equal(recorded.status, 202);
      await receiver.waitFor((events) =>
        events.some((e) => e.body.event_type === "application.recording_ready"),
      );
    });
    after(async () => {
      await relay?.close();
      await receiver?.close();
      await rig?.stop();
    });

    it("checks the default and the used destination once per interval; healthy, with the safety check", async () => {
      const health = relay.server.engine.health;
      const [first, second] = await Promise.all([health.runOnce(at(0)), health.runOnce(at(0))]);
      // Two rounds at once (as two processes would): each destination checked exactly once.
      assert.equal(first.checked + second.checked, 2);
      assert.equal((await health.runOnce(at(0.5))).checked, 0);
      const storage = await relay.call("GET", "/v2/recording-storage");
      assert.equal(storage.status, 200);
      assert.equal(storage.body.health.status, "healthy", JSON.stringify(storage.body.health));
      assert.ok(storage.body.health.checked_at);
      assert.equal(storage.body.health.error_code, null);
      assert.equal(storage.body.health.safety.status, "pass");
      assert.equal((await conversationHealth(defaultConversation)).status, "healthy");
      assert.equal((await conversationHealth(azureConversation)).status, "healthy");
      assert.equal(healthEvents("unhealthy", "s3").length, 0);
    });

    it("a broken trust: one unhealthy event per destination; repaired: one recovered event", async () => {
      const health = relay.server.engine.health;
      const role = rig.emulators.aws.role(AWS_DEMO.roleArn)!;
      const azure = rig.emulators.destinations.azure_blob;
      // Break both trusts: the role now expects another ExternalId; the federated credential is gone.
      rig.emulators.aws.putRole({
        ...role,
        trustPolicy: {
          Statement: role.trustPolicy.Statement.map((statement) => ({
            ...statement,
            Condition: { StringEquals: { "sts:ExternalId": "someone-else" } },
          })),
        },
      });
      assert.ok(
        rig.emulators.azure.removeFederatedCredential(
          azure.tenant_id,
          azure.client_id,
          "recording-relay",
        ),
      );
      assert.equal((await health.runOnce(at(1.2))).transitions, 2);
      const storage = await relay.call("GET", "/v2/recording-storage");
      assert.equal(storage.body.health.status, "unhealthy");
      assert.equal(storage.body.health.error_code, "DESTINATION_AUTH_FAILED");
      assert.match(storage.body.health.message, /AccessDenied/);
      assert.ok(storage.body.health.hint);
      const azureHealth = await conversationHealth(azureConversation);
      assert.equal(azureHealth.status, "unhealthy");
      assert.match(azureHealth.message, /AADSTS7002\d+: .*No matching federated identity record/);
      // Still broken at the next interval: no second event.
      assert.equal((await health.runOnce(at(2.4))).transitions, 0);
      await receiver.waitFor(
        () =>
          healthEvents("unhealthy", "s3").length === 1 &&
          healthEvents("unhealthy", "azure_blob").length === 1,
      );
      const unhealthy = healthEvents("unhealthy", "s3")[0]!.body;
      assert.equal(unhealthy.message_type, "application");
      assert.equal(unhealthy.conversation_id, defaultConversation);
      assert.equal(unhealthy.webhook_url, receiver.url);
      assert.equal(unhealthy.properties.status, "unhealthy");
      assert.equal(unhealthy.properties.previous_status, "healthy");
      assert.equal(unhealthy.properties.error_code, "DESTINATION_AUTH_FAILED");
      assert.equal(
        unhealthy.properties.recording_storage.assume_role_arn,
        rig.emulators.destinations.s3.assume_role_arn,
      );

      // Repair both.
      rig.emulators.aws.putRole(role);
      rig.emulators.azure.addFederatedCredential(azure.tenant_id, azure.client_id, {
        name: "recording-relay",
        issuer: rig.issuerUrl,
        subject: rig.workspace.id,
      });
      assert.equal((await health.runOnce(at(3.6))).transitions, 2);
      assert.equal((await health.runOnce(at(4.8))).transitions, 0);
      await receiver.waitFor(
        () =>
          healthEvents("recovered", "s3").length === 1 &&
          healthEvents("recovered", "azure_blob").length === 1,
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      for (const provider of ["s3", "azure_blob"]) {
        assert.equal(healthEvents("unhealthy", provider).length, 1);
        assert.equal(healthEvents("recovered", provider).length, 1);
      }
      assert.equal(
        healthEvents("recovered", "azure_blob")[0]!.body.conversation_id,
        azureConversation,
      );
      assert.equal(
        (await relay.call("GET", "/v2/recording-storage")).body.health.status,
        "healthy",
      );
      // The events are in the workspace's log like the others.
      const log = await relay.call("GET", "/v2/events?limit=100");
      const types = log.body.data.map((e: { event_type: string }) => e.event_type);
      assert.equal(
        types.filter((t: string) => t.startsWith("application.recording_storage_")).length,
        4,
      );
    });
  });
}
