/**
 * `GET /metrics` and the delivery log line after real deliveries against the emulators: a
 * success, a customer's broken trust (auth failure) and a transient S3 fault that a retry gets
 * past. The counters and histograms move as the deliveries did, and every attempt's one log line
 * tells the same story as the counters.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { testBytes } from "../helpers/bytes.ts";
import {
  connectReceiver,
  createRecordedConversation,
  type InProcessRelay,
  prepareRig,
  type RigEnvironment,
  startRigServer,
  startWebhookReceiver,
  type WebhookReceiver,
} from "../helpers/delivery-rig.ts";

const KiB = 1024;

/** The value of one sample of the exposition text; 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries(
      [...(match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) {
      return Number(match[3]);
    }
  }
  return 0;
}

describe("metrics and the delivery log line (embedded)", () => {
  let rig: RigEnvironment;
  let relay: InProcessRelay;
  let receiver: WebhookReceiver;
  const logLines: Record<string, unknown>[] = [];

  const scrape = async () => {
    const answer = await fetch(`${relay.server.url}/metrics`, {
      headers: { authorization: `Bearer ${rig.env.RELAY_OPERATOR_TOKEN}` },
    });
    assert.equal(answer.status, 200);
    assert.match(answer.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    return await answer.text();
  };

  const upload = async (conversationId: string, bytes: Uint8Array) => {
    const answer = await relay.call("POST", `/v2/conversations/${conversationId}/recordings`, {
      operator: true,
      bytes,
    });
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    return answer.body.recording_id as string;
  };

  const settled = async (id: string) => {
    for (;;) {
      const read = await relay.call("GET", `/v2/recordings/${id}`);
      if (read.body.state === "delivered" || read.body.state === "failed") return read.body;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  before(async () => {
    receiver = await startWebhookReceiver();
    rig = await prepareRig("embedded", {
      RELAY_LOG_LEVEL: "info",
      RELAY_LIVE_UPLOAD: "false",
      RELAY_DELIVERY_CONFIG_RETRY_BASE_MS: "50",
      RELAY_DELIVERY_CONFIG_RETRY_BUDGET_MINUTES: "0",
    });
    relay = await startRigServer(
      rig,
      {},
      {
        logStream: {
          write(line: string) {
            logLines.push(JSON.parse(line));
          },
        },
      },
    );
    await connectReceiver(relay.call, receiver);
  });
  after(async () => {
    await relay?.close();
    await receiver?.close();
    await rig?.stop();
  });

  it("is refused without the operator token", async () => {
    const anonymous = await fetch(`${relay.server.url}/metrics`);
    assert.equal(anonymous.status, 401);
    const workspace = await fetch(`${relay.server.url}/metrics`, {
      headers: { "x-api-key": rig.workspace.apiKey },
    });
    assert.equal(workspace.status, 401);
  });

  it("counts a success, an auth failure and a transient fault as they happened", async () => {
    const { destinations } = rig.emulators;
    const s3 = await createRecordedConversation(relay.call, receiver, destinations.s3);
    const broken = await createRecordedConversation(relay.call, receiver, {
      ...destinations.azure_blob,
      client_id: crypto.randomUUID(),
    });

    // 1. A success.
    const first = await upload(s3, testBytes(300 * KiB, 1));
    assert.equal((await settled(first)).state, "delivered");

    // 2. The customer's trust is broken: DESTINATION_AUTH_FAILED, given up at once (budget 0).
    const refused = await upload(broken, testBytes(100 * KiB, 2));
    const failed = await settled(refused);
    assert.equal(failed.state, "failed");
    assert.equal(failed.delivery.error_code, "DESTINATION_AUTH_FAILED");

    // 3. S3 fails every request for a while: the attempt is retried, then succeeds.
    rig.emulators.aws.faults.set({
      seed: 3,
      rules: [{ service: "s3", errorRate: 1, errors: ["InternalError"] }],
    });
    const third = await upload(s3, testBytes(200 * KiB, 3));
    for (;;) {
      const text = await scrape();
      const retries = sample(text, "recording_relay_delivery_attempts_total", {
        provider: "s3",
        outcome: "retry",
        error_code: "DESTINATION_UNAVAILABLE",
      });
      if (retries >= 1) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    rig.emulators.aws.faults.clear();
    assert.equal((await settled(third)).state, "delivered");
    await receiver.waitFor(() => receiver.events.length >= 3);

    // A queued delivery an hour old (due much later) shows in the gauges read at scrape.
    await relay.server.db.query(
      `INSERT INTO deliveries (id, recording_id, workspace_id, state, run_at, created_at)
       VALUES ($1, $2, $3, 'queued', now() + interval '1 day', now() - interval '1 hour')`,
      [crypto.randomUUID(), first, rig.workspace.id],
    );

    const text = await scrape();
    const attempts = (labels: Record<string, string>) =>
      sample(text, "recording_relay_delivery_attempts_total", labels);
    assert.equal(attempts({ provider: "s3", outcome: "delivered", error_code: "none" }), 2);
    assert.ok(
      attempts({ provider: "s3", outcome: "retry", error_code: "DESTINATION_UNAVAILABLE" }) >= 1,
    );
    assert.equal(
      attempts({
        provider: "azure_blob",
        outcome: "failed",
        error_code: "DESTINATION_AUTH_FAILED",
      }),
      1,
    );
    assert.equal(
      sample(text, "recording_relay_delivered_recording_size_bytes_sum", { provider: "s3" }),
      500 * KiB,
    );
    assert.equal(
      sample(text, "recording_relay_delivered_recording_size_bytes_count", { provider: "s3" }),
      2,
    );
    assert.equal(
      sample(text, "recording_relay_delivery_attempt_duration_seconds_count", {
        provider: "s3",
        outcome: "delivered",
      }),
      2,
    );
    assert.ok(
      sample(text, "recording_relay_delivery_attempt_duration_seconds_sum", {
        provider: "s3",
        outcome: "delivered",
      }) > 0,
    );
    // Identity: the S3 role was assumed; Entra refused the unknown client.
    assert.ok(
      sample(text, "recording_relay_identity_exchanges_total", {
        provider: "s3",
        outcome: "success",
      }) >= 1,
    );
    assert.ok(
      sample(text, "recording_relay_identity_exchanges_total", {
        provider: "azure_blob",
        outcome: "failure",
      }) >= 1,
    );
    // Webhooks: two recording_ready and one recording_copy_failed reached the receiver.
    assert.ok(
      sample(text, "recording_relay_webhook_attempts_total", { outcome: "delivered" }) >= 3,
    );
    assert.ok(
      sample(text, "recording_relay_webhook_attempt_duration_seconds_count", {
        outcome: "delivered",
      }) >= 3,
    );
    // Ingest: three one-shot uploads, one append each.
    assert.equal(sample(text, "recording_relay_ingest_appends_total"), 3);
    assert.equal(sample(text, "recording_relay_ingest_bytes_total"), 600 * KiB);
    // HTTP by route pattern and status; never a raw URL or an id.
    assert.equal(
      sample(text, "recording_relay_http_requests_total", {
        method: "POST",
        route: "/v2/conversations/:conversation_id/recordings",
        status_code: "202",
      }),
      3,
    );
    assert.ok(
      sample(text, "recording_relay_http_requests_total", {
        method: "GET",
        route: "/metrics",
        status_code: "401",
      }) >= 1,
    );
    for (const id of [first, refused, third, s3, broken, rig.workspace.id]) {
      assert.ok(!text.includes(id), `an id leaked into a label: ${id}`);
    }
    // Gauges from the database, and the process metrics.
    assert.equal(sample(text, "recording_relay_delivery_queue_depth", { state: "queued" }), 1);
    const age = sample(text, "recording_relay_delivery_queue_oldest_age_seconds");
    assert.ok(age >= 3590 && age < 3700, String(age));
    assert.ok(text.includes("process_cpu_user_seconds_total"));
    assert.ok(text.includes("nodejs_heap_size_used_bytes"));

    // One log line per attempt, the same story as the counters.
    const attemptLines = logLines.filter((line) => line.msg === "delivery attempt");
    const count = (outcome: string, provider: string) =>
      attemptLines.filter((line) => line.outcome === outcome && line.provider === provider).length;
    assert.equal(count("delivered", "s3"), 2);
    assert.equal(
      count("retry", "s3"),
      attempts({ provider: "s3", outcome: "retry", error_code: "DESTINATION_UNAVAILABLE" }),
    );
    assert.equal(count("failed", "azure_blob"), 1);
    const failedLine = attemptLines.find((line) => line.outcome === "failed")!;
    assert.equal(failedLine.recording, refused);
    assert.equal(failedLine.workspace, rig.workspace.id);
    assert.equal(failedLine.code, "DESTINATION_AUTH_FAILED");
    assert.equal(failedLine.bytes, 100 * KiB);
    assert.equal(typeof failedLine.duration_ms, "number");
    assert.equal(failedLine.level, 50);
    const deliveredLine = attemptLines.find(
      (line) => line.outcome === "delivered" && line.recording === third,
    )!;
    assert.equal(deliveredLine.code, null);
    assert.equal(deliveredLine.bytes, 200 * KiB);
    assert.ok((deliveredLine.attempt as number) >= 2);
    // Nothing secret in the log.
    const all = JSON.stringify(logLines);
    assert.ok(!all.includes(rig.env.RELAY_OPERATOR_TOKEN!));
    assert.ok(!all.includes(rig.workspace.apiKey));
  });
});
