/**
 * Ingest requests the relay refuses (docs/api.md, Ingest), end to end against `startServer`:
 * an empty recording is never completed or delivered, a failed one-shot upload leaves nothing
 * behind, and a connection whose request body was refused part-way is closed rather than left
 * hanging. On the embedded database and on PostgreSQL.
 */
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { testOperatorToken } from "../helpers/app-deps.ts";
import { testBytes, testMp4 } from "../helpers/bytes.ts";
import { databaseKinds } from "../helpers/databases.ts";
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

const MiB = 1024 * 1024;
/** RELAY_MAX_RECORDING_BYTES of these tests. */
const LIMIT = MiB;

/** Polls `check` every 20 ms until it holds; fails after `ms` with `what`. */
async function until(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** One HTTP/1.1 exchange on a raw socket: what arrived, and whether the server closed it. */
class RawConnection {
  readonly socket: Socket;
  #received = Buffer.alloc(0);
  #ended = false;
  #waiters = new Set<() => void>();

  constructor(port: number) {
    this.socket = connect({ host: "127.0.0.1", port });
    this.socket.on("data", (chunk: Buffer) => {
      this.#received = Buffer.concat([this.#received, chunk]);
      this.#wake();
    });
    const ended = () => {
      this.#ended = true;
      this.#wake();
    };
    this.socket.on("end", ended);
    this.socket.on("close", ended);
    // A reset after the answer is one way of being closed; the test reads what arrived.
    this.socket.on("error", () => {});
  }

  #wake() {
    for (const wake of this.#waiters) wake();
  }

  async #until(what: string, done: () => boolean, ms: number): Promise<void> {
    if (done()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
      }, ms);
      const check = () => {
        if (!done()) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve();
      };
      this.#waiters.add(check);
    });
  }

  /** The next complete response (head and Content-Length body), consumed from what arrived. */
  async response(ms: number): Promise<{ status: number; head: string; body: string }> {
    let parsed: { status: number; head: string; body: string; length: number } | undefined;
    const complete = () => {
      const end = this.#received.indexOf("\r\n\r\n");
      if (end < 0) return false;
      const head = this.#received.subarray(0, end).toString("latin1");
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (this.#received.byteLength < end + 4 + length) return false;
      const body = this.#received.subarray(end + 4, end + 4 + length).toString("utf8");
      parsed = { status: Number(head.split(" ")[1]), head, body, length: end + 4 + length };
      return true;
    };
    await this.#until("a complete response", complete, ms);
    this.#received = this.#received.subarray(parsed!.length);
    return parsed!;
  }

  /** Resolves once the server has ended or closed the connection. */
  closed(ms: number): Promise<void> {
    return this.#until("the server to close the connection", () => this.#ended, ms);
  }
}

