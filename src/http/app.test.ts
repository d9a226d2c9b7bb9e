import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import type { FastifyInstance } from "fastify";
import { testOperatorToken as operatorToken, testAppDeps } from "../../test/helpers/app-deps.ts";
import { databaseKinds, openTestDatabase } from "../../test/helpers/databases.ts";
import type { Db } from "../db/index.ts";
import { createApp } from "./app.ts";

for (const kind of databaseKinds) {
  describe(`HTTP API over loopback (${kind})`, () => {
    let db: Db;
    let app: FastifyInstance;
    let base: string;

    const call = (
      path: string,
      init: RequestInit & { operator?: boolean; apiKey?: string } = {},
    ) => {
      const headers = new Headers(init.headers);
      if (init.operator) headers.set("authorization", `Bearer ${operatorToken}`);
      if (init.apiKey) headers.set("x-api-key", init.apiKey);
      return fetch(`${base}${path}`, { ...init, headers });
    };
    const json = (body: unknown) => ({
      method: "POST",
      body: JSON.stringify(body),
      headers: { "content-type": "application/json" },
      operator: true,
    });
    const createWorkspace = async (name = "Acme") => {
      const response = await call("/v2/workspaces", json({ name }));
      assert.equal(response.status, 201);
      return (await response.json()) as { workspace_id: string; name: string };
    };
    const createKey = async (workspaceId: string) => {
      const response = await call(`/v2/workspaces/${workspaceId}/api-keys`, {
        method: "POST",
        operator: true,
      });
      assert.equal(response.status, 201);
      return (await response.json()) as {
        api_key: string;
        api_key_id: string;
        workspace_id: string;
      };
    };
    const expectError = async (
      response: Response,
      status: number,
      code: string,
      message?: RegExp,
    ) => {
      assert.equal(response.status, status, `status of ${response.url}`);
      assert.match(response.headers.get("content-type") ?? "", /application\/json/);
      const body = (await response.json()) as {
        error: { code: string; message: string; field?: string };
      };
      assert.equal(body.error.code, code);
      if (message) assert.match(body.error.message, message);
      // Still serving after every bad request.
      assert.equal((await call("/healthz")).status, 200);
      return body.error;
    };

    before(async () => {
      db = await openTestDatabase(kind);
      // Room for the fuzzer's 10 KB nesting bombs, which must fail on depth, not size.
      app = await createApp(testAppDeps(db, { bodyLimitBytes: 16_384 }));
      base = await app.listen({ host: "127.0.0.1", port: 0 });
    });
    after(async () => {
      await app.close();
      await db.close();
    });

    it("answers liveness and readiness", async () => {
      const health = await call("/healthz");
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: "ok" });
      assert.ok(health.headers.get("x-request-id"));
      const ready = await call("/readyz");
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), {
        status: "ready",
        checks: { database: "ok" },
        warnings: [],
      });
    });

    it("serves an OpenAPI document describing its routes and security", async () => {
      const response = await call("/openapi.json");
      assert.equal(response.status, 200);
      const doc = (await response.json()) as {
        openapi: string;
        paths: Record<string, Record<string, unknown>>;
        components: { securitySchemes: Record<string, unknown> };
      };
      assert.match(doc.openapi, /^3\./);
      assert.ok(doc.paths["/v2/workspaces"]?.post);
      assert.ok(doc.paths["/v2/workspaces/{workspace_id}/api-keys"]?.post);
      // Operator views: listings, signing keys, setup and verify for a named workspace.
      assert.ok(doc.paths["/v2/recordings"]?.get);
      assert.ok(doc.paths["/v2/events"]?.get);
      assert.ok(doc.paths["/v2/signing-keys"]?.get);
      assert.ok(doc.paths["/v2/signing-keys/rotate"]?.post);
      assert.ok(doc.paths["/v2/signing-keys/emergency-rotate"]?.post);
      assert.ok(doc.paths["/v2/workspaces/{workspace_id}/recording-storage/verify"]?.post);
      assert.ok(doc.paths["/v2/workspaces/{workspace_id}/recording-storage/setup/{provider}"]?.get);
      const listParameters = (
        doc.paths["/v2/recordings"]!.get as { parameters: { name: string }[] }
      ).parameters.map((parameter) => parameter.name);
      for (const name of [
        "state",
        "provider",
        "error_code",
        "created_after",
        "created_before",
        "workspace_id",
        "cursor",
        "limit",
      ]) {
        assert.ok(listParameters.includes(name), name);
      }
      assert.ok(doc.components.securitySchemes.operatorToken);
      assert.ok(doc.components.securitySchemes.apiKey);
    });

    it("creates workspaces and shows an API key once, which then authenticates its workspace", async () => {
      const workspace = await createWorkspace("  Acme Corp  ");
      assert.equal(workspace.name, "Acme Corp");
      assert.match(workspace.workspace_id, /^[0-9a-f-]{36}$/);
      const key = await createKey(workspace.workspace_id);
      assert.match(key.api_key, /^rrk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
      const me = await call("/v2/workspace", { apiKey: key.api_key });
      assert.equal(me.status, 200);
      assert.equal(
        ((await me.json()) as { workspace_id: string }).workspace_id,
        workspace.workspace_id,
      );
      // Only the hash is stored.
      const { rows } = await db.query<{ key_sha256: Uint8Array }>(
        "SELECT key_sha256 FROM api_keys WHERE id = $1",
        [key.api_key_id],
      );
      assert.equal(rows[0]!.key_sha256.length, 32);
      assert.ok(!Buffer.from(rows[0]!.key_sha256).toString("latin1").includes(key.api_key));
      const list = await call("/v2/workspaces", { operator: true });
      const ids = ((await list.json()) as { data: { workspace_id: string }[] }).data.map(
        (w) => w.workspace_id,
      );
      assert.ok(ids.includes(workspace.workspace_id));
    });

    it("tells two workspaces apart by their keys", async () => {
      const a = await createWorkspace("A");
      const b = await createWorkspace("B");
      const keyA = await createKey(a.workspace_id);
      const keyB = await createKey(b.workspace_id);
      const seenByA = (await (await call("/v2/workspace", { apiKey: keyA.api_key })).json()) as {
        workspace_id: string;
      };
      const seenByB = (await (await call("/v2/workspace", { apiKey: keyB.api_key })).json()) as {
        workspace_id: string;
      };
      assert.equal(seenByA.workspace_id, a.workspace_id);
      assert.equal(seenByB.workspace_id, b.workspace_id);
    });

    describe("refuses missing or wrong credentials with 401", () => {
      it("operator endpoints without a token, with a wrong one, or with an API key", async () => {
        const workspace = await createWorkspace();
        const key = await createKey(workspace.workspace_id);
        const body = JSON.stringify({ name: "x" });
        const headers = { "content-type": "application/json" };
        for (const authorization of [
          undefined,
          "Bearer wrong",
          `Basic ${operatorToken}`,
          `Bearer ${operatorToken}x`,
        ]) {
          const response = await call("/v2/workspaces", {
            method: "POST",
            body,
            headers: authorization ? { ...headers, authorization } : headers,
          });
          await expectError(response, 401, "UNAUTHENTICATED");
          assert.match(response.headers.get("www-authenticate") ?? "", /^Bearer/);
        }
        await expectError(
          await call("/v2/workspaces", { method: "POST", body, headers, apiKey: key.api_key }),
          401,
          "UNAUTHENTICATED",
          /operator token/,
        );
      });

      it("workspace endpoints without a key, with a malformed, unknown or tampered key, or with the operator token", async () => {
        const workspace = await createWorkspace();
        const key = await createKey(workspace.workspace_id);
        const tampered = key.api_key.slice(0, -1) + (key.api_key.endsWith("A") ? "B" : "A");
        const unknown = `rrk_0000000000000000_${"A".repeat(43)}`;
        for (const apiKey of [undefined, "not-a-key", unknown, tampered]) {
          await expectError(
            await call("/v2/workspace", apiKey ? { apiKey } : {}),
            401,
            "UNAUTHENTICATED",
          );
        }
        await expectError(
          await call("/v2/workspace", { operator: true }),
          401,
          "UNAUTHENTICATED",
          /x-api-key/,
        );
      });
    });

    describe("answers bad input with a clear 4xx and keeps serving", () => {
      it("malformed JSON", async () => {
        const response = await call("/v2/workspaces", {
          method: "POST",
          body: '{"name": "x",',
          headers: { "content-type": "application/json" },
          operator: true,
        });
        await expectError(response, 400, "MALFORMED_JSON", /not valid JSON/);
      });

      it("a prototype-poisoning body", async () => {
        const response = await call("/v2/workspaces", {
          method: "POST",
          body: '{"name":"x","__proto__":{"admin":true}}',
          headers: { "content-type": "application/json" },
          operator: true,
        });
        assert.equal(response.status, 400);
      });

      it("a wrong or missing content type", async () => {
        for (const type of ["text/plain", "application/x-www-form-urlencoded", "application/xml"]) {
          const response = await call("/v2/workspaces", {
            method: "POST",
            body: "name=x",
            headers: { "content-type": type },
            operator: true,
          });
          await expectError(response, 415, "UNSUPPORTED_MEDIA_TYPE", /application\/json/);
        }
      });

      it("an oversize body", async () => {
        const response = await call("/v2/workspaces", json({ name: "x".repeat(20_000) }));
        await expectError(response, 413, "PAYLOAD_TOO_LARGE");
      });

      it("missing, mistyped, empty, too long and unknown fields, each named", async () => {
        const cases: [unknown, string, RegExp][] = [
          [{}, "name", /name: is required/],
          [{ name: 42 }, "name", /must be a string/],
          [{ name: "   " }, "name", /must not be empty/],
          [{ name: "x".repeat(201) }, "name", /at most 200/],
          [{ name: "x", color: "red" }, "color", /color: unknown field/],
          [[], "", /object/],
          ["just a string", "", /object/],
        ];
        for (const [body, field, message] of cases) {
          const error = await expectError(
            await call("/v2/workspaces", json(body)),
            400,
            "VALIDATION_FAILED",
            message,
          );
          if (field) assert.equal(error.field, field);
        }
      });

      it("a path id that is not a UUID, and one that does not exist", async () => {
        const bad = await expectError(
          await call("/v2/workspaces/12345/api-keys", { method: "POST", operator: true }),
          400,
          "VALIDATION_FAILED",
          /UUID/,
        );
        assert.equal(bad.field, "path.workspace_id");
        await expectError(
          await call(`/v2/workspaces/${crypto.randomUUID()}/api-keys`, {
            method: "POST",
            operator: true,
          }),
          404,
          "NOT_FOUND",
        );
        assert.equal(
          (
            await db.query(
              "SELECT 1 FROM api_keys WHERE workspace_id NOT IN (SELECT id FROM workspaces)",
            )
          ).rows.length,
          0,
        );
      });

      it("unknown routes and methods", async () => {
        await expectError(await call("/nope"), 404, "NOT_FOUND", /no route GET \/nope/);
        await expectError(
          await call("/v2/workspaces", { method: "DELETE", operator: true }),
          404,
          "NOT_FOUND",
        );
        await expectError(
          await call("/v2/workspaces/%zz/api-keys"),
          400,
          "VALIDATION_FAILED",
          /not a valid url/,
        );
      });

      it("hostile input found by fuzzing: deep nesting, forged cursors, NUL and lone surrogates", async () => {
        const workspace = await createWorkspace("Fuzzed");
        const { api_key: apiKey } = await createKey(workspace.workspace_id);
        const asWorkspace = (method: string, body: string) => ({
          method,
          body,
          headers: { "content-type": "application/json" },
          apiKey,
        });
        const deep = `${"[".repeat(5_000)}${"]".repeat(5_000)}`;
        const deepObject = `{"provider":"gcs","x":${deep}}`;
        const forged = (position: string) =>
          Buffer.from(JSON.stringify([position, crypto.randomUUID()])).toString("base64url");
        const before = (await db.query("SELECT count(*)::int AS n FROM workspaces")).rows[0];
        const cases: [string, RequestInit & { operator?: boolean; apiKey?: string }, RegExp][] = [
          ["/v2/recording-storage", asWorkspace("PUT", deepObject), /nest/],
          ["/v2/conversations", asWorkspace("POST", `{"properties":${deep}}`), /nest/],
          ["/v2/recording-storage/verify", asWorkspace("POST", deepObject), /nest/],
          [
            `/v2/conversations?cursor=${forged("2026-13-45T99:99:99.000000Z")}`,
            { apiKey },
            /cursor/,
          ],
          [
            `/v2/conversations?cursor=${forged("0000-00-00T00:00:00.000000Z")}`,
            { apiKey },
            /cursor/,
          ],
          [`/v2/events?cursor=${forged("2026-02-30T00:00:00.000000Z")}`, { apiKey }, /cursor/],
          ["/v2/events/%00", { apiKey }, /NUL|character/],
          ["/v2/events/msg_%00/resend", { method: "POST", apiKey }, /NUL|character/],
          ["/v2/workspaces", json({ name: "a\u0000b" }), /NUL|character/],
          ["/v2/workspaces", { ...json({}), body: '{"name":"a\\ud800b"}' }, /surrogate|character/],
          [
            "/v2/conversations",
            asWorkspace("POST", '{"callback_url":"https://hooks.example.com/\\u0000"}'),
            /NUL|character/,
          ],
          [
            "/v2/conversations",
            asWorkspace("POST", '{"callback_url":"https://hooks.example.com/\\ud800"}'),
            /surrogate|character/,
          ],
        ];
        const serverErrors: string[] = [];
        for (const [path, init, message] of cases) {
          const response = await call(path, init);
          if (response.status >= 500) serverErrors.push(`${init.method ?? "GET"} ${path}`);
          await expectError(response, 400, "VALIDATION_FAILED", message);
        }
        assert.deepEqual(serverErrors, []);
        const afterwards = (await db.query("SELECT count(*)::int AS n FROM workspaces")).rows[0];
        assert.deepEqual(afterwards, before);
      });

      it("a JSON content type with no body where the endpoint takes none, or only optional fields", async () => {
        const workspace = await createWorkspace("Empty bodies");
        const { api_key: apiKey } = await createKey(workspace.workspace_id);
        const empty = { method: "POST", headers: { "content-type": "application/json" }, apiKey };
        // No body to parse: the answer is about the event, not about JSON.
        await expectError(await call("/v2/events/msg_unknown/resend", empty), 404, "NOT_FOUND");
        const rotated = await call("/v2/webhook-secret/rotate", empty);
        assert.equal(rotated.status, 201);
        // An endpoint that needs a body still says what is missing.
        await expectError(
          await call("/v2/workspaces", { ...json({}), body: "" }),
          400,
          "VALIDATION_FAILED",
          /body/,
        );
      });

      it("bytes that are not HTTP at all", async () => {
        const answer = await new Promise<string>((resolve, reject) => {
          const { port } = new URL(base);
          const socket = connect(Number(port), "127.0.0.1", () =>
            socket.end("\x16\x03\x01 garbage\r\n\r\n"),
          );
          let data = "";
          socket.on("data", (chunk) => {
            data += chunk;
          });
          socket.on("end", () => resolve(data));
          socket.on("error", reject);
        });
        assert.match(answer, /^HTTP\/1\.1 400/);
        assert.equal((await call("/healthz")).status, 200);
      });
    });
  });
}

describe("readiness when the database is gone", () => {
  it("answers 503 NOT_READY instead of hanging or failing with a 500", async () => {
    const db = await openTestDatabase("postgres");
    const app = await createApp(testAppDeps(db, { bodyLimitBytes: 4096 }));
    try {
      await db.close();
      const response = await app.inject({ method: "GET", url: "/readyz" });
      assert.equal(response.statusCode, 503);
      assert.equal(response.json().error.code, "NOT_READY");
      assert.equal((await app.inject({ method: "GET", url: "/healthz" })).statusCode, 200);
    } finally {
      await app.close();
    }
  });
});
