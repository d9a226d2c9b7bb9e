/**
 * tus 1.0.0 on ingest (docs/api.md, "tus"), driven by the off-the-shelf tus-js-client against a
 * relay child process (the real executable) configured like production, on the embedded
 * database: a deferred-length upload in chunks, a connection cut mid-PATCH, the relay SIGKILLed
 * and restarted mid-upload, a checksum mismatch, termination. Each upload that finishes lands
 * byte-identical at its destination with exactly one `recording_ready`.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { type HttpRequest, Upload, type UploadOptions } from "tus-js-client";
import { createRelayClient, type Recording } from "../../src/client/index.ts";
import { testOperatorToken } from "../helpers/app-deps.ts";
import { sha256Hex, testBytes } from "../helpers/bytes.ts";
import {
  connectReceiver,
  createRecordedConversation,
  prepareRig,
  type RigEnvironment,
  relayClient,
  startWebhookReceiver,
  type WebhookReceiver,
  waitUntil,
} from "../helpers/delivery-rig.ts";
import { killAllRelays, startRelay } from "../helpers/relay-process.ts";

const MiB = 1024 * 1024;
type Provider = "s3" | "gcs" | "azure_blob";
const operatorHeaders = { authorization: `Bearer ${testOperatorToken}` };
const b64 = (text: string) => Buffer.from(text).toString("base64");

/** A TCP proxy to `port` that, when armed, cuts the connection after `bytes` more request bytes. */
async function cuttingProxy(port: number) {
  let cutAfter: number | undefined;
  let cuts = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(port, "127.0.0.1");
    sockets.add(client).add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    upstream.pipe(client);
    client.on("data", (chunk: Buffer) => {
      if (cutAfter !== undefined) {
        cutAfter -= chunk.length;
        if (cutAfter <= 0) {
          cutAfter = undefined;
          cuts++;
          end();
          return;
        }
      }
      upstream.write(chunk);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    arm(bytes: number) {
      cutAfter = bytes;
    },
    cuts: () => cuts,
    close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

describe("tus 1.0.0 on ingest, with tus-js-client", () => {
  let rig: RigEnvironment;
  let receiver: WebhookReceiver;
  let relay: Awaited<ReturnType<typeof startRelay>>;
  let base: string;
  const conversations = {} as Record<Provider, string>;

  const startChild = async () => {
    relay = await startRelay(["--port", String(rig.port)], {
      ...rig.env,
      // A killed relay's append lease lapses quickly, so the resumed PATCH is not refused long.
      RELAY_DELIVERY_LEASE_SECONDS: "5",
    });
    base = relay.url;
  };

  const call = (
    method: string,
    path: string,
    options: Parameters<ReturnType<typeof relayClient>>[2] = {},
  ) => relayClient(base, rig.workspace.apiKey)(method, path, options);

  const readyFor = (id: string) =>
    receiver.events.filter(
      (e) =>
        e.body.event_type === "application.recording_ready" &&
        e.body.properties.recording_id === id,
    );

  /** Uploads with tus-js-client; resolves with the upload URL once it succeeded. */
  const tusUpload = (
    input: Buffer | Readable,
    conversationId: string,
    options: Partial<UploadOptions> & { endpoint?: string } = {},
  ) =>
    new Promise<string>((resolve, reject) => {
      const upload: Upload = new Upload(input, {
        endpoint: `${base}/v2/tus`,
        headers: operatorHeaders,
        metadata: { conversation_id: conversationId, filename: "call.mp4" },
        chunkSize: 4 * MiB,
        retryDelays: Array.from({ length: 120 }, () => 500),
        ...options,
        onSuccess: () => resolve(upload.url!),
        onError: reject,
      });
      upload.start();
    });

  /** The typed client (`recording-relay/client`) reads recordings as the operator. */
  const readRecording = (id: string) =>
    createRelayClient({ baseUrl: base, operatorToken: testOperatorToken }).GET(
      "/v2/recordings/{recording_id}",
      { params: { path: { recording_id: id } } },
    );

  const recordingIdOf = (url: string) => new URL(url).pathname.split("/").at(-1)!;

  /** The recording was delivered byte-identical, and announced exactly once. */
  const assertLanded = async (provider: Provider, id: string, bytes: Buffer) => {
    let recording: Recording | undefined;
    await waitUntil(async () => {
      recording = (await readRecording(id)).data;
      return recording?.state === "delivered" || JSON.stringify(recording);
    }, `recording ${id} delivered`);
    if (!recording) throw new Error("unreachable");
    assert.equal(recording.bytes_received, bytes.length);
    assert.equal(recording.sha256, sha256Hex(bytes));
    assert.deepEqual(await rig.emulators.storedDigest(provider, recording.key), {
      size: bytes.length,
      sha256: sha256Hex(bytes),
    });
    await waitUntil(() => readyFor(id).length > 0, `recording_ready for ${id}`);
    // A second event would be sent at once (the outbox is polled); give it the chance to show.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal(readyFor(id).length, 1);
  };

  before(async () => {
    receiver = await startWebhookReceiver();
    rig = await prepareRig("embedded");
    await startChild();
    await connectReceiver(call, receiver);
    for (const provider of ["s3", "gcs", "azure_blob"] as const) {
      conversations[provider] = await createRecordedConversation(
        call,
        receiver,
        rig.emulators.destinations[provider],
      );
    }
  });
  after(async () => {
    killAllRelays();
    await receiver?.close();
    await rig?.stop();
  });

  it("OPTIONS tells the version, extensions, maximum size and checksum algorithms", async () => {
    const answer = await fetch(`${base}/v2/tus`, { method: "OPTIONS" });
    assert.equal(answer.status, 204);
    assert.equal(answer.headers.get("tus-resumable"), "1.0.0");
    assert.equal(answer.headers.get("tus-version"), "1.0.0");
    assert.deepEqual(answer.headers.get("tus-extension")?.split(","), [
      "creation",
      "creation-with-upload",
      "creation-defer-length",
      "checksum",
      "termination",
      "expiration",
    ]);
    assert.match(answer.headers.get("tus-max-size") ?? "", /^\d+$/);
    assert.equal(answer.headers.get("tus-checksum-algorithm"), "sha1,sha256");
    const wrongVersion = await fetch(`${base}/v2/tus`, {
      method: "POST",
      headers: { ...operatorHeaders, "tus-resumable": "0.2.2", "upload-defer-length": "1" },
    });
    assert.equal(wrongVersion.status, 412);
    assert.equal(wrongVersion.headers.get("tus-version"), "1.0.0");
    assert.equal(wrongVersion.headers.get("tus-resumable"), "1.0.0");
    const anonymous = await fetch(`${base}/v2/tus`, {
      method: "POST",
      headers: { "tus-resumable": "1.0.0", "upload-defer-length": "1" },
    });
    assert.equal(anonymous.status, 401);
  });

  it("takes a deferred-length upload of 50 MB in chunks from a stream and delivers it", async () => {
    const bytes = testBytes(50 * MiB + 4321, 11);
    // A live recording: the length is unknown until the stream ends.
    const source = Readable.from(
      (function* () {
        for (let at = 0; at < bytes.length; at += 1 * MiB) yield bytes.subarray(at, at + 1 * MiB);
      })(),
    );
    let sawDeferred = false;
    const url = await tusUpload(source, conversations.s3, {
      uploadLengthDeferred: true,
      chunkSize: 8 * MiB,
      onAfterResponse: (request: HttpRequest) => {
        if (request.getMethod() === "POST") sawDeferred = true;
      },
    });
    assert.ok(sawDeferred);
    const head = await fetch(url, {
      method: "HEAD",
      headers: { ...operatorHeaders, "tus-resumable": "1.0.0" },
    });
    assert.equal(head.headers.get("upload-offset"), String(bytes.length));
    assert.equal(head.headers.get("upload-length"), String(bytes.length));
    await assertLanded("s3", recordingIdOf(url), bytes);
  });

  it("resumes after the connection is cut mid-PATCH", async () => {
    const proxy = await cuttingProxy(new URL(base).port ? Number(new URL(base).port) : 80);
    try {
      const bytes = testBytes(12 * MiB + 77, 12);
      let armed = false;
      const url = await tusUpload(bytes, conversations.gcs, {
        endpoint: `${proxy.url}/v2/tus`,
        onChunkComplete: () => {
          // Halfway into the second PATCH's body, the connection drops.
          if (!armed) {
            armed = true;
            proxy.arm(2 * MiB);
          }
        },
      });
      assert.equal(proxy.cuts(), 1);
      await assertLanded("gcs", recordingIdOf(url), bytes);
    } finally {
      proxy.close();
    }
  });

  it("resumes after the relay is SIGKILLed mid-upload and restarted", async () => {
    const bytes = testBytes(24 * MiB + 5, 13);
    let killed: Promise<void> | undefined;
    const url = await tusUpload(bytes, conversations.azure_blob, {
      onProgress: (sent) => {
        // Mid-way through the third PATCH's body.
        if (!killed && sent > 10 * MiB) {
          relay.child.kill("SIGKILL");
          killed = relay.exited.then(() => startChild());
        }
      },
    });
    assert.ok(killed, "the relay was killed");
    await killed;
    await assertLanded("azure_blob", recordingIdOf(url), bytes);
  });

  it("refuses a PATCH whose Upload-Checksum does not match (460, nothing appended)", async () => {
    const bytes = testBytes(3 * MiB, 14);
    const chunkSize = 1 * MiB;
    const digest = (algorithm: string, data: Buffer) =>
      createHash(algorithm).update(data).digest("base64");
    let corrupt = true;
    const withChecksums = (algorithm: string) => ({
      chunkSize,
      onBeforeRequest: (request: HttpRequest) => {
        if (request.getMethod() !== "PATCH") return;
        const offset = Number(request.getHeader("Upload-Offset"));
        const chunk = bytes.subarray(offset, offset + chunkSize);
        // The second chunk's checksum names other bytes on the first try.
        const hashed = corrupt && offset === chunkSize ? Buffer.from("not these bytes") : chunk;
        request.setHeader("Upload-Checksum", `${algorithm} ${digest(algorithm, hashed)}`);
      },
    });
    let uploadUrl: string | undefined;
    const refused = await tusUpload(bytes, conversations.s3, {
      ...withChecksums("sha1"),
      onUploadUrlAvailable: () => {},
      onAfterResponse: (request: HttpRequest) => {
        uploadUrl ??= request.getMethod() === "PATCH" ? request.getURL() : undefined;
      },
    }).then(
      () => undefined,
      (error: { originalResponse?: { getStatus(): number; getHeader(name: string): string } }) =>
        error,
    );
    assert.equal(refused?.originalResponse?.getStatus(), 460);
    assert.equal(refused?.originalResponse?.getHeader("Upload-Offset"), String(chunkSize));
    assert.ok(uploadUrl);
    const head = await fetch(uploadUrl, {
      method: "HEAD",
      headers: { ...operatorHeaders, "tus-resumable": "1.0.0" },
    });
    assert.equal(head.headers.get("upload-offset"), String(chunkSize), "nothing appended");
    // An unknown algorithm is a 400.
    const unknown = await fetch(uploadUrl, {
      method: "PATCH",
      headers: {
        ...operatorHeaders,
        "tus-resumable": "1.0.0",
        "content-type": "application/offset+octet-stream",
        "upload-offset": String(chunkSize),
        "upload-checksum": `md5 ${digest("md5", bytes.subarray(chunkSize, 2 * chunkSize))}`,
      },
      body: bytes.subarray(chunkSize, 2 * chunkSize),
    });
    assert.equal(unknown.status, 400);
    // The same client resumes the upload with correct sha256 checksums.
    corrupt = false;
    const url = await tusUpload(bytes, conversations.s3, {
      ...withChecksums("sha256"),
      uploadUrl,
    });
    await assertLanded("s3", recordingIdOf(url), bytes);
  });

  it("terminates an upload: the recording and its bytes are gone, nothing is delivered", async () => {
    // A deferred-length upload whose source holds 10 MiB and stays open: the client sends that
    // chunk and then waits for more, so the termination always meets a recording still receiving
    // (a fixed-length source raced the client's next chunk against the DELETE).
    const source = new Readable({ read() {} });
    source.push(testBytes(10 * MiB, 15));
    let upload: Upload | undefined;
    const url = await new Promise<string>((resolve, reject) => {
      upload = new Upload(source, {
        endpoint: `${base}/v2/tus`,
        headers: operatorHeaders,
        metadata: { conversation_id: conversations.s3 },
        uploadLengthDeferred: true,
        chunkSize: 10 * MiB,
        onChunkComplete: () => resolve(upload!.url!),
        onError: reject,
      });
      upload.start();
    });
    const id = recordingIdOf(url);
    const key = (await readRecording(id)).data?.key;
    // The first 8 MiB part went on to S3 while the recording streamed in: a multipart upload.
    const bucket = rig.emulators.destinations.s3.bucket_name;
    await waitUntil(
      () => rig.emulators.aws.pendingUploads(bucket).some((pending) => pending.key === key),
      "the live upload started",
    );
    // tus-js-client stops waiting for its source and sends DELETE.
    await upload!.abort(true);
    source.destroy();
    const head = await fetch(url, {
      method: "HEAD",
      headers: { ...operatorHeaders, "tus-resumable": "1.0.0" },
    });
    assert.equal(head.status, 404);
    assert.equal((await readRecording(id)).response.status, 404);
    assert.equal(readyFor(id).length, 0);
    // The multipart upload the relay streamed the first part into is aborted, not left to bill.
    await waitUntil(
      () => !rig.emulators.aws.pendingUploads(bucket).some((pending) => pending.key === key),
      "the live upload aborted",
    );
  });

  it("holds a declared length: no change, nothing beyond it, and JSON complete must match it", async () => {
    const tus = (
      method: string,
      path: string,
      headers: Record<string, string> = {},
      body?: Buffer,
    ) =>
      fetch(`${base}${path}`, {
        method,
        headers: { ...operatorHeaders, "tus-resumable": "1.0.0", ...headers },
        ...(body ? { body } : {}),
      });
    const bytes = testBytes(1000, 17);
    const created = await tus("POST", "/v2/tus", {
      "upload-length": "1000",
      "upload-metadata": `conversation_id ${b64(conversations.s3)}`,
    });
    assert.equal(created.status, 201);
    const location = created.headers.get("location")!;
    const id = location.split("/").at(-1)!;
    const patch = (offset: number, body: Buffer, headers: Record<string, string> = {}) =>
      tus(
        "PATCH",
        location,
        {
          "content-type": "application/offset+octet-stream",
          "upload-offset": String(offset),
          ...headers,
        },
        body,
      );
    // Another length is refused; so is a body that would go past the declared one.
    const changed = await patch(0, bytes.subarray(0, 10), { "upload-length": "2000" });
    assert.equal(changed.status, 409);
    assert.equal(changed.headers.get("tus-resumable"), "1.0.0");
    assert.equal((await patch(0, testBytes(1001, 17))).status, 413);
    // A wrong content type is 415, a stale offset 409 with the offset, a missing token 401.
    assert.equal(
      (await patch(0, bytes, { "content-type": "application/octet-stream" })).status,
      415,
    );
    const half = await patch(0, bytes.subarray(0, 500));
    assert.equal(half.status, 204);
    assert.equal(half.headers.get("upload-offset"), "500");
    const stale = await patch(0, bytes.subarray(0, 500));
    assert.equal(stale.status, 409);
    assert.equal(stale.headers.get("upload-offset"), "500");
    const anonymous = await fetch(`${base}${location}`, {
      method: "HEAD",
      headers: { "tus-resumable": "1.0.0" },
    });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers.get("tus-resumable"), "1.0.0");
    // The JSON complete of a tus upload short of its length is refused.
    const early = await call("POST", `/v2/recordings/${id}/complete`, { operator: true, json: {} });
    assert.equal(early.status, 409);
    assert.equal(early.body.error.code, "RECORDING_CONTENT_MISMATCH");
    // The rest completes it; HEAD then answers the whole length, and termination is refused.
    assert.equal((await patch(500, bytes.subarray(500))).status, 204);
    const head = await tus("HEAD", location);
    assert.equal(head.headers.get("upload-offset"), "1000");
    assert.equal(head.headers.get("upload-length"), "1000");
    assert.equal(head.headers.get("upload-expires"), null);
    assert.equal((await tus("DELETE", location)).status, 409);
    await assertLanded("s3", id, bytes);
  });

  it("creation-with-upload with Upload-Length completes in one request; Upload-Expires while receiving", async () => {
    const bytes = testBytes(300_000, 16);
    const created = await fetch(`${base}/v2/tus`, {
      method: "POST",
      headers: {
        ...operatorHeaders,
        "tus-resumable": "1.0.0",
        "upload-length": String(bytes.length),
        "upload-metadata": `conversation_id ${b64(conversations.gcs)},epoch_ms ${b64("1767225600000")}`,
        "content-type": "application/offset+octet-stream",
      },
      body: bytes,
    });
    assert.equal(created.status, 201, await created.clone().text());
    assert.equal(created.headers.get("upload-offset"), String(bytes.length));
    assert.equal(created.headers.get("tus-resumable"), "1.0.0");
    const location = created.headers.get("location")!;
    assert.match(location, /^\/v2\/tus\/[0-9a-f-]{36}$/);
    await assertLanded("gcs", recordingIdOf(`${base}${location}`), bytes);

    const deferred = await fetch(`${base}/v2/tus`, {
      method: "POST",
      headers: {
        ...operatorHeaders,
        "tus-resumable": "1.0.0",
        "upload-defer-length": "1",
        "upload-metadata": `conversation_id ${b64(conversations.gcs)}`,
      },
    });
    assert.equal(deferred.status, 201);
    const expires = Date.parse(deferred.headers.get("upload-expires") ?? "");
    // RELAY_RETENTION_DAYS (30 by default) after the creation.
    assert.ok(Math.abs(expires - (Date.now() + 30 * 86_400_000)) < 120_000, String(expires));
    const head = await fetch(`${base}${deferred.headers.get("location")}`, {
      method: "HEAD",
      headers: { ...operatorHeaders, "tus-resumable": "1.0.0" },
    });
    assert.equal(head.headers.get("upload-defer-length"), "1");
    assert.equal(head.headers.get("upload-offset"), "0");
    assert.equal(head.headers.get("cache-control"), "no-store");
  });
});