for (const kind of databaseKinds) {
  describe(`ingest refusals (${kind})`, () => {
    let rig: RigEnvironment;
    let relay: InProcessRelay;
    let receiver: WebhookReceiver;
    let conversationId: string;

    const recordingsOf = async (conversation: string) => {
      const read = await relay.call("GET", `/v2/conversations/${conversation}`);
      assert.equal(read.status, 200, JSON.stringify(read.body));
      return read.body.recordings as { recording_id: string; state: string }[];
    };
    const rowsOf = async (conversation: string) =>
      (
        await relay.server.db.query<{ id: string }>(
          "SELECT id FROM recordings WHERE conversation_id = $1",
          [conversation],
        )
      ).rows.map((row) => row.id);
    const staged = async () => {
      const ids = new Set<string>();
      for await (const id of relay.server.engine.staging.list()) ids.add(id);
      return ids;
    };
    const oneShot = (conversation: string, bytes: Uint8Array | AsyncIterable<Uint8Array>) =>
      relay.call("POST", `/v2/conversations/${conversation}/recordings`, {
        operator: true,
        bytes,
        headers: { "content-type": "video/mp4" },
      });

    before(async () => {
      receiver = await startWebhookReceiver();
      rig = await prepareRig(kind, { RELAY_MAX_RECORDING_BYTES: String(LIMIT) });
      relay = await startRigServer(rig);
      await connectReceiver(relay.call, receiver);
      conversationId = await createRecordedConversation(
        relay.call,
        receiver,
        rig.emulators.destinations.gcs,
      );
    });
    after(async () => {
      await relay?.close();
      await receiver?.close();
      await rig?.stop();
    });

    it("refuses to complete a recording of 0 bytes (RECORDING_EMPTY) and delivers nothing", async () => {
      const conversation = await createRecordedConversation(
        relay.call,
        receiver,
        rig.emulators.destinations.gcs,
      );
      const started = await relay.call("POST", `/v2/conversations/${conversation}/recordings`, {
        operator: true,
      });
      assert.equal(started.status, 201, JSON.stringify(started.body));
      const id = started.body.recording_id as string;
      const refused = await relay.call("POST", `/v2/recordings/${id}/complete`, {
        operator: true,
        json: {},
      });
      assert.equal(refused.status, 400, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, "RECORDING_EMPTY");
      assert.match(refused.body.error.message, /no bytes/);
      assert.equal(refused.headers.get("upload-offset"), "0");
      const read = await relay.call("GET", `/v2/recordings/${id}`);
      assert.equal(read.body.state, "receiving");
      assert.equal(read.body.delivery, null);
      const { rows } = await relay.server.db.query(
        "SELECT 1 FROM deliveries WHERE recording_id = $1",
        [id],
      );
      assert.equal(rows.length, 0);
      // The producer can still send the bytes and complete.
      const bytes = testMp4(1000, 2_000);
      const appended = await relay.call("PATCH", `/v2/recordings/${id}`, {
        operator: true,
        bytes,
        headers: { "upload-offset": "0" },
      });
      assert.equal(appended.status, 204, JSON.stringify(appended.body));
      const done = await relay.call("POST", `/v2/recordings/${id}/complete`, {
        operator: true,
        json: { size_bytes: bytes.length },
      });
      assert.equal(done.status, 202, JSON.stringify(done.body));
    });

    it("refuses an empty one-shot upload (RECORDING_EMPTY), leaving no recording", async () => {
      const conversation = await createRecordedConversation(
        relay.call,
        receiver,
        rig.emulators.destinations.gcs,
      );
      const refused = await oneShot(conversation, new Uint8Array(0));
      assert.equal(refused.status, 400, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, "RECORDING_EMPTY");
      assert.deepEqual(await recordingsOf(conversation), []);
      assert.deepEqual(await rowsOf(conversation), []);
    });

    it("a one-shot upload refused for its size (413) leaves no recording and nothing staged", async () => {
      const conversation = await createRecordedConversation(
        relay.call,
        receiver,
        rig.emulators.destinations.gcs,
      );
      const stagedBefore = await staged();
      const refused = await oneShot(conversation, testBytes(LIMIT + 1, 2));
      assert.equal(refused.status, 413, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, "PAYLOAD_TOO_LARGE");
      assert.deepEqual(await recordingsOf(conversation), []);
      assert.deepEqual(await rowsOf(conversation), []);
      assert.deepEqual(await staged(), stagedBefore);
    });

    it("a one-shot upload whose connection is cut leaves nothing; a retry makes exactly one recording", async () => {
      const conversation = await createRecordedConversation(
        relay.call,
        receiver,
        rig.emulators.destinations.gcs,
      );
      const stagedBefore = await staged();
      const controller = new AbortController();
      const bytes = testMp4(LIMIT / 2, 4_000);
      // The producer sends part of the body, and its connection drops once the relay has
      // started the recording (it is visible as receiving meanwhile).
      const body = async function* () {
        yield bytes.subarray(0, 64 * 1024);
        await until("the one-shot recording is started", async () => {
          return (await rowsOf(conversation)).length === 1;
        });
        controller.abort(new Error("connection cut"));
        yield bytes.subarray(64 * 1024);
      };
      await assert.rejects(
        relay.call("POST", `/v2/conversations/${conversation}/recordings`, {
          operator: true,
          bytes: body(),
          headers: { "content-type": "video/mp4" },
          signal: controller.signal,
        }),
      );
      await until("the cut one-shot leaves no recording", async () => {
        return (await rowsOf(conversation)).length === 0;
      });
      assert.deepEqual(await recordingsOf(conversation), []);
      await until("the cut one-shot leaves nothing staged", async () => {
        const now = await staged();
        return [...now].every((id) => stagedBefore.has(id));
      });
      const retried = await oneShot(conversation, bytes);
      assert.equal(retried.status, 202, JSON.stringify(retried.body));
      const listed = await recordingsOf(conversation);
      assert.deepEqual(
        listed.map((r) => r.recording_id),
        [retried.body.recording_id],
      );
    });

    it("closes a keep-alive connection whose body was refused part-way (413)", async () => {
      const started = await relay.call("POST", `/v2/conversations/${conversationId}/recordings`, {
        operator: true,
      });
      assert.equal(started.status, 201, JSON.stringify(started.body));
      const id = started.body.recording_id as string;
      const port = Number(new URL(relay.server.url).port);
      const connection = new RawConnection(port);
      const declared = 4 * LIMIT;
      connection.socket.write(
        [
          `PATCH /v2/recordings/${id} HTTP/1.1`,
          `Host: 127.0.0.1:${port}`,
          `Authorization: Bearer ${testOperatorToken}`,
          "Content-Type: application/offset+octet-stream",
          "Upload-Offset: 0",
          `Content-Length: ${declared}`,
          "Connection: keep-alive",
          "",
          "",
        ].join("\r\n"),
      );
      // More than the limit, less than declared: the producer is still sending when refused.
      connection.socket.write(testBytes(LIMIT + 64 * 1024, 5));
      const refused = await connection.response(10_000);
      assert.equal(refused.status, 413, refused.head);
      assert.match(refused.body, /PAYLOAD_TOO_LARGE/);
      assert.match(refused.head, /\r\nconnection: close/i);
      await connection.closed(2_000);
      connection.socket.destroy();
      // The recording kept nothing of the refused append, and still takes appends.
      const read = await relay.call("GET", `/v2/recordings/${id}`);
      assert.equal(read.body.bytes_received, 0);
    });

    it("shutdown does not wait for a connection left with a refused body", async () => {
      const started = await relay.call("POST", `/v2/conversations/${conversationId}/recordings`, {
        operator: true,
      });
      const id = started.body.recording_id as string;
      const port = Number(new URL(relay.server.url).port);
      const connection = new RawConnection(port);
      connection.socket.write(
        [
          `PATCH /v2/recordings/${id} HTTP/1.1`,
          `Host: 127.0.0.1:${port}`,
          `Authorization: Bearer ${testOperatorToken}`,
          "Content-Type: application/offset+octet-stream",
          "Upload-Offset: 0",
          `Content-Length: ${4 * LIMIT}`,
          "",
          "",
        ].join("\r\n"),
      );
      connection.socket.write(testBytes(LIMIT + 64 * 1024, 6));
      assert.equal((await connection.response(10_000)).status, 413);
      // The socket stays open on this side; the relay must still stop promptly.
      const closing = Date.now();
      await relay.close();
      const tookMs = Date.now() - closing;
      connection.socket.destroy();
      assert.ok(tookMs < 3_000, `shutdown took ${tookMs} ms`);
      relay = await startRigServer(rig);
    });
  });
}
