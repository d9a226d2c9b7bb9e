/**
 * Recording ingest and delivery end to end (docs/api.md, Ingest and Delivery): a producer streams
 * recordings into the relay (`startServer`, configured like production), the relay delivers them
 * into the emulated customers' buckets with federated identity only, and signed webhooks say so —
 * on the embedded database and on PostgreSQL.
 */
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { sha256Hex, testBytes, testMp4 } from "../helpers/bytes.ts";
import { databaseKinds } from "../helpers/databases.ts";
import {
  connectReceiver,
  createRecordedConversation,
  type InProcessRelay,
  prepareRig,
  type RigAnswer,
  type RigEnvironment,
  recordingsSettled,
  startRigServer,
  startWebhookReceiver,
  storedEvents,
  type WebhookReceiver,
  waitUntil,
} from "../helpers/delivery-rig.ts";

const MiB = 1024 * 1024;
type Provider = "s3" | "gcs" | "azure_blob";
const providers: Provider[] = ["s3", "gcs", "azure_blob"];

for (const kind of databaseKinds) {
  describe(`recordings: ingest, delivery and events (${kind})`, () => {
    let rig: RigEnvironment;
    let relay: InProcessRelay;
    let receiver: WebhookReceiver;
    const conversations = {} as Record<Provider, string>;

    const stored = (provider: Provider, key: string) => rig.emulators.storedDigest(provider, key);

    const createConversation = (storage: object, enable = true) =>
      createRecordedConversation(relay.call, receiver, storage, enable);

    const start = async (conversationId: string, json?: object) => {
      const started = await relay.call("POST", `/v2/conversations/${conversationId}/recordings`, {
        operator: true,
        ...(json ? { json } : {}),
      });
      assert.equal(started.status, 201, JSON.stringify(started.body));
      return started.body as { recording_id: string; key: string; storage_uri: string };
    };

    const append = (id: string, offset: number, bytes: Uint8Array) =>
      relay.call("PATCH", `/v2/recordings/${id}`, {
        operator: true,
        bytes,
        headers: { "upload-offset": String(offset) },
      });

    const complete = (id: string, json: object = {}) =>
      relay.call("POST", `/v2/recordings/${id}/complete`, { operator: true, json });

    /**
     * Parts of an unfinished upload at `key` the destination holds: S3 multipart parts, GCS
     * resumable bytes (in 256 KiB units), Azure uncommitted blocks.
     */
    const partsAtDestination = (provider: Provider, key: string): number => {
      const { aws, gcp, azure, destinations } = rig.emulators;
      switch (provider) {
        case "s3":
          return aws
            .pendingUploads(destinations.s3.bucket_name)
            .filter((upload) => upload.key === key)
            .reduce((sum, upload) => sum + upload.parts, 0);
        case "gcs":
          return gcp
            .openUploads(destinations.gcs.bucket_name)
            .filter((upload) => upload.name === key)
            .reduce((sum, upload) => sum + Math.floor(upload.committedBytes / 262_144), 0);
        case "azure_blob":
          return azure
            .uncommittedBlocks(
              destinations.azure_blob.storage_account,
              destinations.azure_blob.container,
            )
            .filter((entry) => entry.blob === key)
            .reduce((sum, entry) => sum + entry.blocks, 0);
      }
    };

    const readyFor = (id: string) =>
      receiver.events.filter(
        (e) =>
          e.body.event_type === "application.recording_ready" &&
          e.body.properties.recording_id === id,
      );

    before(async () => {
      receiver = await startWebhookReceiver();
      rig = await prepareRig(kind, {
        RELAY_DELIVERY_CONFIG_RETRY_BASE_MS: "50",
        RELAY_DELIVERY_CONFIG_RETRY_BUDGET_MINUTES: "0",
      });
      relay = await startRigServer(rig);
      await connectReceiver(relay.call, receiver);
      for (const provider of providers) {
        conversations[provider] = await createConversation(rig.emulators.destinations[provider]);
      }
    });
    after(async () => {
      await relay?.close();
      await receiver?.close();
      await rig?.stop();
    });

    it("streams a recording to each provider while it arrives; one signed recording_ready each", async () => {
      const recordings = await Promise.all(
        providers.map(async (provider, index) => {
          const bytes = testMp4(20 * MiB + 12_345, 61_500 + index, index + 1);
          const recording = await start(conversations[provider]);
          assert.match(recording.key, new RegExp(`^tavus/${conversations[provider]}/\\d{13}$`));
          // Appends of uneven sizes: parts are cut by the adapters, not by the producer.
          let offset = 0;
          for (const size of [7 * MiB + 1, 9 * MiB, bytes.length - 16 * MiB - 1]) {
            const appended = await append(
              recording.recording_id,
              offset,
              bytes.subarray(offset, offset + size),
            );
            assert.equal(appended.status, 204, JSON.stringify(appended.body));
            offset += size;
            assert.equal(appended.headers.get("upload-offset"), String(offset));
          }
          // Live upload: parts are in the customer's bucket before `complete` is even sent.
          await waitUntil(
            () => partsAtDestination(provider, recording.key) > 0,
            `a part of the ${provider} recording at the destination before complete`,
            30_000,
            50,
          );
          const partsBeforeComplete = partsAtDestination(provider, recording.key);
          const done = await complete(recording.recording_id, {
            size_bytes: bytes.length,
            sha256: sha256Hex(bytes),
          });
          assert.equal(done.status, 202, JSON.stringify(done.body));
          assert.equal(done.body.sha256, sha256Hex(bytes));
          assert.equal(done.body.duration, 61.5 + index / 1000);
          return { provider, recording, bytes, partsBeforeComplete };
        }),
      );
      const ids = recordings.map((r) => r.recording.recording_id);
      await receiver.waitFor(() => ids.every((id) => readyFor(id).length > 0));
      // Quiet: no delivery queued or running and no event pending for them, so none can follow.
      await waitUntil(() => recordingsSettled(relay.server.db, ids), "the outbox to settle");
      for (const { provider, recording, bytes, partsBeforeComplete } of recordings) {
        assert.ok(partsBeforeComplete > 0, `${provider}: nothing streamed before complete`);
        assert.equal(
          await storedEvents(
            relay.server.db,
            recording.recording_id,
            "application.recording_ready",
          ),
          1,
          `${provider}: one recording_ready stored`,
        );
        assert.equal(readyFor(recording.recording_id).length, 1, `${provider}: one received`);
        assert.deepEqual(await stored(provider, recording.key), {
          size: bytes.length,
          sha256: sha256Hex(bytes),
        });
        const [event] = readyFor(recording.recording_id);
        assert.equal(event!.body.conversation_id, conversations[provider]);
        assert.equal(event!.body.webhook_url, receiver.url);
        const properties = event!.body.properties;
        assert.equal(properties.storage_provider, provider);
        assert.equal(properties.storage_uri, recording.storage_uri);
        assert.equal(properties.key, recording.key);
        assert.equal(properties.size_bytes, bytes.length);
        assert.equal(properties.sha256, sha256Hex(bytes));
        assert.equal(typeof properties.duration, "number");
        assert.equal(provider === "s3", properties.s3_key === recording.key);
        const read = await relay.call("GET", `/v2/recordings/${recording.recording_id}`);
        assert.equal(read.status, 200);
        assert.equal(read.body.state, "delivered");
        assert.equal(read.body.delivery.state, "succeeded");
        assert.ok(read.body.retained_until);
      }
      // No multipart upload left open.
      assert.equal(
        rig.emulators.aws.pendingUploads(rig.emulators.destinations.s3.bucket_name).length,
        0,
      );
      assert.deepEqual(receiver.rejected, []);
    });

    it("refuses a stale or future Upload-Offset with the current one, so a producer can resume", async () => {
      const bytes = testBytes(3 * MiB, 9);
      const { recording_id: id, key } = await start(conversations.gcs);
      assert.equal((await append(id, 0, bytes.subarray(0, MiB))).status, 204);
      // The same append again (the producer never saw the 204): refused, nothing doubled.
      const repeated = await append(id, 0, bytes.subarray(0, MiB));
      assert.equal(repeated.status, 409);
      assert.equal(repeated.body.error.code, "UPLOAD_OFFSET_MISMATCH");
      assert.equal(repeated.headers.get("upload-offset"), String(MiB));
      const ahead = await append(id, 2 * MiB, bytes.subarray(2 * MiB));
      assert.equal(ahead.status, 409);
      assert.equal(ahead.headers.get("upload-offset"), String(MiB));
      assert.equal((await append(id, MiB, bytes.subarray(MiB))).status, 204);
      assert.equal((await complete(id, { sha256: sha256Hex(bytes) })).status, 202);
      await receiver.waitFor(() => readyFor(id).length === 1);
      assert.deepEqual(await stored("gcs", key), { size: bytes.length, sha256: sha256Hex(bytes) });
    });

    it("a producer that retries appends after timeouts never corrupts a recording", async () => {
      const bytes = testBytes(24 * MiB + 777, 4);
      const { recording_id: id, key } = await start(conversations.s3);
      let offset = 0;
      let aborted = 0;
      let round = 0;
      while (offset < bytes.length) {
        round++;
        const chunk = bytes.subarray(offset, offset + 2 * MiB + 333);
        const controller = new AbortController();
        // Every third append the producer gives up mid-body (a client timeout) and retries.
        const body = async function* () {
          yield chunk.subarray(0, 64 * 1024);
          if (round % 3 === 0) {
            await new Promise((resolve) => setTimeout(resolve, 20));
            controller.abort(new Error("client timeout"));
          }
          yield chunk.subarray(64 * 1024);
        };
        const answer = await relay
          .call("PATCH", `/v2/recordings/${id}`, {
            operator: true,
            bytes: body(),
            headers: { "upload-offset": String(offset) },
            signal: controller.signal,
          })
          .catch(() => undefined);
        if (answer?.status === 204) {
          offset = Number(answer.headers.get("upload-offset"));
          continue;
        }
        aborted++;
        // After a timeout the producer asks where to resume (a held append may still finish).
        for (;;) {
          const read = await relay.call("GET", `/v2/recordings/${id}`, { operator: true });
          assert.equal(read.status, 200);
          offset = read.body.bytes_received;
          const probe = await append(id, offset, new Uint8Array(0));
          if (probe.status === 204) break;
          assert.equal(probe.body.error.code, "RECORDING_BUSY", JSON.stringify(probe.body));
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
      assert.ok(aborted >= 3, `only ${aborted} appends were interrupted`);
      const done = await complete(id, { size_bytes: bytes.length, sha256: sha256Hex(bytes) });
      assert.equal(done.status, 202, JSON.stringify(done.body));
      await receiver.waitFor(() => readyFor(id).length === 1);
      assert.deepEqual(await stored("s3", key), { size: bytes.length, sha256: sha256Hex(bytes) });
    });

    it("takes a whole recording in one request (video/mp4 body)", async () => {
      const bytes = testMp4(5 * MiB, 30_000, 3);
      const answer = await relay.call(
        "POST",
        `/v2/conversations/${conversations.azure_blob}/recordings`,
        { operator: true, bytes, headers: { "content-type": "video/mp4" } },
      );
      assert.equal(answer.status, 202, JSON.stringify(answer.body));
      assert.equal(answer.body.bytes_received, bytes.length);
      assert.equal(answer.body.duration, 30);
      await receiver.waitFor(() => readyFor(answer.body.recording_id).length === 1);
      assert.deepEqual(await stored("azure_blob", answer.body.key), {
        size: bytes.length,
        sha256: sha256Hex(bytes),
      });
    });

    it("answers bad ingest requests with a clear 4xx and keeps what was received", async () => {
      const { recording_id: id } = await start(conversations.s3);
      assert.equal((await append(id, 0, testBytes(1000))).status, 204);
      const cases: [string, Promise<RigAnswer>, number, string][] = [
        [
          "no Upload-Offset",
          relay.call("PATCH", `/v2/recordings/${id}`, { operator: true, bytes: testBytes(10) }),
          400,
          "VALIDATION_FAILED",
        ],
        [
          "Upload-Offset not a number",
          relay.call("PATCH", `/v2/recordings/${id}`, {
            operator: true,
            bytes: testBytes(10),
            headers: { "upload-offset": "-1" },
          }),
          400,
          "VALIDATION_FAILED",
        ],
        [
          "text body",
          relay.call("PATCH", `/v2/recordings/${id}`, {
            operator: true,
            bytes: testBytes(10),
            headers: { "upload-offset": "1000", "content-type": "text/plain" },
          }),
          415,
          "UNSUPPORTED_MEDIA_TYPE",
        ],
        [
          "workspace key on ingest",
          relay.call("PATCH", `/v2/recordings/${id}`, {}),
          401,
          "UNAUTHENTICATED",
        ],
        ["unknown recording", append(crypto.randomUUID(), 0, testBytes(10)), 404, "NOT_FOUND"],
        [
          "not a recording id",
          relay.call("GET", "/v2/recordings/../../etc", { operator: true }),
          404,
          "NOT_FOUND",
        ],
        [
          "wrong size at complete",
          complete(id, { size_bytes: 999 }),
          409,
          "RECORDING_CONTENT_MISMATCH",
        ],
        [
          "wrong sha256 at complete",
          complete(id, { sha256: "0".repeat(64) }),
          409,
          "RECORDING_CONTENT_MISMATCH",
        ],
        ["malformed sha256", complete(id, { sha256: "xyz" }), 400, "VALIDATION_FAILED"],
        ["unknown field at complete", complete(id, { size: 1 }), 400, "VALIDATION_FAILED"],
        [
          "start on an unknown conversation",
          relay.call("POST", `/v2/conversations/${crypto.randomUUID()}/recordings`, {
            operator: true,
          }),
          404,
          "NOT_FOUND",
        ],
        [
          "start with a bad epoch_ms",
          relay.call("POST", `/v2/conversations/${conversations.s3}/recordings`, {
            operator: true,
            json: { epoch_ms: "soon" },
          }),
          400,
          "VALIDATION_FAILED",
        ],
      ];
      for (const [name, pending, status, code] of cases) {
        const answer = await pending;
        assert.equal(answer.status, status, `${name}: ${JSON.stringify(answer.body)}`);
        assert.equal(answer.body?.error?.code ?? "", code, name);
      }
      // curl's default Content-Type on an append: the refusal says what an append takes.
      const form = await relay.call("PATCH", `/v2/recordings/${id}`, {
        operator: true,
        bytes: testBytes(10),
        headers: { "upload-offset": "1000", "content-type": "application/x-www-form-urlencoded" },
      });
      assert.equal(form.status, 415);
      assert.match(form.body.error.message, /application\/offset\+octet-stream/);
      assert.doesNotMatch(form.body.error.message, /must be application\/json/);
      const read = await relay.call("GET", `/v2/recordings/${id}`);
      assert.equal(read.body.state, "receiving");
      assert.equal(read.body.bytes_received, 1000);
      // A conversation without enable_recording takes no recordings.
      const quiet = await createConversation(rig.emulators.destinations.gcs, false);
      const refused = await relay.call("POST", `/v2/conversations/${quiet}/recordings`, {
        operator: true,
      });
      assert.equal(refused.status, 409);
      assert.equal(refused.body.error.code, "RECORDING_NOT_ENABLED");
      // A retried start with the same epoch_ms is the same recording.
      const first = await start(conversations.gcs, { epoch_ms: 1_700_000_000_000 });
      const again = await relay.call("POST", `/v2/conversations/${conversations.gcs}/recordings`, {
        operator: true,
        json: { epoch_ms: 1_700_000_000_000 },
      });
      assert.equal(again.status, 200);
      assert.equal(again.body.recording_id, first.recording_id);
    });

    it("hides a recording from other workspaces", async () => {
      const { recording_id: id } = await start(conversations.gcs);
      const other = await relay.call("POST", "/v2/workspaces", {
        operator: true,
        json: { name: "Other" },
      });
      const key = await relay.call("POST", `/v2/workspaces/${other.body.workspace_id}/api-keys`, {
        operator: true,
      });
      const otherKey = { headers: { "x-api-key": key.body.api_key } };
      const asOther = await fetch(`${relay.server.url}/v2/recordings/${id}`, otherKey);
      assert.equal(asOther.status, 404);
      const redeliver = await fetch(`${relay.server.url}/v2/recordings/${id}/redeliver`, {
        method: "POST",
        ...otherKey,
      });
      assert.equal(redeliver.status, 404);
      assert.equal((await relay.call("GET", `/v2/recordings/${id}`)).status, 200);
    });

    it("reports a customer's broken trust as recording_copy_failed with the hint, and redelivers on demand", async () => {
      const broken = { ...rig.emulators.destinations.azure_blob, client_id: crypto.randomUUID() };
      const conversationId = await createConversation(broken);
      const bytes = testBytes(MiB, 5);
      const answer = await relay.call("POST", `/v2/conversations/${conversationId}/recordings`, {
        operator: true,
        bytes,
      });
      assert.equal(answer.status, 202);
      const id = answer.body.recording_id as string;
      const failedFor = () =>
        receiver.events.filter(
          (e) =>
            e.body.event_type === "application.recording_copy_failed" &&
            e.body.properties.recording_id === id,
        );
      await receiver.waitFor(() => failedFor().length === 1);
      const failure = failedFor()[0]!.body.properties;
      assert.equal(failure.error_code, "DESTINATION_AUTH_FAILED", failure.error_message);
      assert.match(failure.error_message, /AADSTS/);
      assert.match(failure.error_message, /Hint: /);
      assert.ok(failure.attempts >= 1);
      const read = await relay.call("GET", `/v2/recordings/${id}`);
      assert.equal(read.body.state, "failed");
      assert.equal(read.body.retained_until, failure.retained_until);
      assert.equal(read.body.delivery.error_code, "DESTINATION_AUTH_FAILED");
      // Redelivery tries again and reports again (a new failure, a new event).
      const again = await relay.call("POST", `/v2/recordings/${id}/redeliver`);
      assert.equal(again.status, 202, JSON.stringify(again.body));
      await receiver.waitFor(() => failedFor().length === 2);
    });

    it("reports an S3 bucket in another region as DESTINATION_REGION_MISMATCH, as verify does", async () => {
      const storage = { ...rig.emulators.destinations.s3, bucket_region: "us-west-2" };
      const conversationId = await createConversation(storage);
      const bytes = testMp4(MiB, 10_000, 4);
      const answer = await relay.call("POST", `/v2/conversations/${conversationId}/recordings`, {
        operator: true,
        bytes,
        headers: { "content-type": "video/mp4" },
      });
      assert.equal(answer.status, 202, JSON.stringify(answer.body));
      const id = answer.body.recording_id as string;
      const failedFor = () =>
        receiver.events.filter(
          (e) =>
            e.body.event_type === "application.recording_copy_failed" &&
            e.body.properties.recording_id === id,
        );
      await receiver.waitFor(() => failedFor().length === 1);
      const read = await relay.call("GET", `/v2/recordings/${id}`);
      const delivery = read.body.delivery;
      assert.equal(delivery.error_code, "DESTINATION_REGION_MISMATCH", delivery.error_message);
      assert.match(delivery.error_message, /set bucket_region to eu-west-1/);
      assert.doesNotMatch(delivery.error_message, /UnknownError|object lock/);
      const verified = await relay.call("POST", "/v2/recording-storage/verify", {
        json: storage,
      });
      const failed = (verified.body.steps as { status: string; error_code?: string }[]).find(
        (step) => step.status === "fail",
      );
      assert.equal(failed?.error_code, delivery.error_code, JSON.stringify(verified.body));
    });

    it("a recording whose producer went away: the purge aborts its streamed upload, then drops it", async () => {
      const { key, recording_id: id } = await start(conversations.s3);
      assert.equal((await append(id, 0, testBytes(9 * MiB, 11))).status, 204);
      const bucket = rig.emulators.destinations.s3.bucket_name;
      const pending = () => rig.emulators.aws.pendingUploads(bucket).filter((u) => u.key === key);
      // Streaming sends the first full part to the customer's bucket while the recording arrives.
      while (!pending().some((upload) => upload.parts > 0)) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await relay.server.db.query(
        "UPDATE recordings SET last_append_at = now() - interval '31 days' WHERE id = $1",
        [id],
      );
      const report = await relay.server.engine.purge();
      assert.ok(report.purged >= 1);
      assert.deepEqual(pending(), []);
      const read = await relay.call("GET", `/v2/recordings/${id}`);
      assert.equal(read.body.state, "purged");
      assert.equal(readyFor(id).length, 0);
    });

    it("redelivery finds the object in place: no upload, no second recording_ready; purge then ends it", async () => {
      const bytes = testBytes(6 * MiB + 5, 8);
      const answer = await relay.call("POST", `/v2/conversations/${conversations.s3}/recordings`, {
        operator: true,
        bytes,
      });
      const id = answer.body.recording_id as string;
      await receiver.waitFor(() => readyFor(id).length === 1);
      // The object fits one part: it went up as one PutObject (no multipart upload).
      const uploads = () =>
        rig.emulators.aws
          .requests()
          .filter((r) => ["PutObject", "UploadPart"].includes(r.operation)).length;
      const uploadsBefore = uploads();
      const again = await relay.call("POST", `/v2/recordings/${id}/redeliver`);
      assert.equal(again.status, 202);
      for (;;) {
        const read = await relay.call("GET", `/v2/recordings/${id}`);
        if (read.body.state === "delivered") break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const { rows } = await relay.server.db.query<{ reused_existing: boolean }>(
        "SELECT reused_existing FROM deliveries WHERE recording_id = $1 ORDER BY created_at",
        [id],
      );
      assert.deepEqual(
        rows.map((r) => r.reused_existing),
        [false, true],
      );
      assert.equal(uploads(), uploadsBefore);
      // Quiet (no delivery in flight, no event pending): a second recording_ready cannot follow.
      await waitUntil(() => recordingsSettled(relay.server.db, [id]), "the outbox to settle");
      assert.equal(await storedEvents(relay.server.db, id, "application.recording_ready"), 1);
      assert.equal(readyFor(id).length, 1);
      // Once the grace has passed, the purge removes the staged copy; redelivery is then impossible.
      await relay.server.db.query(
        "UPDATE recordings SET retained_until = now() - interval '1 second' WHERE id = $1",
        [id],
      );
      const purged = await relay.server.engine.purge();
      assert.ok(purged.purged >= 1);
      const gone = await relay.call("POST", `/v2/recordings/${id}/redeliver`);
      assert.equal(gone.status, 410);
      assert.equal(gone.body.error.code, "RECORDING_PURGED");
      if (kind === "embedded") {
        const staged = await readdir(join(rig.dataDir, "staging")).catch(() => []);
        assert.ok(!staged.some((name) => name.includes(id)), `staged copy of ${id} left`);
      }
    });
  });

  describe(`recordings: a setup failure is retried until the customer fixes it (${kind})`, () => {
    let rig: RigEnvironment;
    let relay: InProcessRelay;
    let receiver: WebhookReceiver;

    before(async () => {
      receiver = await startWebhookReceiver();
      // The production setup budget (30 min); only the waits are short.
      rig = await prepareRig(kind, {
        RELAY_DELIVERY_CONFIG_RETRY_BASE_MS: "100",
        RELAY_DELIVERY_RETRY_CAP_MS: "300",
      });
      relay = await startRigServer(rig);
      await connectReceiver(relay.call, receiver);
    });
    after(async () => {
      await relay?.close();
      await receiver?.close();
      await rig?.stop();
    });

    it("a missing container (DESTINATION_NOT_FOUND) is retried; created, the recording is delivered, one recording_ready", async () => {
      const { azure, destinations } = rig.emulators;
      const { storage_account, container } = destinations.azure_blob;
      assert.ok(await azure.deleteContainer(storage_account, container));
      const conversation = await createRecordedConversation(
        relay.call,
        receiver,
        destinations.azure_blob,
      );
      const bytes = testBytes(MiB + 3, 21);
      const answer = await relay.call("POST", `/v2/conversations/${conversation}/recordings`, {
        operator: true,
        bytes,
      });
      assert.equal(answer.status, 202, JSON.stringify(answer.body));
      const id = answer.body.recording_id as string;
      const db = relay.server.db;
      // Failed twice with the setup code, and queued again each time rather than reported.
      await waitUntil(
        async () => {
          const read = await relay.call("GET", `/v2/recordings/${id}`);
          assert.notEqual(
            read.body.state,
            "failed",
            `a setup failure was not retried: ${JSON.stringify(read.body.delivery)}`,
          );
          const delivery = read.body.delivery;
          return (
            delivery?.attempts >= 2 &&
            delivery.state === "queued" &&
            delivery.error_code === "DESTINATION_NOT_FOUND"
          );
        },
        "two failed attempts, retried",
        60_000,
        50,
      );
      assert.equal(await storedEvents(db, id, "application.recording_copy_failed"), 0);
      // The customer creates the container: the next attempt delivers.
      assert.ok(azure.createContainer(storage_account, container));
      await waitUntil(
        async () => (await relay.call("GET", `/v2/recordings/${id}`)).body.state === "delivered",
        "the recording delivered",
        60_000,
        50,
      );
      await waitUntil(() => recordingsSettled(db, [id]), "the outbox to settle");
      assert.equal(await storedEvents(db, id, "application.recording_ready"), 1);
      assert.equal(await storedEvents(db, id, "application.recording_copy_failed"), 0);
      assert.deepEqual(await rig.emulators.storedDigest("azure_blob", answer.body.key), {
        size: bytes.length,
        sha256: sha256Hex(bytes),
      });
      const told = receiver.events.filter((e) => e.body.properties.recording_id === id);
      assert.deepEqual(
        told.map((e) => e.body.event_type),
        ["application.recording_ready"],
      );
    });
  });
}
