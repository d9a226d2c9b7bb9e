/**
 * Signed webhooks end to end: a real receiver on loopback verifies every event with the
 * `standardwebhooks` library; the retry schedule is walked with an injected clock; the SSRF guard
 * refuses internal targets at save time and at send time; the event log and resend work per
 * workspace.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { Webhook } from "standardwebhooks";
import { createConversation } from "../../src/conversations/index.ts";
import { parseAllowedNetworks, parseAllowedPorts } from "../../src/domain/index.ts";
import {
  createWebhookSender,
  enqueueEvent,
  RETRY_SCHEDULE_MS,
  type ResolveAll,
  recordingCopyFailedProperties,
  recordingReadyProperties,
  type WebhookSender,
} from "../../src/webhooks/index.ts";
import { databaseKinds } from "../helpers/databases.ts";
import { startTestRelay, type TestRelay } from "../helpers/relay-api.ts";

/** A clock the test moves; it starts at the real time so receivers' timestamp checks pass. */
function testClock() {
  let now = Date.now();
  return {
    now: () => now,
    set: (ms: number) => {
      now = ms;
    },
    advance: (ms: number) => {
      now += ms;
    },
  };
}

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  atMs: number;
}

/**
 * A real HTTP receiver answering each request with the next planned reply; on 127.0.0.1 and any
 * free port unless told (a second one on 127.0.0.2 at the same port stands for an internal host).
 */
