import assert from "node:assert/strict";
import { createHash, randomFillSync } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { after, before, describe, test } from "node:test";
import { CRC32C } from "@google-cloud/storage";
import { guardLoopbackOnly } from "../shared/loopback-guard.ts";
import { startTestIssuer, type TestIssuer } from "../shared/test-issuer.ts";
import { demoGcpSetup, type GcpEmulator, startGcpEmulator } from "./index.ts";
import {
  identityPoolClientV9,
  identityPoolClientV10,
  STORAGE_SCOPES,
  storageFor,
} from "./test-clients.ts";

const WORKSPACE = "ws_77aa";
const MIB = 1_048_576;
const guard = guardLoopbackOnly();
let issuer: TestIssuer;
let emulator: GcpEmulator;
let audience: string;
let writer: string;
let bucket: string;

before(async () => {
  issuer = await startTestIssuer();
  const setup = demoGcpSetup({ issuerUrl: issuer.url, workspaceId: WORKSPACE });
  audience = setup.audience;
  writer = setup.destination.service_account_email;
  bucket = setup.destination.bucket_name;
  setup.customers.buckets!.push(
    {
      name: "creator-only",
      grants: [{ member: `serviceAccount:${writer}`, role: "roles/storage.objectCreator" }],
    },
    {
      name: "prefixed-recs",
      grants: [
        { member: `serviceAccount:${writer}`, role: "roles/storage.objectAdmin", prefix: "tavus/" },
      ],
    },
  );
  emulator = await startGcpEmulator({ customers: setup.customers });
});

after(async () => {
  await emulator.stop();
  await issuer.stop();
  guard.assertLoopbackOnly();
});

const federation = () => ({
  emulator,
  audience,
  serviceAccountEmail: writer,
  getSubjectToken: () => issuer.mint(WORKSPACE, { audience }),
});
const storage = () => storageFor(emulator, identityPoolClientV9(federation()));

async function serviceAccountToken(): Promise<string> {
  const { token } = await identityPoolClientV10(federation()).getAccessToken();
  return token!;
}

function crc32cOf(data: Buffer): string {
  const crc = new CRC32C();
  crc.update(data);
  return crc.toString();
}

/** Deterministic-length random bytes, hashed as they are produced. */
function generated(totalBytes: number) {
  const sha256 = createHash("sha256");
  const md5 = createHash("md5");
  const crc = new CRC32C();
  let produced = 0;
  const stream = Readable.from(
    (function* () {
      while (produced < totalBytes) {
        const chunk = randomFillSync(Buffer.allocUnsafe(Math.min(MIB, totalBytes - produced)));
        produced += chunk.length;
        sha256.update(chunk);
        md5.update(chunk);
        crc.update(chunk);
        yield chunk;
      }
    })(),
  );
  return {
    stream,
    digests: () => ({
      sha256Hex: sha256.digest("hex"),
      md5Base64: md5.digest("base64"),
      crc32cBase64: crc.toString(),
    }),
  };
}

