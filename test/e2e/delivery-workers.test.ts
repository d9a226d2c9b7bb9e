/**
 * Scale-out (docs/operations.md, Scaling workers): two `recording-relay worker` processes share one
 * PostgreSQL queue behind a `serve --no-worker` API. 500 small recordings: none delivered twice, none lost.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sha256Hex, testBytes } from "../helpers/bytes.ts";
import {
  createRecordedConversation,
  startWorkerSuite,
  type WorkerSuite,
} from "../helpers/delivery-rig.ts";
import { runRelay } from "../helpers/relay-process.ts";

type Provider = "s3" | "gcs" | "azure_blob";
const providers: Provider[] = ["s3", "gcs", "azure_blob"];
const RECORDINGS = 500;

describe("two worker processes on one PostgreSQL", () => {
  let suite: WorkerSuite;
  before(async () => {
    suite = await startWorkerSuite({
      RELAY_LIVE_UPLOAD: "false",
      RELAY_WORKER_CONCURRENCY: "4",
    });
  });
  after(async () => await suite?.stop());

  it("deliver 500 small recordings, none twice and none lost", async () => {
    const { rig, api, receiver } = suite;
    const conversations = {} as Record<Provider, string>;
    for (const provider of providers) {
      conversations[provider] = await createRecordedConversation(
        api.call,
        receiver,
        rig.emulators.destinations[provider],
      );
    }
    const workers = [1, 2].map(() => runRelay(["worker"], { ...rig.env, RELAY_LOG_LEVEL: "info" }));

    const expected: {
      id: string;
      key: string;
      provider: Provider;
      size: number;
      sha256: string;
    }[] = [];
    let next = 0;
    // Eight producers at once, as a platform would.
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < RECORDINGS) {
          const n = next++;
          const provider = providers[n % providers.length]!;
          const bytes = testBytes(1_000 + ((n * 7919) % 60_000), n);
          const answer = await api.call(
            "POST",
            `/v2/conversations/${conversations[provider]}/recordings`,
            { operator: true, bytes },
          );
          assert.equal(answer.status, 202, JSON.stringify(answer.body));
          expected.push({
            id: answer.body.recording_id,
            key: answer.body.key,
            provider,
            size: bytes.length,
            sha256: sha256Hex(bytes),
          });
        }
      }),
    );
    const deadline = Date.now() + 180_000;
    for (;;) {
      const { rows } = await api.server.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM recordings WHERE state = 'delivered'",
      );
      if (rows[0]!.n === RECORDINGS) break;
      assert.ok(Date.now() < deadline, `${rows[0]!.n} of ${RECORDINGS} delivered in time`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }

    // None lost: every object is in its bucket, byte-identical.
    for (const recording of expected) {
      assert.deepEqual(await rig.emulators.storedDigest(recording.provider, recording.key), {
        size: recording.size,
        sha256: recording.sha256,
      });
    }
    // None twice: one delivery per recording, one attempt each, one object write per key.
    const { rows: deliveries } = await api.server.db.query<{
      n: number;
      attempts: number;
      workers: number;
    }>(
      `SELECT count(*)::int AS n, sum(attempts)::int AS attempts,
         count(DISTINCT locked_by)::int AS workers
       FROM deliveries WHERE state = 'succeeded'`,
    );
    assert.deepEqual(deliveries[0], { n: RECORDINGS, attempts: RECORDINGS, workers: 2 });
    // Every recording fits one part: one PutObject each, no multipart upload; and nothing is
    // looked for at the key first (a first attempt: nothing of the relay's can be there).
    const s3Keys = new Set(expected.filter((r) => r.provider === "s3").map((r) => r.key));
    const s3Log = rig.emulators.aws
      .requests()
      .filter((r) => r.service === "s3" && s3Keys.has(r.key ?? ""));
    assert.equal(
      s3Log.filter((r) => r.operation === "PutObject" && r.status === 200).length,
      expected.filter((r) => r.provider === "s3").length,
    );
    assert.deepEqual(
      s3Log.filter((r) => r.operation !== "PutObject").map((r) => r.operation),
      [],
    );
    // Azure: one Put Blob each (no blocks, no Get Properties (a HEAD: GetBlob here) before or after).
    const azureOperations = rig.emulators.azure.stats().operations;
    assert.equal(
      azureOperations.PutBlob ?? 0,
      expected.filter((r) => r.provider === "azure_blob").length,
    );
    for (const operation of ["PutBlock", "PutBlockList", "GetBlob"]) {
      assert.equal(azureOperations[operation] ?? 0, 0, operation);
    }
    // GCS: one multipart POST each (metadata and bytes), no resumable session (its chunk PUTs),
    // and no GET of the object's metadata first.
    const gcsBucket = encodeURIComponent(rig.emulators.destinations.gcs.bucket_name);
    const gcsUploadPath = `/upload/storage/v1/b/${gcsBucket}/o`;
    const gcsLog = rig.emulators.gcp.requests;
    assert.equal(
      gcsLog.filter((r) => r.method === "POST" && r.path === gcsUploadPath && r.status === 200)
        .length,
      expected.filter((r) => r.provider === "gcs").length,
    );
    assert.equal(gcsLog.filter((r) => r.method === "PUT").length, 0);
    assert.equal(
      gcsLog.filter((r) => r.method === "GET" && r.path.startsWith(`/storage/v1/b/${gcsBucket}/o/`))
        .length,
      0,
    );
    // And each recording told exactly once.
    await receiver.waitFor((events) => events.length === RECORDINGS);
    const told = new Set(receiver.events.map((e) => e.body.properties.recording_id));
    assert.equal(told.size, RECORDINGS);
    assert.deepEqual(receiver.rejected, []);
    for (const worker of workers) worker.child.kill("SIGTERM");
    for (const worker of workers) assert.equal((await worker.exited).code, 0, worker.output());
  });
});
