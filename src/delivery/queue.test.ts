/**
 * The lease-token fence of the delivery queue, step by step on an injected clock: an attempt whose
 * lease lapsed and was taken over can no longer renew, save a handle or record any outcome, and
 * the outcome it tries to record after the new holder finished changes nothing (the end-to-end
 * version, with real worker processes stopped and resumed, is test/e2e/delivery-stale-worker.test.ts).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { openTestDatabase } from "../../test/helpers/databases.ts";
import { createConversation } from "../conversations/index.ts";
import type { Db } from "../db/index.ts";
import { findRecording, insertRecording, markComplete } from "../recordings/store.ts";
import { createWorkspace } from "../workspaces/index.ts";
import { recordDelivered, recordFailed } from "./outcome.ts";
import {
  claimDelivery,
  enqueueDelivery,
  finishAttempt,
  renewDeliveryLease,
  saveUploadHandle,
} from "./queue.ts";

const LEASE_MS = 5_000;
const retention = { failedMs: 86_400_000, deliveredMs: 3_600_000 };

for (const kind of ["embedded", "postgres"] as const) {
  describe(`delivery lease fence (${kind})`, () => {
    let db: Db;
    before(async () => {
      db = await openTestDatabase(kind);
    });
    after(async () => {
      await db?.close();
    });

    async function completedRecording(t0: number) {
      const workspace = await createWorkspace(db, { name: "Acme" });
      const storage = {
        provider: "s3" as const,
        bucket_name: "acme",
        bucket_region: "us-east-1",
        assume_role_arn: "arn:aws:iam::123456789012:role/relay",
        key_template: "r/{conversation_id}/{epoch_ms}",
      };
      const conversation = await createConversation(db, {
        workspaceId: workspace.id,
        properties: { enable_recording: true, callback_url: "https://hooks.example.com/r" },
        recordingStorage: storage,
        callbackUrl: "https://hooks.example.com/r",
      } as Parameters<typeof createConversation>[1]);
      const id = await insertRecording(db, {
        conversationId: conversation.id,
        workspaceId: workspace.id,
        epochMs: t0,
        key: `r/${conversation.id}/${t0}`,
        storageUri: `s3://acme/r/${conversation.id}/${t0}`,
        storage,
      });
      assert.ok(id);
      await db.query("UPDATE recordings SET bytes_received = 10 WHERE id = $1", [id]);
      assert.ok(
        await markComplete(db, id, {
          sizeBytes: 10,
          sha256: "a".repeat(64),
          durationSeconds: undefined,
          nowMs: t0,
        }),
      );
      return { id, workspaceId: workspace.id, destination: storage };
    }

    const row = async (id: string) =>
      (
        await db.query(
          `SELECT state, attempts, locked_by, lease_token, lease_expires_at, run_at, upload_handle,
             finished_at, last_error_code, reused_existing FROM deliveries WHERE id = $1`,
          [id],
        )
      ).rows[0];
    const eventCount = async (recordingId: string, type: string) =>
      (
        await db.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM events WHERE recording_id = $1 AND event_type = $2",
          [recordingId, type],
        )
      ).rows[0]!.n;

    it("a taken-over attempt can neither renew nor record anything", async () => {
      const t0 = Date.UTC(2030, 0, 1);
      const recording = await completedRecording(t0);
      const deliveryId = await enqueueDelivery(db, {
        ...recording,
        recordingId: recording.id,
        nowMs: t0,
      });
      assert.ok(deliveryId);

      const stale = await claimDelivery(db, { workerId: "a", nowMs: t0, leaseMs: LEASE_MS });
      assert.equal(stale?.id, deliveryId);
      assert.equal(stale.attempt, 1);
      assert.equal(stale.firstAttemptEver, true, "nothing of the relay's can be at the key yet");
      // Held: nobody else claims it before the lease lapses.
      assert.equal(
        await claimDelivery(db, { workerId: "b", nowMs: t0 + LEASE_MS - 1, leaseMs: LEASE_MS }),
        undefined,
      );
      assert.ok(
        await saveUploadHandle(db, stale, { provider: "s3", key: "k", uploadId: "u-stale" }),
      );

      // The lease lapses; "b" takes the delivery over, with the stale attempt's upload to abort.
      const current = await claimDelivery(db, {
        workerId: "b",
        nowMs: t0 + LEASE_MS,
        leaseMs: LEASE_MS,
      });
      assert.equal(current?.id, deliveryId);
      assert.equal(current.attempt, 2);
      assert.equal(current.firstAttemptEver, false, "the stale attempt may have uploaded");
      assert.notEqual(current.leaseToken, stale.leaseToken);
      assert.deepEqual(current.leftoverUpload, { provider: "s3", key: "k", uploadId: "u-stale" });

      // While "b" runs, the stale attempt is refused everything.
      const running = await row(deliveryId);
      const later = { nowMs: t0 + LEASE_MS + 100, leaseMs: LEASE_MS };
      assert.equal(await renewDeliveryLease(db, stale, later), false);
      assert.equal(await saveUploadHandle(db, stale, null), false);
      for (const outcome of [
        { kind: "retry", runAtMs: later.nowMs, errorCode: "X", errorMessage: "x" },
        { kind: "failed", errorCode: "X", errorMessage: "x" },
        { kind: "released" },
        { kind: "succeeded", reusedExisting: false },
      ] as const) {
        assert.equal(await finishAttempt(db, stale, outcome, later.nowMs), false, outcome.kind);
      }
      // Nor can it record the delivery as done (the one-statement end is fenced by the token too).
      const before = await findRecording(db, recording.id);
      assert.ok(before);
      assert.equal(
        await recordDelivered(db, stale, before, { reusedExisting: false, ...later, retention }),
        false,
      );
      assert.deepEqual(await row(deliveryId), running);
      assert.deepEqual(await findRecording(db, recording.id), before);
      assert.equal(await eventCount(recording.id, "application.recording_ready"), 0);

      // "b" finishes; the stale attempt then tries to record its own outcome: refused.
      const found = await findRecording(db, recording.id);
      assert.ok(found);
      assert.ok(
        await recordDelivered(db, current, found, {
          reusedExisting: false,
          nowMs: t0 + LEASE_MS + 200,
          retention,
        }),
      );
      const finished = await row(deliveryId);
      assert.equal(finished?.state, "succeeded");
      const delivered = await findRecording(db, recording.id);
      assert.equal(delivered?.state, "delivered");
      assert.equal(delivered.retainedUntil?.getTime(), t0 + LEASE_MS + 200 + retention.deliveredMs);
      // The one statement read the conversation's callback URL into the envelope.
      const { rows: ready } = await db.query<{ payload: { webhook_url: string } }>(
        "SELECT payload FROM events WHERE recording_id = $1",
        [recording.id],
      );
      assert.deepEqual(
        ready.map((event) => event.payload.webhook_url),
        ["https://hooks.example.com/r"],
      );
      assert.equal(
        await recordDelivered(db, stale, found, {
          reusedExisting: true,
          nowMs: t0 + LEASE_MS + 300,
          retention,
        }),
        false,
      );
      assert.equal(
        await recordFailed(
          db,
          stale,
          found,
          { code: "DESTINATION_UNAVAILABLE", message: "stale" },
          { nowMs: t0 + LEASE_MS + 300, retention },
        ),
        false,
      );
      assert.equal(
        await finishAttempt(
          db,
          stale,
          { kind: "retry", runAtMs: t0 + LEASE_MS + 400, errorCode: "X", errorMessage: "x" },
          t0 + LEASE_MS + 300,
        ),
        false,
      );
      assert.deepEqual(await row(deliveryId), finished);
      assert.deepEqual(await findRecording(db, recording.id), delivered);
      assert.equal(await eventCount(recording.id, "application.recording_ready"), 1);
      assert.equal(await eventCount(recording.id, "application.recording_copy_failed"), 0);
    });

    it("only a recording's very first attempt is marked first: not a retry, not a redelivery", async () => {
      const t0 = Date.UTC(2030, 1, 1);
      const recording = await completedRecording(t0);
      const claim = (nowMs: number) =>
        claimDelivery(db, { workerId: "w", nowMs, leaseMs: LEASE_MS });
      assert.ok(await enqueueDelivery(db, { ...recording, recordingId: recording.id, nowMs: t0 }));
      const first = await claim(t0);
      assert.equal(first?.firstAttemptEver, true);
      await finishAttempt(
        db,
        first,
        { kind: "retry", runAtMs: t0 + 1, errorCode: "X", errorMessage: "x" },
        t0,
      );
      const retried = await claim(t0 + 1);
      assert.equal(retried?.attempt, 2);
      assert.equal(retried.firstAttemptEver, false);
      await finishAttempt(db, retried, { kind: "succeeded", reusedExisting: false }, t0 + 2);
      // A second delivery of the same recording (a redelivery): its first attempt is not the first.
      assert.ok(
        await enqueueDelivery(db, { ...recording, recordingId: recording.id, nowMs: t0 + 3 }),
      );
      const redelivery = await claim(t0 + 3);
      assert.equal(redelivery?.attempt, 1);
      assert.equal(redelivery.firstAttemptEver, false);
    });
  });
}
