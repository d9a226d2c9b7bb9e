/**
 * The relay under test, in this process, built by the real composition root (`startServer`) with
 * an embedded database in a throwaway data directory, a fresh workspace, and a webhook receiver
 * that verifies every signature. It can be restarted on the same port and data (same issuer, same
 * signing keys): a new process has no cached cloud credentials, so the next identity exchange is
 * a real one.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mp4File } from "../emulators/shared/mp4.ts";
import {
  startWebhookReceiver,
  type WebhookReceiver,
} from "../emulators/shared/webhook-receiver.ts";
import { loadConfig } from "../src/config/index.ts";
import { migrate, openDatabase } from "../src/db/index.ts";
import { type RunningServer, startServer } from "../src/runtime/server.ts";
import { createApiKey, createWorkspace } from "../src/workspaces/index.ts";
import type { Cleanups } from "./cleanup.ts";

const MiB = 1024 * 1024;

/** What one delivery produced. */
export interface Delivery {
  recordingId: string;
  /** The recording as streamed in. */
  size: number;
  sha256: string;
  // biome-ignore lint/suspicious/noExplicitAny: the event's properties, as the receiver got them.
  event: { event_type: string; properties: any };
}

export interface Relay {
  workspaceId: string;
  url: string;
  /** Calls the API with the workspace key, or the operator token with `operator`. */
  call(
    method: string,
    path: string,
    body?: object | Uint8Array,
    options?: { operator?: boolean; headers?: Record<string, string> },
    // biome-ignore lint/suspicious/noExplicitAny: whatever the API answered.
  ): Promise<{ status: number; body: any }>;
  /**
   * Stops and starts the relay again (same port, data and keys; no cached credentials), with
   * `extraEnv` added to its settings from now on.
   */
  restart(extraEnv?: Record<string, string>): Promise<void>;
  /** Creates a conversation recording into `storage` (S3 checks the role here); returns its id. */
  conversation(storage: object): Promise<string>;
  /**
   * Streams a generated MP4 to a conversation (an id, or a new one recording into a
   * `recording_storage` object) and waits for the recording's signed event.
   */
  deliver(
    conversation: string | object,
    options: { bytes: number; timeoutMs: number },
  ): Promise<Delivery>;
}

/** Settings of the relay; the kit adds the data directory, port, issuer and test-friendly retries. */
export interface RelayOptions {
  /** The loopback port to listen on (0: any free one). */
  port: number;
  /** The issuer URL; a function of the port when the port is chosen here. */
  issuerUrl: (port: number) => string;
  /** Environment the relay starts with (the cloud endpoints, the AWS operator account…). */
  env: (
    workspaceId: string,
    issuerUrl: string,
  ) => Promise<Record<string, string>> | Record<string, string>;
}

export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (!address || typeof address === "string") throw new Error("no loopback port");
  return address.port;
}