async function startReceiver(clock: { now(): number }, at: { host?: string; port?: number } = {}) {
  const received: Received[] = [];
  let plan: (n: number) => { status: number; body?: string; headers?: Record<string, string> } =
    () => ({ status: 204 });
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      received.push({
        headers: request.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        atMs: clock.now(),
      });
      const reply = plan(received.length);
      response.writeHead(reply.status, reply.headers ?? {});
      response.end(reply.body ?? "");
    });
  });
  const host = at.host ?? "127.0.0.1";
  await new Promise<void>((resolve) => server.listen(at.port ?? 0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://${host}:${port}/hooks`,
    received,
    reply(next: typeof plan) {
      plan = next;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The space-separated signatures of a request. */
const signaturesOf = (request: Received) => String(request.headers["webhook-signature"]).split(" ");

const gcs = {
  provider: "gcs" as const,
  bucket_name: "acme-recs",
  project_number: "123456789012",
  workload_identity_pool_id: "relay-pool",
  workload_identity_provider_id: "relay",
  service_account_email: "writer@acme-prod.iam.gserviceaccount.com",
};

for (const kind of databaseKinds) {
  describe(`signed webhooks (${kind})`, () => {
    const clock = testClock();
    const masterKey = crypto.getRandomValues(new Uint8Array(32));
    const loopbackOnly = parseAllowedNetworks("127.0.0.1/32");
    // The receiver listens on an ephemeral port.
    const anyPort = parseAllowedPorts("*");
    // Test names resolve here instead of system DNS; anything else does not exist.
    const names: Record<string, string> = {
      "hooks.example.test": "127.0.0.1",
      "internal.example.test": "10.0.0.1",
      "metadata.example.test": "169.254.169.254",
    };
    // Names whose answer is several addresses, or changes between lookups (set by a test).
    const answers: Record<string, () => string[]> = {};
    const lookups: string[] = [];
    const resolveAll: ResolveAll = async (hostname) => {
      lookups.push(hostname);
      const addresses = answers[hostname]?.() ?? (names[hostname] ? [names[hostname]] : []);
      if (addresses.length === 0)
        throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
      return addresses.map((address) => ({ address, family: 4 }));
    };
    let relay: TestRelay;
    let receiver: Awaited<ReturnType<typeof startReceiver>>;
    let sender: WebhookSender;
    let guardedSender: WebhookSender;

    before(async () => {
      relay = await startTestRelay(kind, {
        clock,
        masterKey,
        allowHttpCallbacks: true,
        callbackAllowedNetworks: loopbackOnly,
        callbackAllowedPorts: anyPort,
        webhookSecretOverlapMs: 60_000,
      });
      receiver = await startReceiver(clock);
      const senderDeps = {
        db: relay.db,
        masterKey,
        clock,
        allowHttp: true,
        allowedPorts: anyPort,
        resolveAll,
        timeoutMs: 5_000,
        random: () => 0,
      };
      sender = createWebhookSender({ ...senderDeps, allowedNetworks: loopbackOnly });
      // The production default: no network allowed beyond the rules.
      guardedSender = createWebhookSender({
        ...senderDeps,
        allowedNetworks: parseAllowedNetworks(""),
      });
    });
    after(async () => {
      await sender.stop();
      await guardedSender.stop();
      await receiver.close();
      await relay.close();
    });

    /** A conversation (stored directly, so URLs the API would refuse can be tried at send time). */
    async function conversationWith(workspaceId: string, callbackUrl: string | null) {
      const conversation = await createConversation(relay.db, {
        workspaceId,
        properties: {},
        recordingStorage: { ...gcs, key_template: "tavus/{conversation_id}/{epoch_ms}" },
        callbackUrl,
      });
      const recordingId = randomUUID();
      const epochMs = clock.now();
      const key = `tavus/${conversation.id}/${epochMs}`;
      await relay.db.query(
        `INSERT INTO recordings (id, conversation_id, workspace_id, epoch_ms, key, storage_uri, state)
         VALUES ($1, $2, $3, $4, $5, $6, 'delivered')`,
        [recordingId, conversation.id, workspaceId, epochMs, key, `gs://acme-recs/${key}`],
      );
      return { conversationId: conversation.id, recordingId, epochMs, key };
    }

    async function readyEvent(workspaceId: string, callbackUrl: string | null = receiver.url) {
      const c = await conversationWith(workspaceId, callbackUrl);
      const result = await relay.db.transaction((tx) =>
        enqueueEvent(tx, {
          type: "application.recording_ready",
          workspaceId,
          conversationId: c.conversationId,
          recordingId: c.recordingId,
          nowMs: clock.now(),
          properties: recordingReadyProperties({
            destination: gcs,
            key: c.key,
            recordingId: c.recordingId,
            epochMs: c.epochMs,
            sizeBytes: 1234,
            sha256: "ab".repeat(32),
            durationSeconds: 12.5,
          }),
        }),
      );
      assert.equal(result.kind, "enqueued");
      return { ...c, eventId: (result as { eventId: string }).eventId };
    }

    it("delivers recording_ready in the envelope, verifiable with the workspace secret; tampering and stale timestamps fail", async () => {
      clock.set(Date.now());
      const { id: workspaceId, apiKey } = await relay.workspace();
      const rotated = await relay.call("POST", "/v2/webhook-secret/rotate", { apiKey });
      assert.equal(rotated.status, 201);
      assert.match(rotated.body.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
      assert.equal(rotated.body.previous_expires_at, null);
      const secret = rotated.body.secret as string;

      receiver.reply(() => ({ status: 200, body: "ok" }));
      const start = receiver.received.length;
      const event = await readyEvent(workspaceId);
      assert.equal(await sender.runOnce(), 1);
      const got = receiver.received.slice(start);
      assert.equal(got.length, 1);
      const [request] = got as [Received];
      assert.equal(request.headers["webhook-id"], event.eventId);
      assert.equal(request.headers["content-type"], "application/json");
      const verified = new Webhook(secret).verify(
        request.body,
        request.headers as Record<string, string>,
      );
      assert.deepEqual(verified, {
        event_type: "application.recording_ready",
        message_type: "application",
        conversation_id: event.conversationId,
        webhook_url: receiver.url,
        timestamp: new Date(clock.now()).toISOString(),
        properties: {
          storage_provider: "gcs",
          storage_uri: `gs://acme-recs/${event.key}`,
          bucket_name: "acme-recs",
          key: event.key,
          recording_id: event.recordingId,
          epoch_ms: event.epochMs,
          size_bytes: 1234,
          sha256: "ab".repeat(32),
          duration: 12.5,
        },
      });
      // The envelope's fields arrive in the documented order.
      assert.match(
        request.body,
        /^\{"event_type":.*"message_type":.*"conversation_id":.*"webhook_url":.*"timestamp":.*"properties":/,
      );

      const headers = request.headers as Record<string, string>;
      assert.throws(
        () => new Webhook(secret).verify(request.body.replace("1234", "1235"), headers),
        /No matching signature/,
      );
      assert.throws(
        () =>
          new Webhook(`whsec_${Buffer.alloc(32, 7).toString("base64")}`).verify(
            request.body,
            headers,
          ),
        /No matching signature/,
      );

      // A relay clock six minutes behind makes a timestamp every verifier rejects as stale.
      clock.advance(-6 * 60_000);
      let stale: Awaited<ReturnType<typeof readyEvent>>;
      try {
        stale = await readyEvent(workspaceId);
        assert.equal(await sender.runOnce(), 1);
      } finally {
        clock.advance(6 * 60_000);
      }
      const staleRequest = receiver.received.at(-1)!;
      assert.equal(staleRequest.headers["webhook-id"], stale.eventId);
      assert.throws(
        () =>
          new Webhook(secret).verify(
            staleRequest.body,
            staleRequest.headers as Record<string, string>,
          ),
        /timestamp too old/,
      );

      const log = await relay.call("GET", "/v2/events?limit=1", { apiKey });
      assert.equal(log.status, 200);
      // Newest first by creation time: the stale event was created six minutes "earlier".
      assert.equal(log.body.data[0].event_id, event.eventId);
      assert.equal(log.body.data[0].state, "delivered");
      assert.equal(log.body.data[0].attempts[0].status, 200);
      assert.equal(log.body.data[0].attempts[0].response_excerpt, "ok");
      assert.ok(log.body.next_cursor);
      const page2 = await relay.call("GET", `/v2/events?limit=1&cursor=${log.body.next_cursor}`, {
        apiKey,
      });
      assert.equal(page2.body.data[0].event_id, stale.eventId);
      assert.equal(page2.body.next_cursor, null);
    });

    it("signs with both secrets during a rotation's overlap, then with the new one only", async () => {
      clock.set(Date.now());
      const { id: workspaceId, apiKey } = await relay.workspace();
      receiver.reply(() => ({ status: 204 }));
      // No secret yet: the sender makes one (unseen), so events are signed all the same.
      await readyEvent(workspaceId);
      await sender.runOnce();
      assert.equal(signaturesOf(receiver.received.at(-1)!).length, 1);

      const first = (await relay.call("POST", "/v2/webhook-secret/rotate", { apiKey })).body;
      assert.ok(first.previous_expires_at, "the lazily made secret is now in its overlap");
      clock.advance(61_000);
      await readyEvent(workspaceId);
      await sender.runOnce();
      const beforeRotation = receiver.received.at(-1)!;
      assert.equal(signaturesOf(beforeRotation).length, 1);
      new Webhook(first.secret).verify(
        beforeRotation.body,
        beforeRotation.headers as Record<string, string>,
      );

      const second = await relay.call("POST", "/v2/webhook-secret/rotate", { apiKey });
      assert.equal(second.status, 201);
      assert.equal(second.body.previous_expires_at, new Date(clock.now() + 60_000).toISOString());
      const secrets = await relay.call("GET", "/v2/webhook-secret", { apiKey });
      assert.equal(secrets.body.data.length, 2);
      assert.equal(JSON.stringify(secrets.body).includes("whsec_"), false);

      await readyEvent(workspaceId);
      await sender.runOnce();
      const during = receiver.received.at(-1)!;
      const signatures = signaturesOf(during);
      assert.equal(signatures.length, 2);
      assert.ok(signatures.every((signature) => signature.startsWith("v1,")));
      for (const secret of [first.secret, second.body.secret]) {
        new Webhook(secret).verify(during.body, during.headers as Record<string, string>);
      }

      clock.advance(60_001);
      await readyEvent(workspaceId);
      await sender.runOnce();
      const afterOverlap = receiver.received.at(-1)!;
      assert.equal(signaturesOf(afterOverlap).length, 1);
      new Webhook(second.body.secret).verify(
        afterOverlap.body,
        afterOverlap.headers as Record<string, string>,
      );
      assert.throws(
        () =>
          new Webhook(first.secret).verify(
            afterOverlap.body,
            afterOverlap.headers as Record<string, string>,
          ),
        /No matching signature/,
      );
    });

    it("keeps at most the current and the previous secret signing, and rate-limits rotation", async () => {
      clock.set(Date.now());
      const { id: workspaceId, apiKey } = await relay.workspace();
      receiver.reply(() => ({ status: 204 }));
      const made: string[] = [];
      for (let i = 0; i < 5; i++) {
        const rotated = await relay.call("POST", "/v2/webhook-secret/rotate", { apiKey });
        assert.equal(rotated.status, 201);
        made.push(rotated.body.secret);
        clock.advance(1_000);
      }
      const listed = await relay.call("GET", "/v2/webhook-secret", { apiKey });
      assert.equal(listed.body.data.length, 2);
      await readyEvent(workspaceId);
      await sender.runOnce();
      const sent = receiver.received.at(-1)!;
      assert.equal(signaturesOf(sent).length, 2);
      for (const secret of made.slice(-2)) {
        new Webhook(secret).verify(sent.body, sent.headers as Record<string, string>);
      }
      assert.throws(
        () => new Webhook(made[2]!).verify(sent.body, sent.headers as Record<string, string>),
        /No matching signature/,
      );

      for (let i = 5; i < 10; i++) {
        assert.equal(
          (await relay.call("POST", "/v2/webhook-secret/rotate", { apiKey })).status,
          201,
        );
      }
      const refused = await relay.call("POST", "/v2/webhook-secret/rotate", { apiKey });
      assert.equal(refused.status, 429);
      assert.equal(refused.body.error.code, "RATE_LIMITED");
      const retryAfter = Number(refused.headers.get("retry-after"));
      assert.ok(retryAfter > 3_500 && retryAfter <= 3_600, `retry-after ${retryAfter}`);
      assert.equal((await relay.call("GET", "/v2/webhook-secret", { apiKey })).body.data.length, 2);
      clock.advance(retryAfter * 1000);
      assert.equal((await relay.call("POST", "/v2/webhook-secret/rotate", { apiKey })).status, 201);
    });

    it("retries a failing receiver exactly on the schedule with the same webhook-id, then delivers", async () => {
      const { id: workspaceId, apiKey } = await relay.workspace();
      const failures = 4;
      let calls = 0;
      receiver.reply(() => {
        calls++;
        // A huge error page: only a bounded excerpt is kept.
        return calls <= failures ? { status: 500, body: "x".repeat(200_000) } : { status: 200 };
      });
      const start = receiver.received.length;
      const t0 = clock.now();
      const event = await readyEvent(workspaceId);
      let due = t0;
      for (let attempt = 1; attempt <= failures + 1; attempt++) {
        due += RETRY_SCHEDULE_MS[attempt - 1]!;
        if (attempt > 1) {
          clock.set(due - 1);
          assert.equal(await sender.runOnce(), 0, `attempt ${attempt} is not due 1 ms early`);
        }
        clock.set(due);
        assert.equal(await sender.runOnce(), 1, `attempt ${attempt} is due on time`);
      }
      const got = receiver.received.slice(start);
      assert.deepEqual(
        got.map((request) => request.atMs - t0),
        [0, 5_000, 305_000, 2_105_000, 9_305_000],
      );
      assert.ok(got.every((request) => request.headers["webhook-id"] === event.eventId));

      const shown = await relay.call("GET", `/v2/events/${event.eventId}`, { apiKey });
      assert.equal(shown.status, 200);
      assert.equal(shown.body.state, "delivered");
      assert.equal(shown.body.attempt_count, 5);
      assert.deepEqual(
        shown.body.attempts.map((a: { status: number }) => a.status),
        [500, 500, 500, 500, 200],
      );
      assert.equal(shown.body.attempts[0].response_excerpt.length, 1024);
      assert.equal(shown.body.attempts[0].error, "the receiver answered 500");
      assert.equal(shown.body.last_error, null);
    });

    it("marks an event failed after the eighth attempt; resend tries once more now with the same id", async () => {
      const { id: workspaceId, apiKey } = await relay.workspace();
      receiver.reply(() => ({ status: 503 }));
      const start = receiver.received.length;
      const t0 = clock.now();
      const event = await readyEvent(workspaceId);
      for (const delay of RETRY_SCHEDULE_MS) {
        clock.advance(delay);
        assert.equal(await sender.runOnce(), 1);
      }
      clock.advance(48 * 3_600_000);
      assert.equal(await sender.runOnce(), 0, "nothing after the last attempt");
      const got = receiver.received.slice(start);
      assert.equal(got.length, 8);
      assert.equal(
        got.at(-1)!.atMs - t0,
        RETRY_SCHEDULE_MS.reduce((a, b) => a + b, 0),
      );
      let shown = await relay.call("GET", `/v2/events/${event.eventId}`, { apiKey });
      assert.equal(shown.body.state, "failed");
      assert.equal(shown.body.last_error, "the receiver answered 503");

      receiver.reply(() => ({ status: 200 }));
      const resent = await relay.call("POST", `/v2/events/${event.eventId}/resend`, { apiKey });
      assert.equal(resent.status, 202);
      assert.equal(resent.body.state, "pending");
      assert.equal(await sender.runOnce(), 1);
      assert.equal(receiver.received.at(-1)!.headers["webhook-id"], event.eventId);
      shown = await relay.call("GET", `/v2/events/${event.eventId}`, { apiKey });
      assert.equal(shown.body.state, "delivered");
      assert.equal(shown.body.attempts.length, 9);

      // Another workspace sees none of it.
      const other = await relay.workspace("Other");
      assert.equal(
        (await relay.call("GET", `/v2/events/${event.eventId}`, { apiKey: other.apiKey })).status,
        404,
      );
      assert.equal(
        (await relay.call("POST", `/v2/events/${event.eventId}/resend`, { apiKey: other.apiKey }))
          .status,
        404,
      );
      assert.deepEqual(
        (await relay.call("GET", "/v2/events", { apiKey: other.apiKey })).body.data,
        [],
      );
    });

    it("enqueues idempotently: one recording_ready per recording, copy_failed once per dedupe key, nothing without a callback", async () => {
      const { id: workspaceId } = await relay.workspace();
      const c = await conversationWith(workspaceId, receiver.url);
      const ready = (nowMs: number) =>
        relay.db.transaction((tx) =>
          enqueueEvent(tx, {
            type: "application.recording_ready",
            workspaceId,
            conversationId: c.conversationId,
            recordingId: c.recordingId,
            nowMs,
            properties: recordingReadyProperties({
              destination: gcs,
              key: c.key,
              recordingId: c.recordingId,
              epochMs: c.epochMs,
              sizeBytes: 1,
              sha256: "00".repeat(32),
            }),
          }),
        );
      const first = await ready(clock.now());
      const again = await ready(clock.now() + 1000);
      assert.equal(first.kind, "enqueued");
      assert.deepEqual(again, {
        kind: "duplicate",
        eventId: (first as { eventId: string }).eventId,
      });

      const failed = (dedupeKey: string) =>
        relay.db.transaction((tx) =>
          enqueueEvent(tx, {
            type: "application.recording_copy_failed",
            workspaceId,
            conversationId: c.conversationId,
            recordingId: c.recordingId,
            nowMs: clock.now(),
            dedupeKey,
            properties: recordingCopyFailedProperties({
              provider: "gcs",
              errorCode: "DESTINATION_AUTH_FAILED",
              errorMessage:
                "GCP STS refused the token (invalid_grant): check the provider's issuer URI",
              recordingId: c.recordingId,
              epochMs: c.epochMs,
              key: c.key,
              attempts: 7,
              retainedUntil: new Date(clock.now() + 30 * 86_400_000),
            }),
          }),
        );
      const f1 = await failed("delivery-1");
      assert.equal(f1.kind, "enqueued");
      assert.equal((await failed("delivery-1")).kind, "duplicate");
      assert.equal((await failed("delivery-2")).kind, "enqueued");
      // A rolled-back transaction leaves no event behind.
      await assert.rejects(
        relay.db.transaction(async (tx) => {
          await enqueueEvent(tx, {
            type: "application.recording_copy_failed",
            workspaceId,
            conversationId: c.conversationId,
            recordingId: c.recordingId,
            nowMs: clock.now(),
            dedupeKey: "delivery-3",
            properties: recordingCopyFailedProperties({
              provider: "gcs",
              errorCode: "DESTINATION_UNAVAILABLE",
              errorMessage: "x",
              recordingId: c.recordingId,
              epochMs: c.epochMs,
              key: c.key,
              attempts: 1,
              retainedUntil: new Date(clock.now()),
            }),
          });
          throw new Error("delivery engine failed after enqueueing");
        }),
      );
      const { rows } = await relay.db.query<{
        event_type: string;
        payload: { properties: Record<string, unknown> };
      }>("SELECT event_type, payload FROM events WHERE recording_id = $1 ORDER BY event_type", [
        c.recordingId,
      ]);
      assert.deepEqual(
        rows.map((row) => row.event_type),
        [
          "application.recording_copy_failed",
          "application.recording_copy_failed",
          "application.recording_ready",
        ],
      );
      assert.deepEqual(Object.keys(rows[0]!.payload.properties).sort(), [
        "attempts",
        "epoch_ms",
        "error_code",
        "error_message",
        "key",
        "recording_id",
        "retained_until",
        "storage_provider",
      ]);

      const silent = await conversationWith(workspaceId, null);
      const none = await relay.db.transaction((tx) =>
        enqueueEvent(tx, {
          type: "application.recording_ready",
          workspaceId,
          conversationId: silent.conversationId,
          recordingId: silent.recordingId,
          nowMs: clock.now(),
          properties: recordingReadyProperties({
            destination: { ...gcs, provider: "gcs" },
            key: silent.key,
            recordingId: silent.recordingId,
            epochMs: silent.epochMs,
            sizeBytes: 1,
            sha256: "00".repeat(32),
          }),
        }),
      );
      assert.deepEqual(none, { kind: "no_callback_url" });
      // Drain what this test enqueued so later tests count only their own.
      receiver.reply(() => ({ status: 204 }));
      await sender.runOnce();
    });

    it("refuses internal callback URLs when they are saved, with a clear message", async () => {
      const { apiKey } = await relay.workspace();
      const refused: Record<string, RegExp> = {
        "https://10.0.0.1/hooks": /10\.0\.0\.1: it is a private address/,
        "https://169.254.169.254/latest/meta-data/":
          /169\.254\.169\.254: it is a cloud metadata address/,
        "https://[::1]/hooks": /::1: it is a loopback address/,
        "https://127.0.0.2/hooks": /127\.0\.0\.2: it is a loopback address/,
        "https://metadata.google.internal/": /internal host name/,
        "https://[64:ff9b::a9fe:a9fe]/": /NAT64 form of 169\.254\.169\.254, a cloud metadata/,
        "https://[2002:7f00:1::]/hooks": /6to4 form of 127\.0\.0\.1, a loopback address/,
        "https://[::127.0.0.1]/hooks": /IPv4-compatible/,
        "https://[fec0::1]/hooks": /site-local/,
        "https://203.0.113.7/hooks": /documentation \(TEST-NET\)/,
        "https://metadata/computeMetadata/v1/": /single-label name/,
        "https://metadata.goog/": /internal host name/,
        "https://kubernetes.default.svc/": /internal host name/,
      };
      for (const [url, message] of Object.entries(refused)) {
        const answer = await relay.call("POST", "/v2/conversations", {
          apiKey,
          body: { properties: { callback_url: url } },
        });
        assert.equal(answer.status, 400, url);
        assert.equal(answer.body.error.code, "VALIDATION_FAILED");
        assert.equal(answer.body.error.field, "properties.callback_url");
        assert.match(answer.body.error.message, message, url);
        assert.match(answer.body.error.message, /callbacks must reach a public address/);
      }
      // The operator allowed 127.0.0.1/32 for this relay, and nothing else.
      const allowed = await relay.call("POST", "/v2/conversations", {
        apiKey,
        body: { properties: { callback_url: receiver.url } },
      });
      assert.equal(allowed.status, 201);
    });

    it("refuses internal targets at send time: literals, names resolving inside, redirects, and loopback without the setting", async () => {
      const { id: workspaceId, apiKey } = await relay.workspace();
      const start = receiver.received.length;
      const attempt = async (callbackUrl: string, which: WebhookSender = sender) => {
        const event = await readyEvent(workspaceId, callbackUrl);
        assert.equal(await which.runOnce(), 1);
        const shown = await relay.call("GET", `/v2/events/${event.eventId}`, { apiKey });
        return shown.body.attempts[0] as { status: number | null; error: string };
      };
      const port = receiver.port;

      const cases: [string, RegExp, WebhookSender?][] = [
        [`http://10.0.0.1:${port}/`, /10\.0\.0\.1: it is a private address/],
        [`http://169.254.169.254/latest/meta-data/`, /a cloud metadata address/],
        [`http://[::1]:${port}/`, /::1: it is a loopback address/],
        [`http://[::ffff:127.0.0.1]:${port}/`, /a loopback address/, guardedSender],
        [
          `http://internal.example.test:${port}/`,
          /internal\.example\.test: it resolves only to refused addresses: 10\.0\.0\.1 \(a private address\)/,
        ],
        [`http://metadata.example.test/`, /169\.254\.169\.254 \(a cloud metadata address\)/],
        // Without RELAY_WEBHOOK_ALLOWED_NETWORKS, loopback is refused: by literal, by name, by resolution.
        [receiver.url, /127\.0\.0\.1: it is a loopback address/, guardedSender],
        [`http://localhost:${port}/hooks`, /localhost: it is an internal host name/, guardedSender],
        [
          `http://hooks.example.test:${port}/hooks`,
          /resolves only to refused addresses: 127\.0\.0\.1 \(a loopback address\)/,
          guardedSender,
        ],
        [
          `https://hooks.example.test:${port}/hooks`,
          /resolves only to refused addresses/,
          guardedSender,
        ],
      ];
      for (const [url, message, which] of cases) {
        const result = await attempt(url, which);
        assert.equal(result.status, null, url);
        assert.match(result.error, message, url);
      }
      assert.equal(receiver.received.length, start, "no refused attempt reached the receiver");

      // The same name, with the network allowed, does reach it: the refusals above were the guard.
      receiver.reply(() => ({ status: 204 }));
      const viaName = await attempt(`http://hooks.example.test:${port}/hooks`);
      assert.equal(viaName.status, 204);
      assert.equal(receiver.received.length, start + 1);

      // A redirect (here to a private address) is a failed attempt, never followed.
      receiver.reply(() => ({ status: 302, headers: { location: "http://10.0.0.1/steal" } }));
      const redirected = await attempt(receiver.url);
      assert.equal(redirected.status, 302);
      assert.match(redirected.error, /redirects are not followed/);
      assert.equal(receiver.received.length, start + 2);
    });

    /**
     * The relay admits 127.0.0.1/32 (the receiver, standing for a public host) and nothing else of
     * loopback: a second receiver on 127.0.0.2, at the same port, stands for an internal host.
     * Each reply closes its connection, so every send looks the name up again.
     */
    async function withInternalHost(
      run: (tools: {
        internal: Awaited<ReturnType<typeof startReceiver>>;
        send: (callbackUrl: string) => Promise<{ status: number | null; error: string | null }>;
        apiKey: string;
      }) => Promise<void>,
    ) {
      const { id: workspaceId, apiKey } = await relay.workspace();
      const internal = await startReceiver(clock, { host: "127.0.0.2", port: receiver.port });
      receiver.reply(() => ({ status: 204, headers: { connection: "close" } }));
      const send = async (callbackUrl: string) => {
        const event = await readyEvent(workspaceId, callbackUrl);
        assert.equal(await sender.runOnce(), 1);
        const shown = await relay.call("GET", `/v2/events/${event.eventId}`, { apiKey });
        return shown.body.attempts[0] as { status: number | null; error: string | null };
      };
      try {
        await run({ internal, send, apiKey });
      } finally {
        receiver.reply(() => ({ status: 204 }));
        await internal.close();
      }
    }

    it("a name answering an internal and a public address together: only the public one is dialled", async () => {
      await withInternalHost(async ({ internal, send }) => {
        const start = receiver.received.length;
        // The internal address first, where a plain connect would try it first.
        answers["mixed.example.test"] = () => ["127.0.0.2", "127.0.0.1"];
        const mixed = await send(`http://mixed.example.test:${receiver.port}/hooks`);
        assert.deepEqual(
          internal.received,
          [],
          "the internal address of a mixed answer was dialled",
        );
        assert.equal(mixed.status, 204, "the admitted address of the answer got the event");
        assert.equal(receiver.received.length, start + 1);
        // With only refused addresses left after the filter, nothing is dialled at all.
        answers["mixed-internal.example.test"] = () => ["127.0.0.2", "10.0.0.1"];
        const refused = await send(`http://mixed-internal.example.test:${receiver.port}/hooks`);
        assert.equal(refused.status, null);
        assert.match(
          refused.error ?? "",
          /resolves only to refused addresses: 127\.0\.0\.2 \(a loopback address\), 10\.0\.0\.1 \(a private address\)/,
        );
        assert.deepEqual(internal.received, []);
        assert.equal(receiver.received.length, start + 1);
      });
    });

    it("a name rebound to an internal address after it was saved is refused at connect time", async () => {
      await withInternalHost(async ({ internal, send, apiKey }) => {
        const start = receiver.received.length;
        // Public when the callback URL is saved (the API accepts it) and for a first event; then
        // the same name answers the internal address.
        let rebound = false;
        answers["rebind.example.test"] = () => [rebound ? "127.0.0.2" : "127.0.0.1"];
        const url = `http://rebind.example.test:${receiver.port}/hooks`;
        const saved = await relay.call("POST", "/v2/conversations", {
          apiKey,
          body: { properties: { callback_url: url } },
        });
        assert.equal(saved.status, 201, JSON.stringify(saved.body));
        const first = await send(url);
        assert.equal(first.status, 204);
        assert.equal(receiver.received.length, start + 1);
        rebound = true;
        const lookupsBefore = lookups.filter((name) => name === "rebind.example.test").length;
        const second = await send(url);
        assert.equal(
          lookups.filter((name) => name === "rebind.example.test").length,
          lookupsBefore + 1,
          "looked up again at send time",
        );
        assert.deepEqual(internal.received, [], "the rebound internal address was dialled");
        assert.equal(second.status, null);
        assert.match(
          second.error ?? "",
          /rebind\.example\.test: it resolves only to refused addresses: 127\.0\.0\.2 \(a loopback address\)/,
        );
        assert.equal(receiver.received.length, start + 1);
      });
    });
  });
}

describe("signed webhooks: https only unless the operator allows http", () => {
  it("refuses an http callback at save time and at send time", async () => {
    const relay = await startTestRelay("embedded");
    const clock = testClock();
    const sender = createWebhookSender({
      db: relay.db,
      masterKey: crypto.getRandomValues(new Uint8Array(32)),
      clock,
      allowHttp: false,
      allowedNetworks: parseAllowedNetworks("127.0.0.1/32"),
      allowedPorts: parseAllowedPorts("*"),
      timeoutMs: 2_000,
    });
    try {
      const { id: workspaceId, apiKey } = await relay.workspace();
      const saved = await relay.call("POST", "/v2/conversations", {
        apiKey,
        body: { properties: { callback_url: "http://hooks.example.com/x" } },
      });
      assert.equal(saved.status, 400);
      assert.match(saved.body.error.message, /must be an https:\/\/ URL/);
      const conversation = await createConversation(relay.db, {
        workspaceId,
        properties: {},
        recordingStorage: null,
        callbackUrl: "http://127.0.0.1:9/x",
      });
      const recordingId = randomUUID();
      await relay.db.query(
        `INSERT INTO recordings (id, conversation_id, workspace_id, epoch_ms, key, storage_uri, state)
         VALUES ($1, $2, $3, 1, 'k', 'gs://b/k', 'failed')`,
        [recordingId, conversation.id, workspaceId],
      );
      await relay.db.transaction((tx) =>
        enqueueEvent(tx, {
          type: "application.recording_copy_failed",
          workspaceId,
          conversationId: conversation.id,
          recordingId,
          nowMs: clock.now(),
          dedupeKey: "d",
          properties: recordingCopyFailedProperties({
            provider: "gcs",
            errorCode: "DESTINATION_NOT_FOUND",
            errorMessage: "bucket b does not exist",
            recordingId,
            epochMs: 1,
            key: "k",
            attempts: 3,
            retainedUntil: new Date(clock.now()),
          }),
        }),
      );
      assert.equal(await sender.runOnce(), 1);
      const log = await relay.call("GET", "/v2/events", { apiKey });
      assert.match(log.body.data[0].attempts[0].error, /must be https:\/\/ \(it is http:\/\/\)/);
    } finally {
      await sender.stop();
      await relay.close();
    }
  });
});

describe("signed webhooks: a receiver that does not answer in time", () => {
  it("ends the attempt at the timeout and schedules the next one", async () => {
    const relay = await startTestRelay("embedded", { allowHttpCallbacks: true });
    const clock = testClock();
    const hanging = createServer(() => {
      // Never answers.
    });
    await new Promise<void>((resolve) => hanging.listen(0, "127.0.0.1", resolve));
    const { port } = hanging.address() as AddressInfo;
    const sender = createWebhookSender({
      db: relay.db,
      masterKey: crypto.getRandomValues(new Uint8Array(32)),
      clock,
      allowHttp: true,
      allowedNetworks: parseAllowedNetworks("127.0.0.1/32"),
      allowedPorts: parseAllowedPorts("*"),
      timeoutMs: 300,
      random: () => 0,
    });
    try {
      const { id: workspaceId, apiKey } = await relay.workspace();
      const conversation = await createConversation(relay.db, {
        workspaceId,
        properties: {},
        recordingStorage: null,
        callbackUrl: `http://127.0.0.1:${port}/slow`,
      });
      const recordingId = randomUUID();
      await relay.db.query(
        `INSERT INTO recordings (id, conversation_id, workspace_id, epoch_ms, key, storage_uri, state)
         VALUES ($1, $2, $3, 1, 'k', 'gs://b/k', 'delivered')`,
        [recordingId, conversation.id, workspaceId],
      );
      await relay.db.transaction((tx) =>
        enqueueEvent(tx, {
          type: "application.recording_ready",
          workspaceId,
          conversationId: conversation.id,
          recordingId,
          nowMs: clock.now(),
          properties: recordingReadyProperties({
            destination: gcs,
            key: "k",
            recordingId,
            epochMs: 1,
            sizeBytes: 1,
            sha256: "00".repeat(32),
          }),
        }),
      );
      // The attempt ends (runOnce resolves) although the receiver never answers; how fast is
      // measured in bench/, not asserted here (docs/performance.md).
      assert.equal(await sender.runOnce(), 1);
      const event = (await relay.call("GET", "/v2/events", { apiKey })).body.data[0];
      assert.equal(event.state, "pending");
      assert.equal(event.attempts[0].status, null);
      assert.match(event.attempts[0].error, /no answer within the webhook timeout|Timeout/);
      assert.equal(event.next_attempt_at, new Date(clock.now() + 5_000).toISOString());
    } finally {
      await sender.stop();
      hanging.closeAllConnections();
      await new Promise<void>((resolve) => hanging.close(() => resolve()));
      await relay.close();
    }
  });
});
