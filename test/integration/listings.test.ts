/**
 * `GET /v2/recordings` and `GET /v2/events`: filters, cursor pagination across pages, the
 * operator's cross-workspace view, and tenant isolation (another workspace's items never appear).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { enqueueDelivery } from "../../src/delivery/queue.ts";
import { insertRecording } from "../../src/recordings/store.ts";
import { enqueueEvent } from "../../src/webhooks/index.ts";
import { validAzure, validGcs, validS3 } from "../fixtures/recording-storage-corpus.ts";
import { databaseKinds } from "../helpers/databases.ts";
import { startTestRelay, type TestRelay } from "../helpers/relay-api.ts";

for (const kind of databaseKinds) {
  describe(`recording and event listings (${kind})`, () => {
    let relay: TestRelay;
    let acme: { id: string; apiKey: string };
    let globex: { id: string; apiKey: string };
    /** Acme's recordings, newest first, as the listing must answer them. */
    const acmeRecordings: { id: string; state: string; provider: string; createdAt: string }[] = [];
    let globexRecording: string;

    async function conversation(apiKey: string, storage: object): Promise<string> {
      const created = await relay.call("POST", "/v2/conversations", {
        apiKey,
        body: {
          properties: {
            enable_recording: true,
            callback_url: "https://example.com/hooks",
            recording_storage: storage,
          },
        },
      });
      assert.equal(created.status, 201);
      return created.body.conversation_id;
    }

    const listedStorage = {
      provider: "s3" as const,
      bucket_name: "b",
      bucket_region: "us-east-1",
      assume_role_arn: "arn:aws:iam::123456789012:role/relay",
      key_template: "k/{epoch_ms}",
    };

    async function recording(
      workspaceId: string,
      conversationId: string,
      values: { epochMs: number; state: string; createdAt: string; errorCode?: string },
    ): Promise<string> {
      const id = await insertRecording(relay.db, {
        conversationId,
        workspaceId,
        epochMs: values.epochMs,
        key: `k/${values.epochMs}`,
        storageUri: `s3://b/k/${values.epochMs}`,
        storage: listedStorage,
      });
      assert.ok(id);
      await relay.db.query("UPDATE recordings SET state = $2, created_at = $3 WHERE id = $1", [
        id,
        values.state,
        values.createdAt,
      ]);
      if (values.errorCode) {
        await enqueueDelivery(relay.db, {
          recordingId: id,
          workspaceId,
          destination: listedStorage,
          nowMs: Date.now(),
        });
        await relay.db.query(
          "UPDATE deliveries SET state = 'failed', last_error_code = $2 WHERE recording_id = $1",
          [id, values.errorCode],
        );
      }
      return id;
    }

    before(async () => {
      relay = await startTestRelay(kind);
      acme = await relay.workspace("Acme");
      globex = await relay.workspace("Globex");
      const s3 = await conversation(acme.apiKey, validS3);
      const gcs = await conversation(acme.apiKey, validGcs);
      const azure = await conversation(acme.apiKey, validAzure);
      const plan = [
        { conversation: s3, provider: "s3", state: "delivered" },
        {
          conversation: gcs,
          provider: "gcs",
          state: "failed",
          errorCode: "DESTINATION_AUTH_FAILED",
        },
        { conversation: azure, provider: "azure_blob", state: "delivered" },
        { conversation: s3, provider: "s3", state: "failed", errorCode: "DESTINATION_NOT_FOUND" },
        { conversation: gcs, provider: "gcs", state: "receiving" },
        { conversation: s3, provider: "s3", state: "failed", errorCode: "DESTINATION_AUTH_FAILED" },
        { conversation: azure, provider: "azure_blob", state: "complete" },
      ];
      for (const [index, item] of plan.entries()) {
        // One an hour from 2026-03-01T00:00Z, two of them in the same microsecond (tie by id).
        const hour = index === 6 ? 5 : index;
        const createdAt = `2026-03-01T0${hour}:00:00.000000Z`;
        const id = await recording(acme.id, item.conversation, {
          epochMs: 1_000 + index,
          state: item.state,
          createdAt,
          ...(item.errorCode ? { errorCode: item.errorCode } : {}),
        });
        acmeRecordings.push({ id, state: item.state, provider: item.provider, createdAt });
      }
      acmeRecordings.sort((a, b) =>
        a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1,
      );
      const other = await conversation(globex.apiKey, validS3);
      globexRecording = await recording(globex.id, other, {
        epochMs: 5,
        state: "failed",
        createdAt: "2026-03-01T02:30:00.000000Z",
        errorCode: "DESTINATION_AUTH_FAILED",
      });
      // Events: three of Acme's (one failed), one of Globex's.
      for (const [index, item] of acmeRecordings.slice(0, 3).entries()) {
        const recordingRow = await relay.db.query<{ conversation_id: string }>(
          "SELECT conversation_id FROM recordings WHERE id = $1",
          [item.id],
        );
        await enqueueEvent(relay.db, {
          workspaceId: acme.id,
          conversationId: recordingRow.rows[0]!.conversation_id,
          recordingId: item.id,
          nowMs: Date.parse("2026-03-02T00:00:00Z") + index * 1000,
          type: index === 1 ? "application.recording_copy_failed" : "application.recording_ready",
          properties: {} as never,
          ...(index === 1 ? { dedupeKey: "d1" } : {}),
        } as Parameters<typeof enqueueEvent>[1]);
      }
      await relay.db.query(
        "UPDATE events SET state = 'failed' WHERE event_type = 'application.recording_copy_failed'",
      );
      await enqueueEvent(relay.db, {
        workspaceId: globex.id,
        conversationId: other,
        recordingId: globexRecording,
        nowMs: Date.parse("2026-03-02T00:00:00Z"),
        type: "application.recording_ready",
        properties: {} as never,
      });
    });
    after(async () => await relay.close());

    /** Every page of a listing, following next_cursor, `limit` items a page. */
    async function allPages(
      path: string,
      auth: { apiKey?: string; operator?: boolean },
      limit: number,
    ) {
      const items = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const separator = path.includes("?") ? "&" : "?";
        const url = `${path}${separator}limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`;
        const answer = await relay.call("GET", url, auth);
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        assert.ok(answer.body.data.length <= limit);
        items.push(...answer.body.data);
        cursor = answer.body.next_cursor;
        pages += 1;
      } while (cursor);
      return { items, pages };
    }

    it("pages a workspace's recordings newest first, ties by id, never another workspace's", async () => {
      const { items, pages } = await allPages("/v2/recordings", { apiKey: acme.apiKey }, 2);
      assert.equal(pages, 4);
      assert.deepEqual(
        items.map((item) => item.recording_id),
        acmeRecordings.map((item) => item.id),
      );
      assert.ok(items.every((item) => item.workspace_id === acme.id));
      const globexOwn = await relay.call("GET", "/v2/recordings", { apiKey: globex.apiKey });
      assert.deepEqual(
        globexOwn.body.data.map((item: { recording_id: string }) => item.recording_id),
        [globexRecording],
      );
    });

    it("filters recordings by state, provider, error code and time range, combined", async () => {
      const ids = async (query: string) => {
        const { items } = await allPages(`/v2/recordings?${query}`, { apiKey: acme.apiKey }, 2);
        return items.map((item) => item.recording_id).sort();
      };
      const expected = (keep: (item: (typeof acmeRecordings)[number]) => boolean) =>
        acmeRecordings
          .filter(keep)
          .map((item) => item.id)
          .sort();
      assert.deepEqual(
        await ids("state=failed"),
        expected((item) => item.state === "failed"),
      );
      assert.deepEqual(
        await ids("provider=azure_blob"),
        expected((item) => item.provider === "azure_blob"),
      );
      const authFailed = await ids("error_code=DESTINATION_AUTH_FAILED");
      assert.equal(authFailed.length, 2);
      assert.deepEqual(
        await ids("error_code=DESTINATION_AUTH_FAILED&provider=s3&state=failed"),
        expected((item) => item.provider === "s3" && item.createdAt.startsWith("2026-03-01T05")),
      );
      assert.deepEqual(
        await ids("created_after=2026-03-01T01:00:00Z&created_before=2026-03-01T03:00:00%2B00:00"),
        expected((item) => item.createdAt >= "2026-03-01T01" && item.createdAt < "2026-03-01T03"),
      );
      const detail = await relay.call("GET", "/v2/recordings?error_code=DESTINATION_NOT_FOUND", {
        apiKey: acme.apiKey,
      });
      assert.equal(detail.body.data[0].delivery.error_code, "DESTINATION_NOT_FOUND");
    });

    it("gives the operator every workspace's recordings, or one workspace's", async () => {
      const all = await allPages("/v2/recordings?state=failed", { operator: true }, 3);
      const ids = all.items.map((item) => item.recording_id);
      assert.ok(ids.includes(globexRecording));
      assert.equal(ids.length, 4);
      const one = await allPages(`/v2/recordings?workspace_id=${globex.id}`, { operator: true }, 5);
      assert.deepEqual(
        one.items.map((item) => item.recording_id),
        [globexRecording],
      );
    });

    it("refuses a workspace key naming another workspace, bad filters and foreign cursors", async () => {
      const other = await relay.call("GET", `/v2/recordings?workspace_id=${globex.id}`, {
        apiKey: acme.apiKey,
      });
      assert.equal(other.status, 400);
      assert.equal(other.body.error.field, "query.workspace_id");
      for (const query of [
        "state=lost",
        "provider=ftp",
        "created_after=yesterday",
        "created_before=2026-03-01T00:00:00",
        "error_code=lower",
        "cursor=bm90LWEtY3Vyc29y",
      ]) {
        const answer = await relay.call("GET", `/v2/recordings?${query}`, { apiKey: acme.apiKey });
        assert.equal(answer.status, 400, query);
        assert.equal(answer.body.error.code, "VALIDATION_FAILED", query);
      }
      const anonymous = await relay.call("GET", "/v2/recordings");
      assert.equal(anonymous.status, 401);
    });

    it("lists and filters events for a workspace and for the operator across workspaces", async () => {
      const own = await allPages("/v2/events", { apiKey: acme.apiKey }, 2);
      assert.equal(own.pages, 2);
      assert.equal(own.items.length, 3);
      assert.ok(own.items.every((event) => event.workspace_id === acme.id));
      const failed = await relay.call("GET", "/v2/events?state=failed", { apiKey: acme.apiKey });
      assert.deepEqual(
        failed.body.data.map((event: { event_type: string }) => event.event_type),
        ["application.recording_copy_failed"],
      );
      const ready = await allPages(
        "/v2/events?event_type=application.recording_ready&state=pending",
        { apiKey: acme.apiKey },
        1,
      );
      assert.equal(ready.items.length, 2);
      const globexOwn = await relay.call("GET", "/v2/events", { apiKey: globex.apiKey });
      assert.equal(globexOwn.body.data.length, 1);
      assert.equal(globexOwn.body.data[0].recording_id, globexRecording);

      const everyone = await allPages("/v2/events", { operator: true }, 3);
      assert.equal(everyone.items.length, 4);
      const globexOnly = await relay.call("GET", `/v2/events?workspace_id=${globex.id}`, {
        operator: true,
      });
      assert.equal(globexOnly.body.data.length, 1);
      const operatorFailed = await relay.call("GET", "/v2/events?state=failed", { operator: true });
      assert.equal(operatorFailed.body.data.length, 1);
      const badType = await relay.call("GET", "/v2/events?event_type=nope", { operator: true });
      assert.equal(badType.status, 400);
    });
  });
}
