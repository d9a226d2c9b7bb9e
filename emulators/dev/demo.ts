/**
 * `recording-relay demo`: the whole product on loopback in about a minute. The three cloud
 * emulators, each with a customer that trusts this relay; a relay built by the real composition
 * root with an embedded database; a workspace with one destination per cloud plus one set up
 * wrong on purpose; a generated MP4 streamed to each through the ingest API; and a webhook
 * receiver that verifies every signature. It prints what arrived and what the buckets hold.
 *
 * Like `emulators`, it is a development command (emulators/dev/cli.ts): the packaged executable
 * never loads emulators/.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import type { CliIo } from "../../src/cli/io.ts";
import { createRelayClient, relayError } from "../../src/client/index.ts";
import { loadConfig } from "../../src/config/index.ts";
import { migrate, openDatabase } from "../../src/db/index.ts";
import { AppError } from "../../src/errors/index.ts";
import { startServer } from "../../src/runtime/server.ts";
import { createApiKey, createWorkspace } from "../../src/workspaces/index.ts";
import { startEmulators } from "../main.ts";
import { mp4File } from "../shared/mp4.ts";
import { startWebhookReceiver } from "../shared/webhook-receiver.ts";

const MiB = 1024 * 1024;
const RECORDING_BYTES = 12 * MiB;
const APPEND_BYTES = 2 * MiB;
const RECORDING_SECONDS = 95;
const DEADLINE_MS = 90_000;

type Provider = "s3" | "gcs" | "azure_blob";

/** One conversation of the demo and what it expects. */
interface DemoConversation {
  label: string;
  provider: Provider;
  storage: object;
  /** Why it must fail, for the broken one. */
  brokenOnPurpose?: string;
}

const INTERRUPTED = new Error("interrupted");

/** Builds the `demo` command. */
export function demoCommand(io: CliIo, waitForSignal: () => Promise<unknown>): Command {
  return new Command("demo")
    .description(
      "Run the emulated clouds and a relay, stream a recording to S3, GCS and Azure Blob and one broken destination, and show the signed events",
    )
    .action(async () => {
      const interrupted = waitForSignal().then(() => {
        throw INTERRUPTED;
      });
      interrupted.catch(() => {});
      try {
        await runDemo(io, interrupted);
      } catch (error) {
        if (error !== INTERRUPTED) throw error;
        io.stderr("demo interrupted; everything it started is stopped");
        process.exitCode = 130;
      }
    });
}