describe("GCS through @google-cloud/storage 7 (with its google-auth-library 9 client)", () => {
  test("a 100 MB stream uploads resumably in 8 MiB chunks with correct size, md5 and crc32c", async () => {
    const name = "tavus/conv_100mb/1700000000000";
    const file = storage().bucket(bucket).file(name);
    // The SDK sends the initiation of createWriteStream() unauthenticated to custom endpoints;
    // createResumableUpload() is the authenticated path (see test-clients.ts and the README).
    const [uri] = await file.createResumableUpload({ metadata: { contentType: "video/mp4" } });
    const source = generated(100 * MIB);
    let responseMetadata: Record<string, unknown> | undefined;
    const sink = file.createWriteStream({ uri, chunkSize: 8 * MIB });
    sink.on("response", (response: { data: Record<string, unknown> }) => {
      responseMetadata = response.data;
    });
    await pipeline(source.stream, sink);
    const expected = source.digests();
    const stored = emulator.getObject(bucket, name)!;
    assert.equal(stored.sizeBytes, 100 * MIB);
    assert.equal(stored.sha256Hex, expected.sha256Hex);
    assert.equal(stored.md5Base64, expected.md5Base64);
    assert.equal(stored.crc32cBase64, expected.crc32cBase64);
    assert.equal(stored.contentType, "video/mp4");
    assert.equal(Number(responseMetadata?.size), 100 * MIB);
    const chunkPuts = emulator.requests.filter((r) => r.method === "PUT" && r.status === 308);
    assert.ok(
      chunkPuts.length >= 12,
      `expected one 308 per non-final chunk, saw ${chunkPuts.length}`,
    );
  });

  test("multipart save, metadata, download (hash-validated), list and delete", async () => {
    const s = storage();
    const file = s.bucket(bucket).file("tavus/conv_small/1");
    const content = Buffer.from("small recording bytes ".repeat(1000));
    await file.save(content, {
      resumable: false,
      metadata: { contentType: "text/plain", metadata: { conversation: "c1" } },
    });
    const [metadata] = await file.getMetadata();
    assert.equal(metadata.size, String(content.length));
    assert.equal(metadata.md5Hash, createHash("md5").update(content).digest("base64"));
    assert.equal(metadata.crc32c, crc32cOf(content));
    assert.deepEqual(metadata.metadata, { conversation: "c1" });
    const [downloaded] = await file.download();
    assert.deepEqual(downloaded, content);
    await s.bucket(bucket).file("tavus/conv_small/2").save("two", { resumable: false });
    await s.bucket(bucket).file("other/3").save("three", { resumable: false });
    const [files] = await s.bucket(bucket).getFiles({ prefix: "tavus/conv_small/" });
    assert.deepEqual(
      files.map((f) => f.name),
      ["tavus/conv_small/1", "tavus/conv_small/2"],
    );
    await file.delete();
    assert.equal(emulator.getObject(bucket, "tavus/conv_small/1"), undefined);
    await assert.rejects(file.getMetadata(), (error: { code: number; message: string }) => {
      assert.equal(error.code, 404);
      assert.equal(error.message, `No such object: ${bucket}/tavus/conv_small/1`);
      return true;
    });
  });

  test("a missing bucket → 404 notFound", async () => {
    await assert.rejects(
      storage().bucket("no-such-bucket").file("x").save("x", { resumable: false }),
      (error: { code: number; message: string }) => {
        assert.equal(error.code, 404);
        assert.equal(error.message, "The specified bucket does not exist.");
        return true;
      },
    );
  });

  test("a grant limited to a prefix refuses keys outside it (storage.objects.create)", async () => {
    const s = storage();
    await s.bucket("prefixed-recs").file("tavus/ok").save("ok", { resumable: false });
    await assert.rejects(
      s.bucket("prefixed-recs").file("elsewhere/key").createResumableUpload(),
      (error: { code?: number; message: string }) => {
        assert.match(
          error.message,
          new RegExp(
            `${writer.replace(/\./g, "\\.")} does not have storage\\.objects\\.create access to the Google Cloud Storage object\\. Permission 'storage\\.objects\\.create' denied on resource \\(or it may not exist\\)\\.`,
          ),
        );
        return true;
      },
    );
  });

  test("overwriting needs storage.objects.delete", async () => {
    const file = storage().bucket("creator-only").file("tavus/x");
    await file.save("first", { resumable: false });
    await assert.rejects(
      file.save("second", { resumable: false }),
      (error: { code: number; message: string }) => {
        assert.equal(error.code, 403);
        assert.equal(
          error.message,
          `${writer} does not have storage.objects.delete access to the Google Cloud Storage object. Permission 'storage.objects.delete' denied on resource (or it may not exist).`,
        );
        return true;
      },
    );
  });

  test("createWriteStream without a uri initiates anonymously (SDK 7 custom-endpoint gap) and is refused with 401", async () => {
    const file = storage().bucket(bucket).file("tavus/anonymous");
    await assert.rejects(
      pipeline(Readable.from([Buffer.from("x")]), file.createWriteStream({ resumable: true })),
      (error: { response?: { status: number; data: { error: { message: string } } } }) => {
        assert.equal(error.response?.status, 401);
        assert.match(
          error.response?.data.error.message ?? "",
          /^Anonymous caller does not have storage\.objects\.create access/,
        );
        return true;
      },
    );
  });

  test("a google-auth-library 10 client given to storage 7 sends no Authorization (version trap) → 401", async () => {
    const s = storageFor(emulator, identityPoolClientV10(federation()));
    await assert.rejects(
      s.bucket(bucket).file("tavus/x").getMetadata(),
      (error: { code: number }) => {
        assert.equal(error.code, 401);
        return true;
      },
    );
  });
});

