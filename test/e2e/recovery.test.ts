/**
 * Recovering a failed recording end to end (docs/api.md, "Recovering a failed recording"): a
 * recording fails on a wrong destination; the customer fixes the conversation (PATCH) or names
 * the right destination with the redelivery, and gets exactly one recording_ready with the object
 * byte-identical; bulk redelivery; downloading the retained copy (local and S3-compatible
 * staging) — on the embedded database and on PostgreSQL.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DEMO as AWS_DEMO, startAwsEmulator } from "../../emulators/aws/index.ts";
import { sha256Hex, testBytes } from "../helpers/bytes.ts";
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

const KiB = 1024;

for (const kind of databaseKinds) {
  describe(`recovering a failed recording (${kind})`, () => {
    let rig: RigEnvironment;
    let relay: InProcessRelay;
    let receiver: WebhookReceiver;
    let stagingAws: Awaited<ReturnType<typeof startAwsEmulator>>;

    const eventsOf = (type: string, id: string) =>
      receiver.events.filter(
        (e) => e.body.event_type === `application.${type}` && e.body.properties.recording_id === id,
      );
    const record = async (conversationId: string, bytes: Uint8Array) => {
      const answer = await relay.call("POST", `/v2/conversations/${conversationId}/recordings`, {
        operator: true,
        bytes,
      });
      assert.equal(answer.status, 202, JSON.stringify(answer.body));
      return answer.body.recording_id as string;
    };
    const brokenAzure = () => ({
      ...rig.emulators.destinations.azure_blob,
      client_id: crypto.randomUUID(),
    });
    const failedRecording = async (conversationId: string, bytes: Uint8Array) => {
      const id = await record(conversationId, bytes);
      await receiver.waitFor(() => eventsOf("recording_copy_failed", id).length === 1);
      return id;
    };
    const settle = () => new Promise((resolve) => setTimeout(resolve, 400));

    before(async () => {
      receiver = await startWebhookReceiver();
      // The operator's staging bucket, in an S3-compatible service of its own (same AWS key).
      stagingAws = await startAwsEmulator({
        identities: [
          {
            arn: AWS_DEMO.operatorUserArn,
            accessKeyId: AWS_DEMO.operatorAccessKeyId,
            secretAccessKey: AWS_DEMO.operatorSecretAccessKey,
            permissions: [
              {
                bucket: "relay-staging",
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
        buckets: [{ name: "relay-staging", region: "us-east-1" }],
      });
      rig = await prepareRig(kind, {
        RELAY_DELIVERY_CONFIG_RETRY_BASE_MS: "50",
        RELAY_DELIVERY_CONFIG_RETRY_BUDGET_MINUTES: "0",
        // The embedded run stages locally, the PostgreSQL run in the S3-compatible bucket.
        ...(kind === "postgres"
          ? {
              RELAY_STAGING_S3_BUCKET: "relay-staging",
              RELAY_STAGING_S3_ENDPOINT: stagingAws.endpoint,
            }
          : {}),
      });
      relay = await startRigServer(rig);
      await connectReceiver(relay.call, receiver);
    });
    after(async () => {
      await relay?.close();
      await receiver?.close();
      await rig?.stop();
      await stagingAws?.stop();
    });

    it("PATCH the conversation's destination, then redeliver: one recording_ready, the same bytes", async () => {
      const conversationId = await createRecordedConversation(relay.call, receiver, brokenAzure());
      const bytes = testBytes(300 * KiB + 7, 21);
      const id = await failedRecording(conversationId, bytes);
      const failed = await relay.call("GET", `/v2/recordings/${id}`);
      assert.equal(failed.body.state, "failed");

      const patched = await relay.call("PATCH", `/v2/conversations/${conversationId}`, {
        json: { properties: { recording_storage: rig.emulators.destinations.azure_blob } },
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.equal(
        patched.body.recording_storage.client_id,
        rig.emulators.destinations.azure_blob.client_id,
      );
      assert.equal(patched.body.recording_storage_source, "conversation");
      assert.equal(patched.body.properties.callback_url, receiver.url);

      const again = await relay.call("POST", `/v2/recordings/${id}/redeliver`);
      assert.equal(again.status, 202, JSON.stringify(again.body));
      assert.equal(
        again.body.delivery.destination.client_id,
        rig.emulators.destinations.azure_blob.client_id,
      );
      await receiver.waitFor(() => eventsOf("recording_ready", id).length === 1);
      const ready = eventsOf("recording_ready", id)[0]!.body.properties;
      assert.equal(ready.sha256, sha256Hex(bytes));
      assert.deepEqual(await rig.emulators.storedDigest("azure_blob", ready.key), {
        size: bytes.length,
        sha256: sha256Hex(bytes),
      });
      // Redelivering a delivered recording finds it in place: still exactly one recording_ready.
      assert.equal((await relay.call("POST", `/v2/recordings/${id}/redeliver`)).status, 202);
      for (;;) {
        if ((await relay.call("GET", `/v2/recordings/${id}`)).body.state === "delivered") break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await settle();
      assert.equal(eventsOf("recording_ready", id).length, 1);
      assert.equal(eventsOf("recording_copy_failed", id).length, 1);
    });

    it("PATCH validates exactly as creation does, checks an S3 role live, and is scoped to the workspace", async () => {
      const conversationId = await createRecordedConversation(
        relay.call,
        receiver,
        rig.emulators.destinations.gcs,
      );
      const path = `/v2/conversations/${conversationId}`;
      const bad = await relay.call("PATCH", path, {
        json: { properties: { recording_storage: { provider: "s3", bucket_name: "x" } } },
      });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.field, "properties.recording_storage.bucket_name");
      const secret = await relay.call("PATCH", path, {
        json: {
          properties: {
            recording_storage: { ...rig.emulators.destinations.s3, secret_access_key: "x" },
          },
        },
      });
      assert.equal(secret.status, 400);
      assert.match(secret.body.error.message, /secrets are not accepted: use federated identity/);
      const wrongRole = await relay.call("PATCH", path, {
        json: {
          properties: {
            recording_storage: {
              ...rig.emulators.destinations.s3,
              assume_role_arn: "arn:aws:iam::222222222222:role/NoSuchRole",
            },
          },
        },
      });
      assert.equal(wrongRole.status, 400, JSON.stringify(wrongRole.body));
      assert.match(wrongRole.body.error.message, /unable to assume role with given parameters/);
      const enable = await relay.call("PATCH", path, {
        json: { properties: { enable_recording: false } },
      });
      assert.equal(enable.status, 400);
      const callback = await relay.call("PATCH", path, {
        json: { properties: { callback_url: "http://169.254.169.254/hook" } },
      });
      assert.equal(callback.status, 400);
      assert.equal(callback.body.error.field, "properties.callback_url");
      const cleared = await relay.call("PATCH", path, {
        json: { properties: { callback_url: null } },
      });
      assert.equal(cleared.status, 200, JSON.stringify(cleared.body));
      assert.equal(cleared.body.properties.callback_url, undefined);
      assert.equal(cleared.body.recording_storage.provider, "gcs");
      const other = await otherWorkspaceKey();
      const asOther = await fetch(`${relay.server.url}${path}`, {
        method: "PATCH",
        headers: { "x-api-key": other, "content-type": "application/json" },
        body: JSON.stringify({ properties: { callback_url: receiver.url } }),
      });
      assert.equal(asOther.status, 404);
    });

    it("redeliver to a destination given with the request: a failure reports again, the fix lands there", async () => {
      const conversationId = await createRecordedConversation(relay.call, receiver, brokenAzure());
      const bytes = testBytes(200 * KiB + 3, 22);
      const id = await failedRecording(conversationId, bytes);
      // Still wrong: its own recording_copy_failed (a new delivery, a new event).
      const stillWrong = await relay.call("POST", `/v2/recordings/${id}/redeliver`, {
        json: { recording_storage: brokenAzure() },
      });
      assert.equal(stillWrong.status, 202, JSON.stringify(stillWrong.body));
      await receiver.waitFor(() => eventsOf("recording_copy_failed", id).length === 2);
      const invalid = await relay.call("POST", `/v2/recordings/${id}/redeliver`, {
        json: { recording_storage: { provider: "gcs" } },
      });
      assert.equal(invalid.status, 400);
      assert.match(invalid.body.error.field, /^recording_storage\./);
      const s3 = {
        ...rig.emulators.destinations.s3,
        key_template: "recovered/{conversation_id}/{epoch_ms}",
      };
      const fixed = await relay.call("POST", `/v2/recordings/${id}/redeliver`, {
        json: { recording_storage: s3 },
      });
      assert.equal(fixed.status, 202, JSON.stringify(fixed.body));
      // The key and storage_uri follow the destination actually used.
      assert.match(fixed.body.key, new RegExp(`^recovered/${conversationId}/\\d{13}$`));
      assert.equal(fixed.body.storage_uri, `s3://${s3.bucket_name}/${fixed.body.key}`);
      assert.equal(fixed.body.storage_provider, "s3");
      await receiver.waitFor(() => eventsOf("recording_ready", id).length === 1);
      const ready = eventsOf("recording_ready", id)[0]!.body.properties;
      assert.equal(ready.storage_provider, "s3");
      assert.equal(ready.key, fixed.body.key);
      assert.deepEqual(await rig.emulators.storedDigest("s3", fixed.body.key), {
        size: bytes.length,
        sha256: sha256Hex(bytes),
      });
      const { rows } = await relay.server.db.query<{ destination: { provider: string } }>(
        "SELECT destination FROM deliveries WHERE recording_id = $1 ORDER BY created_at",
        [id],
      );
      assert.deepEqual(
        rows.map((r) => r.destination.provider),
        ["azure_blob", "azure_blob", "s3"],
      );
      await settle();
      assert.equal(eventsOf("recording_ready", id).length, 1);
      assert.equal(eventsOf("recording_copy_failed", id).length, 2);
    });

    it("bulk redelivery queues the failed recordings matching the filter and says how many", async () => {
      const broken = await createRecordedConversation(relay.call, receiver, brokenAzure());
      const otherConversation = await createRecordedConversation(
        relay.call,
        receiver,
        brokenAzure(),
      );
      const bytes = [testBytes(50 * KiB, 31), testBytes(60 * KiB, 32), testBytes(70 * KiB, 33)];
      const ids = [
        await failedRecording(broken, bytes[0]!),
        await failedRecording(broken, bytes[1]!),
        await failedRecording(otherConversation, bytes[2]!),
      ];
      const bulk = (json: object) => relay.call("POST", "/v2/recordings/redeliver", { json });
      const none = await bulk({ conversation_id: broken, error_code: "DESTINATION_NOT_FOUND" });
      assert.deepEqual(none.body, { queued: 0, recording_ids: [] });
      const past = await bulk({ conversation_id: broken, created_before: "2020-01-01T00:00:00Z" });
      assert.equal(past.body.queued, 0);
      const invalid = await bulk({ created_from: "yesterday" });
      assert.equal(invalid.status, 400);
      const queued = await bulk({
        conversation_id: broken,
        error_code: "DESTINATION_AUTH_FAILED",
        created_from: new Date(Date.now() - 3_600_000).toISOString(),
        recording_storage: rig.emulators.destinations.azure_blob,
      });
      assert.equal(queued.status, 202, JSON.stringify(queued.body));
      assert.equal(queued.body.queued, 2);
      assert.deepEqual([...queued.body.recording_ids].sort(), [ids[0], ids[1]].sort());
      await receiver.waitFor(() =>
        ids.slice(0, 2).every((id) => eventsOf("recording_ready", id).length === 1),
      );
      for (const [index, id] of ids.slice(0, 2).entries()) {
        const ready = eventsOf("recording_ready", id)[0]!.body.properties;
        assert.deepEqual(await rig.emulators.storedDigest("azure_blob", ready.key), {
          size: bytes[index]!.length,
          sha256: sha256Hex(bytes[index]!),
        });
      }
      // The other conversation's failure was not touched; another workspace sees none of them.
      assert.equal((await relay.call("GET", `/v2/recordings/${ids[2]}`)).body.state, "failed");
      const asOther = await fetch(`${relay.server.url}/v2/recordings/redeliver`, {
        method: "POST",
        headers: { "x-api-key": await otherWorkspaceKey(), "content-type": "application/json" },
        body: "{}",
      });
      assert.deepEqual((await asOther.json()) as object, { queued: 0, recording_ids: [] });
    });

    it("downloads the retained copy whole and by Range; 404 for another workspace; 410 after purge", async () => {
      const conversationId = await createRecordedConversation(relay.call, receiver, brokenAzure());
      const bytes = testBytes(123 * KiB + 45, 41);
      const id = await failedRecording(conversationId, bytes);
      const url = `${relay.server.url}/v2/recordings/${id}/content`;
      const key = { "x-api-key": rig.workspace.apiKey };
      const whole = await fetch(url, { headers: key });
      assert.equal(whole.status, 200);
      assert.equal(whole.headers.get("content-type"), "video/mp4");
      assert.equal(whole.headers.get("content-length"), String(bytes.length));
      assert.equal(whole.headers.get("etag"), `"${sha256Hex(bytes)}"`);
      assert.equal(whole.headers.get("accept-ranges"), "bytes");
      assert.ok(Buffer.from(await whole.arrayBuffer()).equals(bytes));

      const operator = await fetch(url, {
        headers: {
          authorization: `Bearer ${rig.env.RELAY_OPERATOR_TOKEN}`,
          range: "bytes=1000-1999",
        },
      });
      assert.equal(operator.status, 206);
      assert.equal(operator.headers.get("content-range"), `bytes 1000-1999/${bytes.length}`);
      assert.equal(operator.headers.get("content-length"), "1000");
      assert.ok(Buffer.from(await operator.arrayBuffer()).equals(bytes.subarray(1000, 2000)));

      const suffix = await fetch(url, { headers: { ...key, range: "bytes=-100" } });
      assert.equal(suffix.status, 206);
      assert.ok(Buffer.from(await suffix.arrayBuffer()).equals(bytes.subarray(bytes.length - 100)));
      const open = await fetch(url, { headers: { ...key, range: `bytes=${bytes.length - 10}-` } });
      assert.equal(open.status, 206);
      assert.ok(Buffer.from(await open.arrayBuffer()).equals(bytes.subarray(bytes.length - 10)));
      const unsatisfiable = await fetch(url, {
        headers: { ...key, range: `bytes=${bytes.length}-` },
      });
      assert.equal(unsatisfiable.status, 416);
      assert.equal(unsatisfiable.headers.get("content-range"), `bytes */${bytes.length}`);
      assert.equal(
        ((await unsatisfiable.json()) as { error: { code: string } }).error.code,
        "RANGE_NOT_SATISFIABLE",
      );
      // An If-Range that no longer matches gets the whole copy.
      const stale = await fetch(url, {
        headers: { ...key, range: "bytes=0-9", "if-range": '"x"' },
      });
      assert.equal(stale.status, 200);
      await stale.arrayBuffer();

      const asOther = await fetch(url, { headers: { "x-api-key": await otherWorkspaceKey() } });
      assert.equal(asOther.status, 404);

      await relay.server.db.query(
        "UPDATE recordings SET retained_until = now() - interval '1 second' WHERE id = $1",
        [id],
      );
      const before = await relay.server.db.query<{ retained_until: Date }>(
        "SELECT retained_until FROM recordings WHERE id = $1",
        [id],
      );
      assert.ok((await relay.server.engine.purge()).purged >= 1);
      const gone = await fetch(url, { headers: key });
      assert.equal(gone.status, 410);
      const body = (await gone.json()) as {
        error: { code: string; details: { retained_until: string } };
      };
      assert.equal(body.error.code, "RECORDING_PURGED");
      assert.equal(body.error.details.retained_until, before.rows[0]!.retained_until.toISOString());
    });

    let otherKey: string | undefined;
    async function otherWorkspaceKey(): Promise<string> {
      if (otherKey) return otherKey;
      const other = await relay.call("POST", "/v2/workspaces", {
        operator: true,
        json: { name: "Other" },
      });
      const key = await relay.call("POST", `/v2/workspaces/${other.body.workspace_id}/api-keys`, {
        operator: true,
      });
      otherKey = key.body.api_key as string;
      return otherKey;
    }
  });
}
