/**
 * A live upload (streamed while the recording arrives) that fails: the delivery records the live
 * upload's own classified failure (code, the cloud's words, the hint), never a generic
 * "streaming did not finish", and every message names the operation that failed. No worker runs
 * here, so the delivery stays queued with exactly what the live upload recorded.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { testBytes } from "../helpers/bytes.ts";
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

const MiB = 1024 * 1024;

describe("live upload failures", () => {
  let rig: RigEnvironment;
  let relay: InProcessRelay;
  let receiver: WebhookReceiver;

  before(async () => {
    receiver = await startWebhookReceiver();
    rig = await prepareRig("embedded");
    relay = await startRigServer(rig, {}, { worker: false });
    await connectReceiver(relay.call, receiver);
  });
  after(async () => {
    await relay?.close();
    await receiver?.close();
    await rig?.stop();
  });

  /**
   * Delays the identity exchange (or the first S3 call) of every provider, so that the live
   * upload's failure lands after `complete` has handed the delivery to it: the case where the
   * live upload, not a worker, records the first outcome.
   */
  function slowFirstCalls(on: boolean) {
    const latencyMs = on ? 1500 : 0;
    rig.emulators.azure.setFaults({ latencyMs, surfaces: ["entra"] });
    rig.emulators.gcp.setFaults({ latencyMs, apis: ["iam"] });
    rig.emulators.aws.faults.set({
      seed: 1,
      // A 1 MiB recording goes up in one PutObject at `complete` (no multipart upload).
      rules: on ? [{ operations: ["CreateMultipartUpload", "PutObject"], latencyMs }] : [],
    });
  }

  /** Streams a recording to `storage` (start, one append, complete) and waits for its delivery. */
  async function streamAndWait(storage: object) {
    const conversationId = await createRecordedConversation(relay.call, receiver, storage);
    const started = await relay.call("POST", `/v2/conversations/${conversationId}/recordings`, {
      operator: true,
    });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const id = started.body.recording_id as string;
    const bytes = testBytes(MiB, 3);
    const appended = await relay.call("PATCH", `/v2/recordings/${id}`, {
      operator: true,
      bytes,
      headers: { "upload-offset": "0" },
    });
    assert.equal(appended.status, 204, JSON.stringify(appended.body));
    const completed = await relay.call("POST", `/v2/recordings/${id}/complete`, {
      operator: true,
      json: {},
    });
    assert.ok(completed.status < 300, JSON.stringify(completed.body));
    for (let i = 0; i < 400; i++) {
      const read = await relay.call("GET", `/v2/recordings/${id}`);
      if (read.body.delivery?.error_code) return read.body.delivery;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    assert.fail("the live upload recorded no outcome");
  }

  const cases = [
    [
      "azure_blob",
      () => ({ ...rig.emulators.destinations.azure_blob, client_id: crypto.randomUUID() }),
      /the Entra ID token request for .* failed \(AADSTS700016: /,
    ],
    [
      "gcs",
      () => ({
        ...rig.emulators.destinations.gcs,
        service_account_email: "nobody@acme-prod.iam.gserviceaccount.com",
      }),
      /^impersonating nobody@acme-prod\.iam\.gserviceaccount\.com failed \(/,
    ],
    [
      "s3",
      () => ({ ...rig.emulators.destinations.s3, bucket_region: "us-west-2" }),
      /^could not write s3:\/\/\S+ \(PermanentRedirect: .*set bucket_region to eu-west-1/,
    ],
  ] as const;
  for (const [provider, storage, message] of cases) {
    const expected = provider === "s3" ? "DESTINATION_REGION_MISMATCH" : "DESTINATION_AUTH_FAILED";
    it(`${provider}: a destination that refuses the relay is recorded as ${expected} from the first failure`, async () => {
      slowFirstCalls(true);
      const delivery = await streamAndWait(storage()).finally(() => slowFirstCalls(false));
      assert.equal(delivery.error_code, expected, delivery.error_message);
      assert.doesNotMatch(delivery.error_message, /streaming while recording/);
      assert.doesNotMatch(delivery.error_message, /could not read/);
      assert.match(delivery.error_message, message);
      assert.match(delivery.error_message, /Hint: /);
      assert.equal(delivery.state, "queued", "a fresh upload from staging follows");
    });
  }
});
