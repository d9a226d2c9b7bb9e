/**
 * Lease fencing (docs/api.md, Delivery, "Leases"): a worker paused (SIGSTOP) in the middle of an
 * upload loses its lease; another worker takes the delivery over and finishes it; the first one
 * resumes (SIGCONT) and goes on with its attempt. Whatever it then tries to record is refused by
 * the lease-token fence: the finished delivery stays as the second worker left it, the recording
 * stays delivered, and there is exactly one `recording_ready`.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sha256Hex, testBytes } from "../helpers/bytes.ts";
import {
  createRecordedConversation,
  recordingsSettled,
  startWorkerSuite,
  storedEvents,
  type WorkerSuite,
  waitUntil,
} from "../helpers/delivery-rig.ts";
import { runRelay } from "../helpers/relay-process.ts";

const LEASE_SECONDS = 5;
// Five 8 MiB parts: with each part held 1.5 s by the emulator, the first worker is mid-upload
// for several seconds.
const RECORDING_BYTES = 40 * 1024 * 1024;

interface DeliveryRow {
  id: string;
  state: string;
  attempts: number;
  locked_by: string | null;
  lease_expires_at: Date | null;
  upload_handle: unknown;
  finished_at: Date | null;
  reused_existing: boolean;
  last_error_code: string | null;
}

describe("a stale worker that comes back after losing its lease", () => {
  let suite: WorkerSuite;
  before(async () => {
    suite = await startWorkerSuite({
      RELAY_LIVE_UPLOAD: "false",
      RELAY_DELIVERY_LEASE_SECONDS: String(LEASE_SECONDS),
      RELAY_WORKER_CONCURRENCY: "1",
      // The paused worker's requests must not time out on their own: it is the lease that ends them.
      RELAY_DESTINATION_REQUEST_TIMEOUT_MS: "120000",
    });
  });
  after(async () => await suite?.stop());

  it("refuses the stale worker's outcome; one recording_ready", { timeout: 240_000 }, async () => {
    const { rig, api, receiver } = suite;
    const { emulators } = rig;
    const db = api.server.db;
    const delivery = async () => {
      const { rows } = await db.query<DeliveryRow>(
        `SELECT id, state, attempts, locked_by, lease_expires_at, upload_handle, finished_at,
           reused_existing, last_error_code FROM deliveries WHERE recording_id = $1`,
        [recordingId],
      );
      assert.equal(rows.length, 1, "one delivery");
      return rows[0]!;
    };

    // A slow destination: every part upload is held 1.5 s.
    emulators.aws.faults.set({
      seed: 1,
      rules: [{ service: "s3", operations: ["UploadPart"], latencyMs: 1_500 }],
    });
    const conversation = await createRecordedConversation(
      api.call,
      receiver,
      emulators.destinations.s3,
    );
    const first = runRelay(["worker"], { ...rig.env, RELAY_LOG_LEVEL: "warn" });
    const bytes = testBytes(RECORDING_BYTES, 17);
    const answer = await api.call("POST", `/v2/conversations/${conversation}/recordings`, {
      operator: true,
      bytes,
    });
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    const recordingId: string = answer.body.recording_id;
    const key: string = answer.body.key;
    const partsOf = () =>
      emulators.aws
        .requests()
        .filter((r) => r.operation === "UploadPart" && r.key === key && r.status === 200).length;

    // Pause the first worker once it holds the lease and the bucket has a part of its upload.
    await waitUntil(
      async () => {
        const row = await db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM deliveries
           WHERE recording_id = $1 AND state = 'running' AND upload_handle IS NOT NULL`,
          [recordingId],
        );
        return row.rows[0]!.n === 1 && partsOf() >= 1;
      },
      "the first worker to be mid-upload",
      90_000,
    );
    first.child.kill("SIGSTOP");
    const stale = await delivery();
    assert.equal(stale.state, "running");
    assert.equal(stale.attempts, 1);
    const partsBeforePause = partsOf();
    assert.ok(partsBeforePause < 5, `the first worker was mid-upload (${partsBeforePause} parts)`);

    // Its lease lapses (it cannot renew while stopped); the destination is fast again.
    emulators.aws.faults.clear();
    await waitUntil(
      () => (stale.lease_expires_at?.getTime() ?? 0) < Date.now(),
      "the paused worker's lease to lapse",
      (LEASE_SECONDS + 5) * 1000,
    );

    // A second worker takes the delivery over and finishes it.
    const second = runRelay(["worker"], { ...rig.env, RELAY_LOG_LEVEL: "warn" });
    await waitUntil(
      async () => (await delivery()).state === "succeeded",
      "the second worker to finish the delivery",
      90_000,
    );
    second.child.kill("SIGTERM");
    assert.equal((await second.exited).code, 0, second.output());
    const finished = await delivery();
    assert.equal(finished.attempts, 2, "the second worker's attempt is the delivery's second");
    assert.notEqual(finished.locked_by, stale.locked_by, "finished by the second worker");
    assert.deepEqual(await rig.emulators.storedDigest("s3", key), {
      size: bytes.length,
      sha256: sha256Hex(bytes),
    });

    // The first worker resumes and goes on with its attempt until it stops on its own.
    first.child.kill("SIGCONT");
    await waitUntil(
      () => first.output().includes(stale.id),
      "the resumed worker to end its attempt (it logs the delivery it gave up)",
      60_000,
    );
    first.child.kill("SIGTERM");
    assert.equal((await first.exited).code, 0, first.output());

    // Refused: the delivery is exactly as the second worker left it.
    const after = await delivery();
    assert.deepEqual(
      { ...after, upload_handle: after.upload_handle ?? null },
      { ...finished, upload_handle: finished.upload_handle ?? null },
      `the stale worker changed the finished delivery:\n${first.output()}`,
    );
    const { rows: recording } = await db.query<{ state: string }>(
      "SELECT state FROM recordings WHERE id = $1",
      [recordingId],
    );
    assert.equal(recording[0]!.state, "delivered");

    // Exactly one recording_ready (and no copy failure), counted once the outbox is quiet.
    await waitUntil(() => recordingsSettled(db, [recordingId]), "the outbox to settle", 60_000);
    assert.equal(await storedEvents(db, recordingId, "application.recording_ready"), 1);
    assert.equal(await storedEvents(db, recordingId, "application.recording_copy_failed"), 0);
    const told = receiver.events.filter((e) => e.body.properties.recording_id === recordingId);
    assert.deepEqual(
      told.map((e) => e.body.event_type),
      ["application.recording_ready"],
    );
    assert.deepEqual(receiver.rejected, []);
    // The stale worker's upload was aborted by the takeover: nothing holds parts.
    assert.deepEqual(
      emulators.aws
        .pendingUploads(emulators.destinations.s3.bucket_name)
        .filter((upload) => upload.parts > 0),
      [],
    );
  });
});
