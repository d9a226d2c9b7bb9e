import assert from "node:assert/strict";
import { request } from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { after, before, describe, it } from "node:test";
import example from "../../test/fixtures/aws-sigv4-example.json" with { type: "json" };
import { checksumOf } from "./checksums.ts";
import { AwsChunkedDecoder } from "./chunked.ts";
import { type AwsEmulator, startAwsEmulator } from "./index.ts";
import {
  type CredentialScope,
  chunkStringToSign,
  EMPTY_SHA256,
  expectedSignature,
  groupRawHeaders,
  parseQuery,
  sha256Hex,
  sign,
  toAmzDate,
  trailerStringToSign,
} from "./sigv4.ts";
import { assume, T, testConfig } from "./testing.ts";

// The worked examples of AWS's "Signature Version 4 for S3" documentation.
const EXAMPLE_SECRET = example.secretAccessKey;
const EXAMPLE_SCOPE: CredentialScope = {
  accessKeyId: example.accessKeyId,
  date: example.date,
  region: example.region,
  service: "s3",
};
const EXAMPLE_DATE = "20130524T000000Z";

describe("SigV4 against AWS's documented examples", () => {
  it("GET Object with a Range header", async () => {
    const headers = groupRawHeaders([
      "Host",
      "examplebucket.s3.amazonaws.com",
      "Range",
      "bytes=0-9",
      "x-amz-content-sha256",
      EMPTY_SHA256,
      "x-amz-date",
      EXAMPLE_DATE,
    ]);
    const { signature } = await expectedSignature({
      method: "GET",
      rawPath: "/test.txt",
      query: [],
      headers,
      signedHeaders: ["host", "range", "x-amz-content-sha256", "x-amz-date"],
      payloadHash: EMPTY_SHA256,
      amzDate: EXAMPLE_DATE,
      scope: EXAMPLE_SCOPE,
      secretAccessKey: EXAMPLE_SECRET,
    });
    assert.equal(signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  });

  it("chunked upload (STREAMING-AWS4-HMAC-SHA256-PAYLOAD): seed and chunk signatures", async () => {
    const headers = groupRawHeaders([
      "Host",
      "s3.amazonaws.com",
      "x-amz-date",
      EXAMPLE_DATE,
      "x-amz-storage-class",
      "REDUCED_REDUNDANCY",
      "Content-Encoding",
      "aws-chunked",
      "x-amz-decoded-content-length",
      "66560",
      "x-amz-content-sha256",
      "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
      "Content-Length",
      "66824",
    ]);
    const { signature: seed, signingKey: key } = await expectedSignature({
      method: "PUT",
      rawPath: "/examplebucket/chunkObject.txt",
      query: [],
      headers,
      signedHeaders: [
        "content-encoding",
        "content-length",
        "host",
        "x-amz-content-sha256",
        "x-amz-date",
        "x-amz-decoded-content-length",
        "x-amz-storage-class",
      ],
      payloadHash: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
      amzDate: EXAMPLE_DATE,
      scope: EXAMPLE_SCOPE,
      secretAccessKey: EXAMPLE_SECRET,
    });
    assert.equal(seed, "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");

    const expected = [
      "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
      "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
      "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
    ];
    const body = Buffer.concat([
      Buffer.from(`10000;chunk-signature=${expected[0]}\r\n`),
      Buffer.alloc(65_536, "a"),
      Buffer.from(`\r\n400;chunk-signature=${expected[1]}\r\n`),
      Buffer.alloc(1024, "a"),
      Buffer.from(`\r\n0;chunk-signature=${expected[2]}\r\n\r\n`),
    ]);
    assert.equal(body.length, 66_824);
    const signer = {
      seedSignature: seed,
      chunkSignature: (previous: string, hash: string) =>
        sign(key, chunkStringToSign(EXAMPLE_DATE, EXAMPLE_SCOPE, previous, hash)),
      trailerSignature: (previous: string, hash: string) =>
        sign(key, trailerStringToSign(EXAMPLE_DATE, EXAMPLE_SCOPE, previous, hash)),
    };
    const decoded: Buffer[] = [];
    await pipeline(
      Readable.from([body.subarray(0, 100), body.subarray(100, 70_000), body.subarray(70_000)]),
      new AwsChunkedDecoder({ signer, expectedTrailers: [] }),
      async (source: AsyncIterable<Buffer>) => {
        for await (const chunk of source) decoded.push(chunk);
      },
    );
    assert.deepEqual(Buffer.concat(decoded), Buffer.alloc(66_560, "a"));

    const forged = Buffer.from(body);
    forged[body.indexOf("\r\n") + 2] = 98; // one data byte changed: its chunk signature no longer holds
    await assert.rejects(
      pipeline(
        Readable.from([forged]),
        new AwsChunkedDecoder({ signer, expectedTrailers: [] }),
        async (source: AsyncIterable<Buffer>) => {
          for await (const _ of source) {
            // drain
          }
        },
      ),
      { code: "SignatureDoesNotMatch" },
    );
  });

  it("checksum check values of '123456789'", async () => {
    const data = Buffer.from("123456789");
    assert.equal(
      Buffer.from(await checksumOf("CRC32", data), "base64").toString("hex"),
      "cbf43926",
    );
    assert.equal(
      Buffer.from(await checksumOf("CRC32C", data), "base64").toString("hex"),
      "e3069283",
    );
    assert.equal(
      Buffer.from(await checksumOf("CRC64NVME", data), "base64").toString("hex"),
      "ae8b14860a799888",
    );
  });

  it("query parsing keeps order and decodes escapes", () => {
    assert.deepEqual(parseQuery("uploads&prefix=a%2Fb&x=1&x=2"), [
      ["uploads", ""],
      ["prefix", "a/b"],
      ["x", "1"],
      ["x", "2"],
    ]);
  });
});

/** Sends one raw request and collects the answer. */
function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: Buffer,
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString(),
          headers: res.headers,
        }),
      );
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("SigV4 variants no SDK here sends by default", () => {
  let emulator: AwsEmulator;
  let creds: Awaited<ReturnType<typeof assume>>;
  before(async () => {
    emulator = await startAwsEmulator(testConfig());
    creds = await assume(emulator);
  });
  after(() => emulator.stop());

  const scopeNow = (): { scope: CredentialScope; amzDate: string } => {
    const amzDate = toAmzDate(Date.now());
    return {
      amzDate,
      scope: {
        accessKeyId: creds.accessKeyId,
        date: amzDate.slice(0, 8),
        region: T.region,
        service: "s3",
      },
    };
  };

  /** Builds a signed aws-chunked PUT, optionally with a signed trailing checksum. */
  async function signedChunkedPut(
    key: string,
    data: Buffer[],
    withTrailer: boolean,
    tamperTrailer = false,
  ) {
    const { scope, amzDate } = scopeNow();
    const host = new URL(emulator.endpoint).host;
    const decodedLength = data.reduce((n, d) => n + d.length, 0);
    const mode = withTrailer
      ? "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
      : "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
    const headers: Record<string, string> = {
      host,
      "x-amz-date": amzDate,
      "x-amz-content-sha256": mode,
      "x-amz-decoded-content-length": String(decodedLength),
      "x-amz-security-token": creds.sessionToken!,
      "content-encoding": "aws-chunked",
      ...(withTrailer ? { "x-amz-trailer": "x-amz-checksum-crc32c" } : {}),
    };
    const signedHeaders = Object.keys(headers).sort();
    const path = `/${T.bucket}/${key}`;
    const seed = await expectedSignature({
      method: "PUT",
      rawPath: path,
      query: [],
      headers: groupRawHeaders(Object.entries(headers).flat()),
      signedHeaders,
      payloadHash: mode,
      amzDate,
      scope,
      secretAccessKey: creds.secretAccessKey,
    });
    const signingKeyBytes = seed.signingKey;
    let previous = seed.signature;
    const authorization = `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope.date}/${scope.region}/s3/aws4_request, SignedHeaders=${signedHeaders.join(";")}, Signature=${previous}`;
    const framed: Buffer[] = [];
    for (const chunk of [...data, Buffer.alloc(0)]) {
      previous = sign(
        signingKeyBytes,
        chunkStringToSign(amzDate, scope, previous, sha256Hex(chunk)),
      );
      framed.push(
        Buffer.from(`${chunk.length.toString(16)};chunk-signature=${previous}\r\n`),
        chunk,
      );
      if (chunk.length > 0) framed.push(Buffer.from("\r\n"));
    }
    if (withTrailer) {
      const crc = await checksumOf(
        "CRC32C",
        tamperTrailer ? Buffer.from("other") : Buffer.concat(data),
      );
      const trailer = `x-amz-checksum-crc32c:${crc}\n`;
      const trailerSignature = sign(
        signingKeyBytes,
        trailerStringToSign(amzDate, scope, previous, sha256Hex(trailer)),
      );
      framed.push(
        Buffer.from(
          `x-amz-checksum-crc32c:${crc}\r\nx-amz-trailer-signature:${trailerSignature}\r\n\r\n`,
        ),
      );
    } else {
      framed.push(Buffer.from("\r\n"));
    }
    const body = Buffer.concat(framed);
    return send(
      `${emulator.endpoint}${path}`,
      "PUT",
      { ...headers, authorization, "content-length": String(body.length) },
      body,
    );
  }

  it("accepts STREAMING-AWS4-HMAC-SHA256-PAYLOAD and -TRAILER bodies and verifies the signed trailer", async () => {
    const data = [Buffer.alloc(70_000, 7), Buffer.alloc(9000, 8)];
    const plain = await signedChunkedPut("signed-chunks", data, false);
    assert.equal(plain.status, 200, plain.body);
    assert.equal(emulator.objectInfo(T.bucket, "signed-chunks")?.size, 79_000);
    const trailed = await signedChunkedPut("signed-trailer", data, true);
    assert.equal(trailed.status, 200, trailed.body);
    assert.equal(emulator.objectInfo(T.bucket, "signed-trailer")?.checksum?.algorithm, "CRC32C");
    const bad = await signedChunkedPut("bad-trailer", data, true, true);
    assert.equal(bad.status, 400);
    assert.match(bad.body, /<Code>BadDigest<\/Code>/);
    assert.equal(emulator.objectInfo(T.bucket, "bad-trailer"), undefined);
  });

  it("presigned GET URLs work until they expire", async () => {
    await signedChunkedPut("presigned", [Buffer.from("hello")], false);
    const presign = async (expiresSeconds: number, ageMs: number) => {
      const amzDate = toAmzDate(Date.now() - ageMs);
      const scope: CredentialScope = {
        accessKeyId: creds.accessKeyId,
        date: amzDate.slice(0, 8),
        region: T.region,
        service: "s3",
      };
      const query: Array<[string, string]> = [
        ["X-Amz-Algorithm", "AWS4-HMAC-SHA256"],
        ["X-Amz-Credential", `${creds.accessKeyId}/${scope.date}/${T.region}/s3/aws4_request`],
        ["X-Amz-Date", amzDate],
        ["X-Amz-Expires", String(expiresSeconds)],
        ["X-Amz-Security-Token", creds.sessionToken!],
        ["X-Amz-SignedHeaders", "host"],
      ];
      const host = new URL(emulator.endpoint).host;
      const { signature } = await expectedSignature({
        method: "GET",
        rawPath: `/${T.bucket}/presigned`,
        query,
        headers: groupRawHeaders(["host", host]),
        signedHeaders: ["host"],
        payloadHash: "UNSIGNED-PAYLOAD",
        amzDate,
        scope,
        secretAccessKey: creds.secretAccessKey,
      });
      const search = new URLSearchParams([...query, ["X-Amz-Signature", signature]]);
      return `${emulator.endpoint}/${T.bucket}/presigned?${search.toString().replace(/\+/g, "%20")}`;
    };
    const ok = await send(await presign(60, 0), "GET", {});
    assert.equal(ok.status, 200);
    assert.equal(ok.body, "hello");
    const expired = await send(await presign(60, 120_000), "GET", {});
    assert.equal(expired.status, 403);
    assert.match(expired.body, /<Code>AccessDenied<\/Code><Message>Request has expired<\/Message>/);
  });

  it("anonymous requests are AccessDenied; a missing x-amz-content-sha256 is InvalidRequest", async () => {
    const anonymous = await send(`${emulator.endpoint}/${T.bucket}/presigned`, "GET", {});
    assert.equal(anonymous.status, 403);
    assert.match(anonymous.body, /<Code>AccessDenied<\/Code>/);
    const { scope, amzDate } = scopeNow();
    const host = new URL(emulator.endpoint).host;
    const headers = { host, "x-amz-date": amzDate, "x-amz-security-token": creds.sessionToken! };
    const { signature } = await expectedSignature({
      method: "GET",
      rawPath: `/${T.bucket}/presigned`,
      query: [],
      headers: groupRawHeaders(Object.entries(headers).flat()),
      signedHeaders: Object.keys(headers).sort(),
      payloadHash: EMPTY_SHA256,
      amzDate,
      scope,
      secretAccessKey: creds.secretAccessKey,
    });
    const missing = await send(`${emulator.endpoint}/${T.bucket}/presigned`, "GET", {
      ...headers,
      authorization: `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope.date}/${T.region}/s3/aws4_request, SignedHeaders=${Object.keys(headers).sort().join(";")}, Signature=${signature}`,
    });
    assert.equal(missing.status, 400);
    assert.match(
      missing.body,
      /<Code>InvalidRequest<\/Code><Message>Missing required header for this request: x-amz-content-sha256<\/Message>/,
    );
  });
});
