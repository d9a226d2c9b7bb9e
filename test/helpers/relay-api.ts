/** A relay app on a loopback port with a workspace and key, and a small client for it. */
import assert from "node:assert/strict";
import type { FastifyInstance } from "fastify";
import type { Db } from "../../src/db/index.ts";
import { type AppDeps, createApp } from "../../src/http/app.ts";
import { testAppDeps, testOperatorToken } from "./app-deps.ts";
import { type DatabaseKind, openTestDatabase } from "./databases.ts";

export const operatorToken = testOperatorToken;

/** A JSON answer. */
export interface Answer {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever the API answered.
  body: any;
}

/** A running test relay. */
export interface TestRelay {
  db: Db;
  app: FastifyInstance;
  base: string;
  /** Calls the API with a workspace key (or the operator token) and parses the JSON answer. */
  call(
    method: string,
    path: string,
    options?: { body?: unknown; apiKey?: string; operator?: boolean },
  ): Promise<Answer>;
  /** Creates a workspace and an API key for it. */
  workspace(name?: string): Promise<{ id: string; apiKey: string }>;
  close(): Promise<void>;
}

/** Starts a relay on `kind` listening on loopback. */
export async function startTestRelay(
  kind: DatabaseKind,
  overrides: Partial<AppDeps> = {},
): Promise<TestRelay> {
  const db = await openTestDatabase(kind);
  const app = await createApp(testAppDeps(db, overrides));
  const base = await app.listen({ host: "127.0.0.1", port: 0 });
  const call: TestRelay["call"] = async (method, path, options = {}) => {
    const headers: Record<string, string> = {};
    if (options.apiKey) headers["x-api-key"] = options.apiKey;
    if (options.operator) headers.authorization = `Bearer ${operatorToken}`;
    if ("body" in options) headers["content-type"] = "application/json";
    const response = await fetch(`${base}${path}`, {
      method,
      headers,
      ...("body" in options ? { body: JSON.stringify(options.body) } : {}),
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: text ? JSON.parse(text) : undefined,
    };
  };
  return {
    db,
    app,
    base,
    call,
    async workspace(name = "Acme") {
      const created = await call("POST", "/v2/workspaces", { body: { name }, operator: true });
      assert.equal(created.status, 201);
      const id = created.body.workspace_id as string;
      const key = await call("POST", `/v2/workspaces/${id}/api-keys`, { operator: true });
      assert.equal(key.status, 201);
      return { id, apiKey: key.body.api_key as string };
    },
    async close() {
      await app.close();
      await db.close();
    },
  };
}