/** Creates the throwaway workspace, then starts the relay; both are removed by `cleanups`. */
export async function startRelay(options: RelayOptions, cleanups: Cleanups): Promise<Relay> {
  const dataDir = await mkdtemp(join(tmpdir(), "relay-conformance-"));
  cleanups.add({
    what: `relay data directory ${dataDir}`,
    run: () => rm(dataDir, { recursive: true, force: true }),
  });
  const db = await openDatabase({ databaseUrl: undefined, dataDir, databasePoolSize: 1 });
  let workspace: { id: string; apiKey: string };
  try {
    await migrate(db);
    const created = await createWorkspace(db, {
      name: `conformance ${new Date().toISOString()}`,
    });
    workspace = { id: created.id, apiKey: (await createApiKey(db, created.id)).key };
  } finally {
    await db.close();
  }
  const port = options.port || (await freeLoopbackPort());
  const operatorToken = randomBytes(24).toString("base64url");
  const issuerUrl = options.issuerUrl(port);
  const env: Record<string, string> = {
    RELAY_DATA_DIR: dataDir,
    RELAY_HOST: "127.0.0.1",
    RELAY_PORT: String(port),
    RELAY_ISSUER_URL: issuerUrl,
    RELAY_OPERATOR_TOKEN: operatorToken,
    RELAY_LOG_LEVEL: "silent",
    RELAY_ALLOW_HTTP_CALLBACKS: "true",
    RELAY_WEBHOOK_ALLOWED_NETWORKS: "127.0.0.1/32",
    RELAY_WEBHOOK_ALLOWED_PORTS: "*",
    RELAY_WORKER_POLL_MS: "200",
    // A refused trust is reported at once: the kit waits out propagation with verify instead.
    RELAY_DELIVERY_CONFIG_RETRY_BUDGET_MINUTES: "0",
    RELAY_DELIVERY_CONFIG_RETRY_BASE_MS: "100",
    RELAY_DELIVERY_RETRY_BASE_MS: "200",
    RELAY_DELIVERY_RETRY_CAP_MS: "2000",
    ...(await options.env(workspace.id, issuerUrl)),
  };
  // The AWS SDK takes the operator's identity from the process environment (its default chain).
  for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"]) {
    if (env[name]) process.env[name] = env[name];
  }
  let server: RunningServer | undefined = await startServer(loadConfig({ env }));
  cleanups.add({
    what: "the relay",
    run: async () => {
      await server?.close();
      server = undefined;
    },
  });
  const url = server.url;

  const call: Relay["call"] = async (method, path, body, callOptions = {}) => {
    const json = body !== undefined && !(body instanceof Uint8Array);
    const response = await fetch(`${url}${path}`, {
      method,
      headers: {
        ...(callOptions.operator
          ? { authorization: `Bearer ${operatorToken}` }
          : { "x-api-key": workspace.apiKey }),
        ...(body === undefined
          ? {}
          : { "content-type": json ? "application/json" : "application/octet-stream" }),
        ...callOptions.headers,
      },
      ...(body === undefined ? {} : { body: json ? JSON.stringify(body) : body }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
  const ok = async (...args: Parameters<Relay["call"]>) => {
    const answer = await call(...args);
    if (answer.status >= 300) {
      throw new Error(
        `${args[0]} ${args[1]} answered ${answer.status}: ${JSON.stringify(answer.body)}`,
      );
    }
    return answer.body;
  };

  const receiver: WebhookReceiver = await startWebhookReceiver();
  cleanups.add({ what: "the webhook receiver", run: () => receiver.close() });
  receiver.setSecret((await ok("POST", "/v2/webhook-secret/rotate")).secret);

  async function conversation(storage: object): Promise<string> {
    const created = await ok("POST", "/v2/conversations", {
      properties: {
        enable_recording: true,
        callback_url: receiver.url,
        recording_storage: storage,
      },
    });
    return created.conversation_id as string;
  }

  return {
    workspaceId: workspace.id,
    url,
    call,
    async restart(extraEnv = {}) {
      Object.assign(env, extraEnv);
      await server?.close();
      server = undefined;
      server = await startServer(loadConfig({ env }));
    },
    conversation,
    async deliver(target, { bytes, timeoutMs }) {
      const conversationId = typeof target === "string" ? target : await conversation(target);
      const mp4 = mp4File(randomBytes(bytes), 60_000);
      const operator = { operator: true };
      const started = await ok(
        "POST",
        `/v2/conversations/${conversationId}/recordings`,
        undefined,
        operator,
      );
      const append = 2 * MiB;
      for (let offset = 0; offset < mp4.length; offset += append) {
        await ok(
          "PATCH",
          `/v2/recordings/${started.recording_id}`,
          mp4.subarray(offset, offset + append),
          {
            ...operator,
            headers: { "upload-offset": String(offset) },
          },
        );
      }
      const sha256 = createHash("sha256").update(mp4).digest("hex");
      await ok(
        "POST",
        `/v2/recordings/${started.recording_id}/complete`,
        { size_bytes: mp4.length, sha256 },
        operator,
      );
      const find = () =>
        receiver.events.find((e) => e.body.properties?.recording_id === started.recording_id);
      await receiver
        .waitFor(() => find() !== undefined, timeoutMs)
        .catch(() => {
          throw new Error(
            `no recording_ready or recording_copy_failed within ${timeoutMs / 1000} s for recording ${started.recording_id}`,
          );
        });
      if (receiver.rejected.length > 0) {
        throw new Error(`${receiver.rejected.length} webhook(s) failed signature verification`);
      }
      const event = find()!;
      return {
        recordingId: started.recording_id,
        size: mp4.length,
        sha256,
        event: { event_type: event.body.event_type, properties: event.body.properties },
      };
    },
  };
}
