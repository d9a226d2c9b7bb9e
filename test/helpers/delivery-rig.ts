/**
 * The whole product on loopback: the three cloud emulators trusting a workspace, a relay built by
 * the real composition root (`startServer`) configured the way an operator would (environment
 * variables), and a webhook receiver that verifies every signed event.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunningEmulators, startEmulators } from "../../emulators/main.ts";
import {
  startWebhookReceiver,
  type WebhookReceiver,
} from "../../emulators/shared/webhook-receiver.ts";
import { loadConfig } from "../../src/config/index.ts";
import { migrate, openDatabase, type Queryable } from "../../src/db/index.ts";
import { type RunningServer, startServer } from "../../src/runtime/server.ts";
import { createApiKey, createWorkspace } from "../../src/workspaces/index.ts";
import { testOperatorToken } from "./app-deps.ts";
import { createServerDatabase, type DatabaseKind } from "./databases.ts";
import { freePort } from "./postgres-server.ts";
import { killAllRelays } from "./relay-process.ts";

export {
  startWebhookReceiver,
  type WebhookReceiver,
} from "../../emulators/shared/webhook-receiver.ts";

/** A workspace made before the relay starts (the emulated customers must trust its id). */
export interface RigWorkspace {
  id: string;
  apiKey: string;
}

