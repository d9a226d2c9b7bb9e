/**
 * The validation corpus through the real HTTP API: every case against `POST /v2/conversations`,
 * and every destination case also against `PUT /v2/recording-storage`, each asserting status,
 * message and field — and that an invalid input stored nothing. The whole corpus runs on the
 * embedded database, a representative fifth of it on PostgreSQL.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { corpus } from "../fixtures/recording-storage-corpus.ts";
import type { DatabaseKind } from "../helpers/databases.ts";
import { startTestRelay, type TestRelay } from "../helpers/relay-api.ts";

describe("the corpus", () => {
  it("has at least 200 cases, valid and invalid, with unique names", () => {
    assert.ok(corpus.length >= 200, `only ${corpus.length} cases`);
    assert.ok(corpus.filter((c) => c.status === 201).length >= 50);
    assert.ok(corpus.filter((c) => c.status === 400).length >= 150);
    assert.equal(new Set(corpus.map((c) => c.name)).size, corpus.length);
  });
});

const runs: [DatabaseKind, (index: number) => boolean][] = [
  ["embedded", () => true],
  ["postgres", (index) => index % 5 === 0],
];

for (const [kind, selected] of runs) {
  describe(`the corpus through the HTTP API (${kind})`, () => {
    let relay: TestRelay;
    let workspace: { id: string; apiKey: string };
    const count = async () =>
      Number(
        (
          await relay.db.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM conversations WHERE workspace_id = $1",
            [workspace.id],
          )
        ).rows[0]!.n,
      );
    const storedDefault = async () =>
      (
        await relay.db.query<{ d: unknown }>(
          "SELECT default_recording_storage AS d FROM workspaces WHERE id = $1",
          [workspace.id],
        )
      ).rows[0]!.d;

    before(async () => {
      relay = await startTestRelay(kind);
      workspace = await relay.workspace("Corpus");
    });
    after(async () => await relay.close());

    for (const [index, testCase] of corpus.entries()) {
      if (!selected(index)) continue;
      it(`${testCase.status} ${testCase.name}`, async () => {
        const before = await count();
        const created = await relay.call("POST", "/v2/conversations", {
          body: testCase.body,
          apiKey: workspace.apiKey,
        });
        assert.equal(created.status, testCase.status, JSON.stringify(created.body));
        if (testCase.status === 400) {
          assert.equal(created.body.error.code, "VALIDATION_FAILED");
          if (testCase.message) assert.match(created.body.error.message, testCase.message);
          assert.equal(created.body.error.field, testCase.field || undefined);
          if (testCase.field) {
            assert.ok(created.body.error.message.startsWith(`${testCase.field}: `));
          }
          assert.equal(await count(), before, "an invalid input stored nothing");
        } else {
          assert.equal(await count(), before + 1);
          const warnings = created.body.warnings as { code: string; message: string }[];
          if (testCase.warning) {
            assert.equal(warnings.length, 1);
            assert.equal(warnings[0]!.code, "KEY_TEMPLATE_OVERWRITES");
            if (testCase.message) assert.match(warnings[0]!.message, testCase.message);
          } else {
            assert.deepEqual(warnings, []);
          }
          const read = await relay.call(
            "GET",
            `/v2/conversations/${created.body.conversation_id}`,
            {
              apiKey: workspace.apiKey,
            },
          );
          assert.equal(read.status, 200);
          assert.deepEqual(read.body.recording_storage, created.body.recording_storage);
        }

        if (testCase.storage === undefined) return;
        assert.equal(await storedDefault(), null);
        const put = await relay.call("PUT", "/v2/recording-storage", {
          body: testCase.storage,
          apiKey: workspace.apiKey,
        });
        assert.equal(put.status, testCase.status === 201 ? 200 : 400, JSON.stringify(put.body));
        if (testCase.status === 400) {
          const field = testCase.field?.replace(/^properties\.recording_storage\.?/, "");
          assert.equal(put.body.error.field, field || undefined);
          if (testCase.message) assert.match(put.body.error.message, testCase.message);
          assert.equal(await storedDefault(), null, "an invalid default stored nothing");
        } else {
          assert.deepEqual(await storedDefault(), put.body.recording_storage);
          assert.equal(put.body.warnings.length, testCase.warning ? 1 : 0);
          assert.equal(
            (await relay.call("DELETE", "/v2/recording-storage", { apiKey: workspace.apiKey }))
              .status,
            204,
          );
        }
      });
    }
  });
}
