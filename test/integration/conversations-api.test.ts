/** Conversations and the workspace default destination through the real HTTP API. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { parseAllowedPorts } from "../../src/domain/index.ts";
import { AppError } from "../../src/errors/index.ts";
import {
  validAzure,
  validGcs,
  validLegacy,
  validS3,
} from "../fixtures/recording-storage-corpus.ts";
import { testTrust } from "../helpers/app-deps.ts";
import { databaseKinds } from "../helpers/databases.ts";
import { startTestRelay, type TestRelay } from "../helpers/relay-api.ts";

for (const kind of databaseKinds) {
  describe(`conversations and recording-storage (${kind})`, () => {
    let relay: TestRelay;
    before(async () => {
      relay = await startTestRelay(kind);
    });
    after(async () => await relay.close());

    it("creates a conversation with its own destination and answers it back, with the key template resolved", async () => {
      const { apiKey } = await relay.workspace();
      const created = await relay.call("POST", "/v2/conversations", {
        apiKey,
        body: {
          properties: {
            enable_recording: true,
            callback_url: "https://example.com/hooks",
            recording_storage: {
              ...validGcs,
              key_template: "rec/{conversation_id}/{epoch_ms}.mp4",
            },
          },
        },
      });
      assert.equal(created.status, 201);
      assert.match(created.body.conversation_id, /^[0-9a-f-]{36}$/);
      assert.equal(created.body.status, "active");
      assert.deepEqual(created.body.warnings, []);
      assert.equal(created.body.recording_storage_source, "conversation");
      assert.equal(
        created.body.recording_storage.key_template,
        "rec/{conversation_id}/{epoch_ms}.mp4",
      );
      assert.equal(created.body.properties.callback_url, "https://example.com/hooks");
      assert.deepEqual(created.body.recordings, []);
      const read = await relay.call("GET", `/v2/conversations/${created.body.conversation_id}`, {
        apiKey,
      });
      assert.equal(read.status, 200);
      const { warnings: _warnings, ...withoutWarnings } = created.body;
      assert.deepEqual(read.body, withoutWarnings);
      const { rows } = await relay.db.query<{ callback_url: string }>(
        "SELECT callback_url FROM conversations WHERE id = $1",
        [created.body.conversation_id],
      );
      assert.equal(rows[0]!.callback_url, "https://example.com/hooks");
    });

    it("maps the legacy flat S3 fields to provider s3, showing the properties as sent", async () => {
      const { apiKey } = await relay.workspace();
      const created = await relay.call("POST", "/v2/conversations", {
        apiKey,
        body: { properties: { enable_recording: true, ...validLegacy } },
      });
      assert.equal(created.status, 201);
      assert.deepEqual(created.body.properties, { enable_recording: true, ...validLegacy });
      assert.deepEqual(created.body.recording_storage, {
        ...validS3,
        key_template: "tavus/{conversation_id}/{epoch_ms}",
      });
      assert.equal(created.body.recording_storage_source, "conversation");
    });

    it("normalises Azure GUIDs to lowercase", async () => {
      const { apiKey } = await relay.workspace();
      const put = await relay.call("PUT", "/v2/recording-storage", {
        apiKey,
        body: { ...validAzure, tenant_id: validAzure.tenant_id.toUpperCase() },
      });
      assert.equal(put.status, 200);
      assert.equal(put.body.recording_storage.tenant_id, validAzure.tenant_id);
    });

    it("captures the workspace default at creation: later changes and removal leave the conversation alone", async () => {
      const { apiKey } = await relay.workspace();
      assert.equal((await relay.call("GET", "/v2/recording-storage", { apiKey })).status, 404);
      const put = await relay.call("PUT", "/v2/recording-storage", { apiKey, body: validAzure });
      assert.equal(put.status, 200);
      assert.deepEqual(put.body, {
        recording_storage: validAzure,
        effective_key_template: "tavus/{conversation_id}/{epoch_ms}",
        warnings: [],
      });
      const got = await relay.call("GET", "/v2/recording-storage", { apiKey });
      assert.deepEqual(got.body, {
        recording_storage: validAzure,
        effective_key_template: "tavus/{conversation_id}/{epoch_ms}",
        // Not checked yet (no worker ran the destination health check).
        health: {
          status: "unknown",
          checked_at: null,
          error_code: null,
          message: null,
          hint: null,
          safety: null,
        },
      });

      const first = await relay.call("POST", "/v2/conversations", {
        apiKey,
        body: { properties: { enable_recording: true } },
      });
      assert.equal(first.status, 201);
      assert.equal(first.body.recording_storage_source, "workspace_default");
      assert.deepEqual(first.body.recording_storage, {
        ...validAzure,
        key_template: "tavus/{conversation_id}/{epoch_ms}",
      });

      const flat = { ...validGcs, key_template: "recs/{conversation_id}.mp4" };
      const changed = await relay.call("PUT", "/v2/recording-storage", { apiKey, body: flat });
      assert.equal(changed.status, 200);
      assert.equal(changed.body.warnings[0].code, "KEY_TEMPLATE_OVERWRITES");
      assert.equal(changed.body.warnings[0].field, "key_template");
      assert.match(changed.body.warnings[0].message, /later recordings overwrite earlier ones/);

      const second = await relay.call("POST", "/v2/conversations", {
        apiKey,
        body: { properties: {} },
      });
      assert.deepEqual(second.body.recording_storage, flat);
      assert.equal(second.body.warnings[0].code, "KEY_TEMPLATE_OVERWRITES", "warned again at use");

      assert.equal((await relay.call("DELETE", "/v2/recording-storage", { apiKey })).status, 204);
      assert.equal((await relay.call("DELETE", "/v2/recording-storage", { apiKey })).status, 204);
      assert.equal((await relay.call("GET", "/v2/recording-storage", { apiKey })).status, 404);
      const third = await relay.call("POST", "/v2/conversations", { apiKey, body: {} });
      assert.equal(third.body.recording_storage, null);
      assert.equal(third.body.recording_storage_source, null);

      const firstAgain = await relay.call(
        "GET",
        `/v2/conversations/${first.body.conversation_id}`,
        {
          apiKey,
        },
      );
      assert.equal(firstAgain.body.recording_storage.provider, "azure_blob");
      const secondAgain = await relay.call(
        "GET",
        `/v2/conversations/${second.body.conversation_id}`,
        { apiKey },
      );
      assert.equal(secondAgain.body.recording_storage.provider, "gcs");
    });

    it("never shows one workspace's objects to another (404), and refuses ids that are not UUIDs", async () => {
      const a = await relay.workspace("A");
      const b = await relay.workspace("B");
      const created = await relay.call("POST", "/v2/conversations", {
        apiKey: a.apiKey,
        body: { properties: { recording_storage: validS3 } },
      });
      const id = created.body.conversation_id as string;
      assert.equal(
        (await relay.call("GET", `/v2/conversations/${id}`, { apiKey: a.apiKey })).status,
        200,
      );
      const foreign = await relay.call("GET", `/v2/conversations/${id}`, { apiKey: b.apiKey });
      assert.equal(foreign.status, 404);
      assert.equal(foreign.body.error.code, "NOT_FOUND");
      const missing = await relay.call("GET", `/v2/conversations/${crypto.randomUUID()}`, {
        apiKey: b.apiKey,
      });
      assert.equal(missing.status, 404);
      assert.equal(
        foreign.body.error.message.replace(id, "x"),
        missing.body.error.message.replace(/[0-9a-f-]{36}/, "x"),
      );
      const listB = await relay.call("GET", "/v2/conversations", { apiKey: b.apiKey });
      assert.deepEqual(listB.body, { data: [], next_cursor: null });

      await relay.call("PUT", "/v2/recording-storage", { apiKey: a.apiKey, body: validGcs });
      assert.equal(
        (await relay.call("GET", "/v2/recording-storage", { apiKey: b.apiKey })).status,
        404,
      );
      const usesOwnDefault = await relay.call("POST", "/v2/conversations", {
        apiKey: b.apiKey,
        body: { properties: { enable_recording: true } },
      });
      assert.equal(usesOwnDefault.status, 400, "B does not inherit A's default");
      assert.equal(
        (await relay.call("DELETE", "/v2/recording-storage", { apiKey: b.apiKey })).status,
        204,
      );
      assert.equal(
        (await relay.call("GET", "/v2/recording-storage", { apiKey: a.apiKey })).status,
        200,
      );

      const badId = await relay.call("GET", "/v2/conversations/12345", { apiKey: a.apiKey });
      assert.equal(badId.status, 400);
      assert.equal(badId.body.error.field, "path.conversation_id");
      for (const path of [
        "/v2/conversations",
        "/v2/recording-storage",
        "/v2/recording-storage/setup/gcs",
      ]) {
        assert.equal((await relay.call("GET", path)).status, 401, path);
        assert.equal((await relay.call("GET", path, { operator: true })).status, 401, path);
      }
    });

    it("pages newest first with a stable cursor that inserts never shift", async () => {
      const { apiKey } = await relay.workspace();
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) {
        const created = await relay.call("POST", "/v2/conversations", { apiKey, body: {} });
        ids.push(created.body.conversation_id);
      }
      // Same-instant rows must still come out in one total order: make three share a timestamp.
      await relay.db.query(
        "UPDATE conversations SET created_at = '2020-01-01T00:00:00.123456Z' WHERE id IN ($1, $2, $3)",
        [ids[0], ids[1], ids[2]],
      );
      const expected = [...ids.slice(3).reverse(), ...[ids[0]!, ids[1]!, ids[2]!].sort().reverse()];
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await relay.call(
          "GET",
          `/v2/conversations?limit=3${cursor ? `&cursor=${cursor}` : ""}`,
          { apiKey },
        );
        assert.equal(page.status, 200);
        seen.push(...page.body.data.map((c: { conversation_id: string }) => c.conversation_id));
        cursor = page.body.next_cursor;
        if (pages === 0) {
          // A conversation created mid-listing appears on a fresh first page, not in this walk.
          await relay.call("POST", "/v2/conversations", { apiKey, body: {} });
        }
        pages++;
      } while (cursor);
      assert.equal(pages, 3);
      assert.deepEqual(seen, expected);

      const all = await relay.call("GET", "/v2/conversations", { apiKey });
      assert.equal(all.body.data.length, 8);
      assert.equal(all.body.next_cursor, null);
      const exact = await relay.call("GET", "/v2/conversations?limit=8", { apiKey });
      assert.equal(exact.body.next_cursor, null, "no empty last page");

      for (const [query, field] of [
        ["limit=0", "query.limit"],
        ["limit=101", "query.limit"],
        ["limit=abc", "query.limit"],
        ["cursor=not-a-cursor", "query.cursor"],
        [`cursor=${Buffer.from('["x","y"]').toString("base64url")}`, "query.cursor"],
        ["page=2", "query.page"],
      ] as const) {
        const bad = await relay.call("GET", `/v2/conversations?${query}`, { apiKey });
        assert.equal(bad.status, 400, query);
        assert.equal(bad.body.error.field, field, query);
      }
    });
  });
}

describe("operator settings and seams", () => {
  it("refuses S3 with 409 NOT_CONFIGURED naming RELAY_AWS_ACCOUNT_ID when no AWS account is set, and stores nothing", async () => {
    const relay = await startTestRelay("postgres", {
      trust: testTrust({ awsAccountId: undefined }),
    });
    try {
      const { id, apiKey } = await relay.workspace();
      for (const body of [
        { properties: { recording_storage: validS3 } },
        { properties: validLegacy },
      ]) {
        const answer = await relay.call("POST", "/v2/conversations", { apiKey, body });
        assert.equal(answer.status, 409);
        assert.equal(answer.body.error.code, "NOT_CONFIGURED");
        assert.match(answer.body.error.message, /RELAY_AWS_ACCOUNT_ID/);
      }
      const put = await relay.call("PUT", "/v2/recording-storage", { apiKey, body: validS3 });
      assert.equal(put.status, 409);
      const setup = await relay.call("GET", "/v2/recording-storage/setup/s3", { apiKey });
      assert.equal(setup.status, 409);
      assert.match(setup.body.error.message, /RELAY_AWS_ACCOUNT_ID/);
      const { rows } = await relay.db.query<{ n: number }>(
        "SELECT (SELECT count(*)::int FROM conversations WHERE workspace_id = $1) + (SELECT count(*)::int FROM workspaces WHERE id = $1 AND default_recording_storage IS NOT NULL) AS n",
        [id],
      );
      assert.equal(rows[0]!.n, 0);
      // The other providers need no AWS account.
      assert.equal(
        (await relay.call("PUT", "/v2/recording-storage", { apiKey, body: validGcs })).status,
        200,
      );
      assert.equal(
        (await relay.call("GET", "/v2/recording-storage/setup/gcs", { apiKey })).status,
        200,
      );
    } finally {
      await relay.close();
    }
  });

  it("uses the operator's default key template and http callbacks when configured", async () => {
    const relay = await startTestRelay("postgres", {
      defaultKeyTemplate: "acme/{conversation_id}.mp4",
      allowHttpCallbacks: true,
      callbackAllowedPorts: parseAllowedPorts("9000"),
    });
    try {
      const { apiKey } = await relay.workspace();
      const created = await relay.call("POST", "/v2/conversations", {
        apiKey,
        body: {
          properties: {
            callback_url: "http://hooks.example.com:9000/hooks",
            recording_storage: validS3,
          },
        },
      });
      assert.equal(created.status, 201);
      assert.equal(created.body.recording_storage.key_template, "acme/{conversation_id}.mp4");
      assert.equal(created.body.warnings[0].field, "properties.recording_storage.key_template");
      const put = await relay.call("PUT", "/v2/recording-storage", { apiKey, body: validGcs });
      assert.equal(put.body.effective_key_template, "acme/{conversation_id}.mp4");
      assert.equal(put.body.warnings.length, 1);
    } finally {
      await relay.close();
    }
  });

  it("calls the injected destination check with the captured destination; its refusal stores nothing", async () => {
    const checked: unknown[] = [];
    const relay = await startTestRelay("postgres", {
      async checkDestination(destination, context) {
        checked.push({ destination, workspaceId: context.workspaceId, signal: context.signal });
        if (destination.provider === "s3" && destination.bucket_name === "refused-bucket") {
          throw new AppError(
            "VALIDATION_FAILED",
            "properties.recording_storage: unable to assume role with given parameters",
            { field: "properties.recording_storage" },
          );
        }
      },
    });
    try {
      const { id, apiKey } = await relay.workspace();
      const accepted = await relay.call("POST", "/v2/conversations", {
        apiKey,
        body: { properties: { recording_storage: validS3 } },
      });
      assert.equal(accepted.status, 201);
      assert.equal(checked.length, 1);
      const first = checked[0] as { destination: unknown; workspaceId: string; signal: unknown };
      assert.deepEqual(first.destination, {
        ...validS3,
        key_template: "tavus/{conversation_id}/{epoch_ms}",
      });
      assert.equal(first.workspaceId, id);
      assert.ok(first.signal instanceof AbortSignal);

      const refused = await relay.call("POST", "/v2/conversations", {
        apiKey,
        body: { properties: { recording_storage: { ...validS3, bucket_name: "refused-bucket" } } },
      });
      assert.equal(refused.status, 400);
      assert.match(refused.body.error.message, /unable to assume role with given parameters/);
      const { rows } = await relay.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM conversations WHERE workspace_id = $1",
        [id],
      );
      assert.equal(rows[0]!.n, 1);

      // Invalid input never reaches the check; no destination, nothing to check.
      await relay.call("POST", "/v2/conversations", {
        apiKey,
        body: { properties: { recording_storage: { ...validS3, bucket_name: "x" } } },
      });
      await relay.call("POST", "/v2/conversations", { apiKey, body: {} });
      assert.equal(checked.length, 2);
    } finally {
      await relay.close();
    }
  });

  it("documents the new routes in the OpenAPI document", async () => {
    const relay = await startTestRelay("postgres");
    try {
      const doc = (await relay.call("GET", "/openapi.json")).body;
      assert.ok(doc.paths["/v2/conversations"].post);
      assert.ok(doc.paths["/v2/conversations"].get);
      assert.ok(doc.paths["/v2/conversations/{conversation_id}"].get);
      assert.ok(doc.paths["/v2/recording-storage"].put);
      assert.ok(doc.paths["/v2/recording-storage"].delete);
      assert.ok(doc.paths["/v2/recording-storage/setup/{provider}"].get);
    } finally {
      await relay.close();
    }
  });
});