/** The environment of a relay process against `emulators`, on `database`. */
export interface RigEnvironment {
  env: Record<string, string>;
  workspace: RigWorkspace;
  emulators: RunningEmulators;
  issuerUrl: string;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * Prepares a database with one workspace, starts the emulators trusting it, and returns the
 * environment a relay (in this process or a child) needs: issuer on a reserved loopback port,
 * emulator endpoints, webhooks allowed to loopback over http.
 */
export async function prepareRig(
  kind: DatabaseKind,
  env: Record<string, string> = {},
): Promise<RigEnvironment> {
  const dataDir = await mkdtemp(join(tmpdir(), "relay-rig-"));
  const server = kind === "postgres" ? await createServerDatabase() : undefined;
  const databaseEnv: Record<string, string> = server
    ? { DATABASE_URL: server.url, RELAY_MASTER_KEY: randomBytes(32).toString("base64") }
    : {};
  const db = await openDatabase({
    databaseUrl: databaseEnv.DATABASE_URL,
    databasePoolSize: 2,
    dataDir,
  });
  let workspace: RigWorkspace;
  try {
    await migrate(db);
    const created = await createWorkspace(db, { name: "Acme" });
    workspace = { id: created.id, apiKey: (await createApiKey(db, created.id)).key };
  } finally {
    await db.close();
  }
  const port = await freePort();
  const issuerUrl = `http://127.0.0.1:${port}`;
  const emulators = await startEmulators({ issuerUrl, workspaceId: workspace.id });
  return {
    env: {
      RELAY_DATA_DIR: dataDir,
      RELAY_PORT: String(port),
      RELAY_ISSUER_URL: issuerUrl,
      RELAY_OPERATOR_TOKEN: testOperatorToken,
      RELAY_LOG_LEVEL: "warn",
      RELAY_ALLOW_HTTP_CALLBACKS: "true",
      RELAY_WEBHOOK_ALLOWED_NETWORKS: "127.0.0.1/32",
      RELAY_WEBHOOK_ALLOWED_PORTS: "*",
      RELAY_WORKER_POLL_MS: "200",
      RELAY_DELIVERY_RETRY_BASE_MS: "50",
      RELAY_DELIVERY_RETRY_CAP_MS: "500",
      RELAY_DESTINATION_MAX_ATTEMPTS: "3",
      // Tests drive the destination health check with engine.health.runOnce, never its loop.
      RELAY_HEALTH_CHECK: "false",
      ...databaseEnv,
      ...emulators.relayEnv(),
      ...env,
    },
    workspace,
    emulators,
    issuerUrl,
    port,
    dataDir,
    async stop() {
      await emulators.stop();
      await rm(dataDir, { recursive: true, force: true });
      await server?.drop();
    },
  };
}

/** A JSON answer of the relay. */
export interface RigAnswer {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever the API answered.
  body: any;
}

/** Calls the relay: `operator` sends the operator token, otherwise the workspace key. */
export function relayClient(base: string, apiKey: string) {
  return async function call(
    method: string,
    path: string,
    options: {
      json?: unknown;
      bytes?: Uint8Array | AsyncIterable<Uint8Array>;
      headers?: Record<string, string>;
      operator?: boolean;
      signal?: AbortSignal;
    } = {},
  ): Promise<RigAnswer> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.operator) headers.authorization = `Bearer ${testOperatorToken}`;
    else headers["x-api-key"] = apiKey;
    let body: RequestInit["body"];
    if (options.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(options.json);
    } else if (options.bytes !== undefined) {
      headers["content-type"] ??= "application/octet-stream";
      body = options.bytes as RequestInit["body"];
    }
    const response = await fetch(`${base}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
      ...(options.bytes !== undefined && !(options.bytes instanceof Uint8Array)
        ? { duplex: "half" }
        : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    } as RequestInit);
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: text ? JSON.parse(text) : undefined,
    };
  };
}

/** Gives `receiver` the workspace's webhook secret (made now), so it can verify every event. */
export async function connectReceiver(
  call: ReturnType<typeof relayClient>,
  receiver: WebhookReceiver,
): Promise<void> {
  const secret = await call("POST", "/v2/webhook-secret/rotate");
  assert.equal(secret.status, 201, JSON.stringify(secret.body));
  receiver.setSecret(secret.body.secret);
}

/** Creates a conversation recording to `storage` whose events go to `receiver`; returns its id. */
export async function createRecordedConversation(
  call: ReturnType<typeof relayClient>,
  receiver: WebhookReceiver,
  storage: object,
  enableRecording = true,
): Promise<string> {
  const created = await call("POST", "/v2/conversations", {
    json: {
      properties: {
        enable_recording: enableRecording,
        callback_url: receiver.url,
        recording_storage: storage,
      },
    },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body.conversation_id as string;
}

/** A relay started in this process by `startServer` against a prepared rig. */
export interface InProcessRelay {
  server: RunningServer;
  call: ReturnType<typeof relayClient>;
  close(): Promise<void>;
}

/** Starts `serve` in this process with the rig's environment (plus `env`). */
export async function startRigServer(
  rig: RigEnvironment,
  env: Record<string, string> = {},
  options: Parameters<typeof startServer>[1] = {},
): Promise<InProcessRelay> {
  const all = { ...rig.env, ...env };
  // The AWS SDK reads the operator's credentials from the process environment (its default
  // chain), as it does in production.
  for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"]) {
    if (all[name]) process.env[name] = all[name];
  }
  const server = await startServer(loadConfig({ env: all }), options);
  return {
    server,
    call: relayClient(server.url, rig.workspace.apiKey),
    close: () => server.close(),
  };
}

/** A suite whose deliveries are made by `recording-relay worker` child processes. */
export interface WorkerSuite {
  rig: RigEnvironment;
  /** The in-process relay: API and ingest only (`--no-worker`). */
  api: InProcessRelay;
  receiver: WebhookReceiver;
  /** Kills every relay child this test process started, then stops the rest. */
  stop(): Promise<void>;
}

/**
 * Emulators, a workspace and a webhook receiver on a PostgreSQL server (several processes share
 * the queue), and an in-process relay that only ingests: what every worker-process suite needs.
 */
export async function startWorkerSuite(env: Record<string, string>): Promise<WorkerSuite> {
  const receiver = await startWebhookReceiver();
  let rig: RigEnvironment | undefined;
  let api: InProcessRelay | undefined;
  try {
    rig = await prepareRig("postgres", env);
    api = await startRigServer(rig, {}, { worker: false });
    await connectReceiver(api.call, receiver);
  } catch (error) {
    await api?.close();
    await rig?.stop();
    await receiver.close();
    throw error;
  }
  return {
    rig,
    api,
    receiver,
    async stop() {
      killAllRelays();
      await api.close();
      await receiver.close();
      await rig.stop();
    },
  };
}

/** Polls `check` until it holds; fails with `what` (and the last detail `check` gave) after `timeoutMs`. */
export async function waitUntil(
  check: () => Promise<boolean | string> | boolean | string,
  what: string,
  timeoutMs = 60_000,
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await check();
    if (result === true) return;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${what}${typeof result === "string" ? `: ${result}` : ""}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Whether the recordings are quiet: no delivery of theirs queued or running, and no event of
 * theirs still pending in the outbox. Once true, no further event about them can come without a
 * new request (a redelivery or a resend), so "no second event" can be asserted without a sleep.
 */
export async function recordingsSettled(
  db: Queryable,
  recordingIds: readonly string[],
): Promise<boolean> {
  const { rows } = await db.query<{ busy: number }>(
    `SELECT (SELECT count(*) FROM deliveries
               WHERE recording_id = ANY($1::uuid[]) AND state IN ('queued', 'running'))::int
          + (SELECT count(*) FROM events
               WHERE recording_id = ANY($1::uuid[]) AND state = 'pending')::int AS busy`,
    [recordingIds],
  );
  return rows[0]!.busy === 0;
}

/** Events of a type stored for a recording (the outbox, whatever their sending state). */
export async function storedEvents(
  db: Queryable,
  recordingId: string,
  type: "application.recording_ready" | "application.recording_copy_failed",
): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM events WHERE recording_id = $1 AND event_type = $2",
    [recordingId, type],
  );
  return rows[0]!.n;
}