/** Either an object resource or a GCS error body. */
interface WireBody {
  size?: string;
  md5Hash?: string;
  crc32c?: string;
  error: { message: string };
}

describe("GCS resumable protocol on the wire", () => {
  let token: string;
  before(async () => {
    token = await serviceAccountToken();
  });

  async function initiate(name: string, headers: Record<string, string> = {}): Promise<string> {
    const response = await fetch(
      `${emulator.endpoint}/upload/storage/v1/b/${bucket}/o?uploadType=resumable&name=${encodeURIComponent(name)}`,
      {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          ...headers,
        },
        body: "{}",
      },
    );
    assert.equal(response.status, 200);
    return response.headers.get("location")!;
  }
  async function put(
    uri: string,
    contentRange: string | undefined,
    body?: Buffer,
    headers: Record<string, string> = {},
  ) {
    const response = await fetch(uri, {
      method: "PUT",
      redirect: "manual",
      headers: { ...(contentRange ? { "content-range": contentRange } : {}), ...headers },
      body: body ?? Buffer.alloc(0),
    });
    const text = await response.text();
    return {
      status: response.status,
      range: response.headers.get("range"),
      body: text ? (JSON.parse(text) as WireBody) : undefined,
    };
  }
  const data = randomFillSync(Buffer.alloc(500_000));

  test("X-GUploader-No-308: a 200 with the 308 in X-Http-Status-Code-Override (Google's Go client, rclone)", async () => {
    const uri = await initiate("wire/no-308");
    const response = await fetch(uri, {
      method: "PUT",
      redirect: "manual",
      headers: { "content-range": "bytes 0-262143/*", "x-guploader-no-308": "yes" },
      body: data.subarray(0, 262_144),
    });
    await response.text();
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("x-http-status-code-override"), "308");
    assert.equal(response.headers.get("range"), "bytes=0-262143");
    // Without the header, the same state answers a bare 308.
    assert.equal((await put(uri, "bytes */*")).status, 308);
  });

  test("status queries, 256 KiB persistence, resync after a partial chunk, overlap and final answer", async () => {
    const uri = await initiate("wire/a");
    assert.deepEqual(await put(uri, "bytes */*"), { status: 308, range: null, body: undefined });
    // 300 000 bytes sent, only the 262 144 of a whole 256 KiB unit are persisted.
    const first = await put(uri, "bytes 0-299999/*", data.subarray(0, 300_000));
    assert.equal(first.status, 308);
    assert.equal(first.range, "bytes=0-262143");
    assert.equal((await put(uri, "bytes */500000")).range, "bytes=0-262143");
    // The client resends from before the persisted end; the overlap is ignored.
    const last = await put(uri, "bytes 200000-499999/500000", data.subarray(200_000));
    assert.equal(last.status, 200);
    assert.equal(last.body!.size, "500000");
    assert.equal(last.body!.md5Hash, createHash("md5").update(data).digest("base64"));
    assert.equal(last.body!.crc32c, crc32cOf(data));
    assert.equal(
      emulator.getObject(bucket, "wire/a")!.sha256Hex,
      createHash("sha256").update(data).digest("hex"),
    );
    // After completion any request on the session answers with the object.
    assert.equal((await put(uri, "bytes */500000")).status, 200);
  });

  test("unknown total completed by a `bytes */N` query, and the `A-*/*` streaming form", async () => {
    const uri = await initiate("wire/b");
    assert.equal((await put(uri, "bytes 0-262143/*", data.subarray(0, 262_144))).status, 308);
    const done = await put(uri, "bytes */262144");
    assert.equal(done.status, 200);
    assert.equal(done.body!.size, "262144");
    const streamed = await initiate("wire/c");
    const whole = await put(streamed, "bytes 0-*/*", data);
    assert.equal(whole.status, 200);
    assert.equal(whole.body!.size, "500000");
    const noRange = await initiate("wire/d");
    assert.equal((await put(noRange, undefined, data.subarray(0, 10))).body!.size, "10");
  });

  test("protocol violations get GCS's 400 texts", async () => {
    const uri = await initiate("wire/e");
    const small = await put(uri, "bytes 0-99/*", data.subarray(0, 100));
    assert.equal(small.status, 400);
    assert.equal(
      small.body!.error.message,
      "Invalid request. The number of bytes uploaded is required to be equal or greater than 262144, except for the final request (it's recommended to be the exact multiple of 262144). The received request contained 100 bytes, which does not meet this requirement.",
    );
    const gap = await put(uri, "bytes 262144-524287/*", data.subarray(0, 262_144));
    assert.equal(gap.status, 400);
    assert.equal(
      gap.body!.error.message,
      "Invalid request.  According to the Content-Range header, the upload offset is 262144 byte(s), which exceeds already uploaded size of 0 byte(s).",
    );
    const query = await put(uri, "bytes */*", Buffer.from("x"));
    assert.equal(query.body!.error.message, "Client sent query request with a non-empty body.");
    assert.equal(
      (await put(uri, "bytes 0-9")).body!.error.message,
      "Failed to parse Content-Range header.",
    );
    const badHash = await put(uri, "bytes 0-9/10", data.subarray(0, 10), {
      "x-goog-hash": "md5=AAAAAAAAAAAAAAAAAAAAAA==",
    });
    assert.equal(badHash.status, 400);
    assert.match(
      badHash.body!.error.message,
      /^Provided MD5 hash "AAAAAAAAAAAAAAAAAAAAAA==" doesn't match calculated MD5 hash/,
    );
    const sized = await initiate("wire/f", { "x-upload-content-length": "11" });
    assert.equal((await put(sized, "bytes 0-9/10", data.subarray(0, 10))).status, 400);
  });

  test("cancel → 499, unknown session → 404, no token → 401, bad token → 401", async () => {
    const uri = await initiate("wire/g");
    assert.equal((await fetch(uri, { method: "DELETE" })).status, 499);
    assert.equal((await put(uri, "bytes */*")).status, 499);
    const unknown = await put(
      `${emulator.endpoint}/upload/storage/v1/b/${bucket}/o?uploadType=resumable&upload_id=nope`,
      "bytes */*",
    );
    assert.equal(unknown.status, 404);
    const anonymous = await fetch(`${emulator.endpoint}/storage/v1/b/${bucket}/o`);
    assert.equal(anonymous.status, 401);
    assert.deepEqual(await anonymous.json(), {
      error: {
        code: 401,
        message:
          "Anonymous caller does not have storage.objects.list access to the Google Cloud Storage bucket. Permission 'storage.objects.list' denied on resource (or it may not exist).",
        errors: [
          {
            message:
              "Anonymous caller does not have storage.objects.list access to the Google Cloud Storage bucket. Permission 'storage.objects.list' denied on resource (or it may not exist).",
            domain: "global",
            reason: "required",
            locationType: "header",
            location: "Authorization",
          },
        ],
      },
    });
    const forged = await fetch(`${emulator.endpoint}/storage/v1/b/${bucket}/o`, {
      headers: { authorization: "Bearer ya29.nope" },
    });
    assert.equal(forged.status, 401);
    assert.equal(
      ((await forged.json()) as { error: { message: string } }).error.message,
      "Invalid Credentials",
    );
  });

  test("multipart/related as google-apitools (gcloud) frames it: bare LF line ends, single-quoted boundary", async () => {
    const boundary = "===============4567890123456789012==";
    const media = Buffer.concat([
      Buffer.from("line one\nline two\r\n"),
      randomFillSync(Buffer.alloc(4096)),
    ]);
    // Python's email generator writes the root headers too; apitools sends them as a preamble.
    const body = Buffer.concat([
      Buffer.from(
        `Content-Type: multipart/related; boundary="${boundary}"\nMIME-Version: 1.0\n\n` +
          `--${boundary}\nContent-Type: application/json\nMIME-Version: 1.0\n\n` +
          `{"name": "gcloud/lf", "contentType": "application/octet-stream"}\n` +
          `--${boundary}\nContent-Type: application/octet-stream\nMIME-Version: 1.0\n` +
          "Content-Transfer-Encoding: binary\n\n",
      ),
      media,
      Buffer.from(`\n--${boundary}--\n`),
    ]);
    const response = await fetch(
      `${emulator.endpoint}/upload/storage/v1/b/${bucket}/o?uploadType=multipart`,
      {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": `multipart/related; boundary='${boundary}'`,
        },
        body,
      },
    );
    const json = (await response.json()) as { name?: string; size?: string };
    assert.equal(response.status, 200, JSON.stringify(json));
    assert.equal(json.name, "gcloud/lf");
    assert.equal(json.size, String(media.length));
    const stored = emulator.getObject(bucket, "gcloud/lf")!;
    assert.equal(stored.sha256Hex, createHash("sha256").update(media).digest("hex"));
    assert.equal(stored.contentType, "application/octet-stream");
  });

  test("POST /resumable/upload/storage/v1/b/{bucket}/o starts a resumable session (gcloud's path)", async () => {
    const response = await fetch(
      `${emulator.endpoint}/resumable/upload/storage/v1/b/${bucket}/o?name=gcloud%2Fresumable`,
      {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: "{}",
      },
    );
    assert.equal(response.status, 200);
    const uri = response.headers.get("location")!;
    const done = await put(uri, `bytes 0-${data.length - 1}/${data.length}`, data);
    assert.equal(done.status, 200);
    assert.equal(emulator.getObject(bucket, "gcloud/resumable")?.sizeBytes, data.length);
  });

  test("object names GCS refuses (., .., .well-known/acme-challenge/…) → 400 invalid", async () => {
    const expected = {
      code: 400,
      message: "The specified object name is not valid.",
      errors: [
        { message: "The specified object name is not valid.", domain: "global", reason: "invalid" },
      ],
    };
    for (const name of [".", "..", ".well-known/acme-challenge/token"]) {
      const media = await fetch(
        `${emulator.endpoint}/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${encodeURIComponent(name)}`,
        { method: "POST", headers: { authorization: `Bearer ${token}` }, body: "x" },
      );
      assert.equal(media.status, 400, name);
      assert.deepEqual(((await media.json()) as { error: unknown }).error, expected);
      const resumable = await fetch(
        `${emulator.endpoint}/upload/storage/v1/b/${bucket}/o?uploadType=resumable`,
        {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ name }),
        },
      );
      assert.equal(resumable.status, 400, name);
      await resumable.body?.cancel();
      assert.equal(emulator.getObject(bucket, name), undefined);
    }
  });

  test("a federated token with storage scope but no grant is refused, an ifGenerationMatch=0 conflict → 412", async () => {
    const { token: federated } = await identityPoolClientV10({
      ...federation(),
      serviceAccountEmail: undefined,
      scopes: STORAGE_SCOPES,
    }).getAccessToken();
    const refused = await fetch(
      `${emulator.endpoint}/upload/storage/v1/b/${bucket}/o?uploadType=media&name=direct`,
      {
        method: "POST",
        headers: { authorization: `Bearer ${federated}` },
        body: "x",
      },
    );
    assert.equal(refused.status, 403);
    assert.match(
      ((await refused.json()) as { error: { message: string } }).error.message,
      /^principal:\/\/iam\.googleapis\.com\/projects\/123456789012\/locations\/global\/workloadIdentityPools\/recording-relay-pool\/subject\/ws_77aa does not have storage\.objects\.create access/,
    );
    const media = await fetch(
      `${emulator.endpoint}/upload/storage/v1/b/${bucket}/o?uploadType=media&name=media-once`,
      {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
        body: "x",
      },
    );
    assert.equal(media.status, 200);
    const again = await fetch(
      `${emulator.endpoint}/upload/storage/v1/b/${bucket}/o?uploadType=media&name=media-once&ifGenerationMatch=0`,
      {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
        body: "y",
      },
    );
    assert.equal(again.status, 412);
  });
});