async function freeLoopbackPort(): Promise<number> {
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

async function runDemo(io: CliIo, interrupted: Promise<never>): Promise<void> {
  const startedAt = performance.now();
  const say = (line = "") => io.stdout(line);
  const step = (line: string) =>
    say(`[${((performance.now() - startedAt) / 1000).toFixed(1).padStart(5)} s] ${line}`);
  const cleanups: (() => Promise<unknown>)[] = [];
  const race = <T>(promise: Promise<T>) => Promise.race([promise, interrupted]);
  try {
    say("recording-relay demo: everything runs on loopback; nothing leaves this machine.");
    say();
    const dataDir = await mkdtemp(join(tmpdir(), "relay-demo-"));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));

    // The workspace exists before the emulated customers are set up: they trust its id.
    const db = await race(openDatabase({ databaseUrl: undefined, dataDir, databasePoolSize: 1 }));
    let workspace: { id: string; apiKey: string };
    try {
      await migrate(db);
      const created = await createWorkspace(db, { name: "Demo customer" });
      workspace = { id: created.id, apiKey: (await createApiKey(db, created.id)).key };
    } finally {
      await db.close();
    }
    const port = await freeLoopbackPort();
    const issuerUrl = `http://127.0.0.1:${port}`;
    step(`workspace ${workspace.id} created (embedded PostgreSQL in ${dataDir})`);

    const emulators = await race(startEmulators({ issuerUrl, workspaceId: workspace.id }));
    cleanups.push(() => emulators.stop());
    step("emulated AWS, GCP and Azure started; each customer trusts this relay's issuer");

    const env: Record<string, string> = {
      RELAY_DATA_DIR: dataDir,
      RELAY_PORT: String(port),
      RELAY_ISSUER_URL: issuerUrl,
      RELAY_OPERATOR_TOKEN: randomBytes(24).toString("base64url"),
      // The demo prints its own account of what happened; the relay's JSON logs would bury it.
      RELAY_LOG_LEVEL: "silent",
      RELAY_ALLOW_HTTP_CALLBACKS: "true",
      RELAY_WEBHOOK_ALLOWED_NETWORKS: "127.0.0.1/32",
      RELAY_WEBHOOK_ALLOWED_PORTS: "*",
      // A broken trust is retried for 30 min by default (trust changes take minutes to
      // propagate); the demo reports it at the first refusal instead.
      RELAY_DELIVERY_CONFIG_RETRY_BUDGET_MINUTES: "0",
      RELAY_DELIVERY_CONFIG_RETRY_BASE_MS: "100",
      ...emulators.relayEnv(),
    };
    // The AWS SDK takes the operator's (emulated) key from the process environment, as it does
    // in production.
    for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"]) {
      if (env[name]) process.env[name] = env[name];
    }
    const relay = await race(startServer(loadConfig({ env })));
    cleanups.push(() => relay.close());
    step(`relay listening on ${relay.url} (API, OIDC issuer and delivery worker)`);

    // The typed client (`recording-relay/client`): the workspace's key for its own resources,
    // the platform's operator token to start and feed recordings.
    const workspaceApi = createRelayClient({ baseUrl: relay.url, apiKey: workspace.apiKey });
    const operatorApi = createRelayClient({
      baseUrl: relay.url,
      operatorToken: env.RELAY_OPERATOR_TOKEN!,
    });
    const must = async <T>(
      what: string,
      answer: Promise<{ data?: T; error?: unknown; response: Response }>,
    ): Promise<T> => {
      const { data, error, response } = await answer;
      if (!response.ok) {
        const failure = relayError(error, response.status);
        throw new Error(`${what} answered ${response.status}: ${failure.code}: ${failure.message}`);
      }
      return data as T;
    };

    const receiver = await startWebhookReceiver();
    cleanups.push(() => receiver.close());
    receiver.setSecret(
      (await must("rotating the webhook secret", workspaceApi.POST("/v2/webhook-secret/rotate")))
        .secret,
    );
    step(`webhook receiver on ${receiver.url} verifies every Standard Webhooks signature`);

    const { destinations } = emulators;
    const conversations: DemoConversation[] = [
      { label: "Amazon S3", provider: "s3", storage: destinations.s3 },
      { label: "Google Cloud Storage", provider: "gcs", storage: destinations.gcs },
      { label: "Azure Blob Storage", provider: "azure_blob", storage: destinations.azure_blob },
      {
        label: "Azure Blob Storage, misconfigured",
        provider: "azure_blob",
        storage: { ...destinations.azure_blob, client_id: randomUUID() },
        brokenOnPurpose:
          "its client_id names an app registration that does not exist in the customer's tenant",
      },
    ];
    const recordings: (DemoConversation & { id: string; sha256: string })[] = [];
    const inOrder = () =>
      [...recordings].sort((a, b) => conversations.indexOf(a) - conversations.indexOf(b));
    await race(
      Promise.all(
        conversations.map(async (conversation) => {
          const created = await must(
            "creating a conversation",
            workspaceApi.POST("/v2/conversations", {
              body: {
                properties: {
                  enable_recording: true,
                  callback_url: receiver.url,
                  recording_storage: conversation.storage,
                },
              },
            }),
          );
          const media = randomBytes(RECORDING_BYTES);
          const mp4 = mp4File(media, RECORDING_SECONDS * 1000);
          const started = await must(
            "starting a recording",
            operatorApi.POST("/v2/conversations/{conversation_id}/recordings", {
              params: { path: { conversation_id: created.conversation_id } },
              body: {},
            }),
          );
          const recordingPath = { params: { path: { recording_id: started.recording_id } } };
          for (let offset = 0; offset < mp4.length; offset += APPEND_BYTES) {
            await must(
              "appending",
              operatorApi.PATCH("/v2/recordings/{recording_id}", {
                ...recordingPath,
                body: mp4.subarray(offset, offset + APPEND_BYTES),
                bodySerializer: (bytes) => bytes as Uint8Array<ArrayBuffer>,
                headers: {
                  "content-type": "application/octet-stream",
                  "upload-offset": String(offset),
                },
              }),
            );
          }
          const sha256 = createHash("sha256").update(mp4).digest("hex");
          await must(
            "completing",
            operatorApi.POST("/v2/recordings/{recording_id}/complete", {
              ...recordingPath,
              body: { size_bytes: mp4.length, sha256 },
            }),
          );
          recordings.push(Object.assign(conversation, { id: started.recording_id, sha256 }));
        }),
      ),
    );
    step(
      `streamed a ${RECORDING_BYTES / MiB} MiB MP4 to each of ${conversations.length} conversations in ${APPEND_BYTES / MiB} MiB appends, then completed them`,
    );

    const eventFor = (id: string) =>
      receiver.events.find((event) => event.body.properties?.recording_id === id);
    await race(
      receiver
        .waitFor(() => recordings.every((r) => eventFor(r.id)), DEADLINE_MS)
        .catch(() => {
          const missing = recordings.filter((r) => !eventFor(r.id)).map((r) => r.label);
          throw new AppError(
            "DEMO_FAILED",
            `no event within ${DEADLINE_MS / 1000} s for: ${missing.join(", ")}`,
          );
        }),
    );
    step("every recording has its signed event");
    say();

    let delivered = 0;
    let explained = 0;
    const problems: string[] = [];
    for (const recording of inOrder()) {
      const event = eventFor(recording.id)!;
      const p = event.body.properties;
      if (event.body.event_type === "application.recording_ready") {
        const stored = await emulators.storedDigest(recording.provider, p.key);
        const intact =
          stored !== undefined &&
          stored.size === p.size_bytes &&
          stored.sha256 === p.sha256 &&
          p.sha256 === recording.sha256;
        say(`recording_ready  ${recording.label}`);
        say(`  ${p.storage_uri}`);
        say(
          `  ${(p.size_bytes / MiB).toFixed(1)} MiB, ${p.duration} s, sha256 ${p.sha256.slice(0, 16)}…, signature verified`,
        );
        say(
          intact
            ? "  the emulated bucket holds exactly these bytes (size and SHA-256 compared)"
            : `  MISMATCH: the emulated bucket holds ${JSON.stringify(stored)}`,
        );
        if (intact && !recording.brokenOnPurpose) delivered++;
        else problems.push(`${recording.label}: ${intact ? "should have failed" : "not intact"}`);
      } else {
        say(`recording_copy_failed  ${recording.label}`);
        if (recording.brokenOnPurpose) say(`  broken on purpose: ${recording.brokenOnPurpose}`);
        say(
          `  ${p.error_code} after ${p.attempts} attempt(s); staged copy kept until ${p.retained_until}`,
        );
        say(`  ${p.error_message}`);
        if (recording.brokenOnPurpose) explained++;
        else problems.push(`${recording.label}: ${p.error_code}`);
      }
      say();
    }
    if (receiver.rejected.length > 0) {
      problems.push(`${receiver.rejected.length} webhook(s) failed signature verification`);
    }
    const seconds = ((performance.now() - startedAt) / 1000).toFixed(1);
    if (problems.length > 0) {
      throw new AppError("DEMO_FAILED", `the demo went wrong: ${problems.join("; ")}`);
    }
    say(
      `${delivered} recordings delivered and verified, ${explained} failure explained, in ${seconds} s.`,
    );
    say("Next: README.md (running it for real) and docs/ (operations, security, errors).");
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  }
}
