import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  type ServiceInputTypes,
  type ServiceOutputTypes,
} from "@aws-sdk/client-s3";
import type { AwsCredentialIdentity, FinalizeRequestMiddleware } from "@aws-sdk/types";
import { checksumOf } from "./checksums.ts";
import { type AwsEmulator, startAwsEmulator } from "./index.ts";
import { assume, rejectsWith, s3Client, T, testConfig } from "./testing.ts";

/** A finalize-step middleware that edits the outgoing HTTP request. */
function middleware(
  edit: (request: { headers: Record<string, string>; body: unknown }) => void,
): FinalizeRequestMiddleware<ServiceInputTypes, ServiceOutputTypes> {
  return (next) => async (args) => {
    edit(args.request as { headers: Record<string, string>; body: unknown });
    return next(args);
  };
}

/** Replaces the body after signing, keeping its length (so only the payload hash is wrong). */
function tamperAfterSigning(client: S3Client): void {
  client.middlewareStack.addRelativeTo(
    middleware((request) => {
      if (typeof request.body === "string") request.body = request.body.replace(/./g, "x");
      else if (request.body instanceof Uint8Array)
        request.body = Buffer.alloc(request.body.length, 120);
    }),
    { relation: "after", toMiddleware: "httpSigningMiddleware", name: "tamper" },
  );
}

/** Sets headers before signing (they are signed as sent). */
function setHeadersBeforeSigning(
  client: S3Client,
  headers: Record<string, string>,
  afterSigning = false,
): void {
  client.middlewareStack.addRelativeTo(
    middleware((request) => {
      Object.assign(request.headers, headers);
    }),
    {
      relation: afterSigning ? "after" : "before",
      toMiddleware: "httpSigningMiddleware",
      name: `headers-${afterSigning}`,
    },
  );
}

describe("S3 objects", () => {
  let emulator: AwsEmulator;
  let writer: AwsCredentialIdentity;
  let s3: S3Client;
  before(async () => {
    emulator = await startAwsEmulator(testConfig());
    writer = await assume(emulator);
    s3 = s3Client(emulator, writer);
  });
  after(() => emulator.stop());

  it("puts, heads, gets, lists and deletes, and exposes size and sha256 to tests", async () => {
    const body = "conversation recording bytes";
    const put = await s3.send(
      new PutObjectCommand({
        Bucket: T.bucket,
        Key: "tavus/c 1/ü+1.mp4",
        Body: body,
        ContentType: "video/mp4",
        Metadata: { workspace: "w1" },
      }),
    );
    assert.equal(put.ETag, `"${createHash("md5").update(body).digest("hex")}"`);
    assert.equal(
      put.ChecksumCRC32,
      await checksumOf("CRC32", Buffer.from(body)),
      "SDK default CRC32 is echoed",
    );
    const head = await s3.send(
      new HeadObjectCommand({ Bucket: T.bucket, Key: "tavus/c 1/ü+1.mp4" }),
    );
    assert.equal(head.ContentLength, body.length);
    assert.equal(head.ContentType, "video/mp4");
    assert.deepEqual(head.Metadata, { workspace: "w1" });
    const got = await s3.send(
      new GetObjectCommand({ Bucket: T.bucket, Key: "tavus/c 1/ü+1.mp4", ChecksumMode: "ENABLED" }),
    );
    assert.equal(await got.Body!.transformToString(), body);
    assert.equal(got.ChecksumCRC32, put.ChecksumCRC32);
    const info = emulator.objectInfo(T.bucket, "tavus/c 1/ü+1.mp4");
    assert.equal(info?.size, body.length);
    assert.equal(info?.sha256Hex, createHash("sha256").update(body).digest("hex"));
    const list = await s3.send(
      new ListObjectsV2Command({ Bucket: T.bucket, Prefix: "tavus/c 1/" }),
    );
    assert.deepEqual(
      list.Contents?.map((c) => [c.Key, c.Size]),
      [["tavus/c 1/ü+1.mp4", body.length]],
    );
    await s3.send(new DeleteObjectCommand({ Bucket: T.bucket, Key: "tavus/c 1/ü+1.mp4" }));
    assert.equal(emulator.objectInfo(T.bucket, "tavus/c 1/ü+1.mp4"), undefined);
    await rejectsWith(
      s3.send(new GetObjectCommand({ Bucket: T.bucket, Key: "tavus/c 1/ü+1.mp4" })),
      "NoSuchKey",
      404,
    );
    await rejectsWith(
      s3.send(new HeadObjectCommand({ Bucket: T.bucket, Key: "tavus/c 1/ü+1.mp4" })),
      "NotFound",
      404,
    );
  });

  it("decodes the aws-chunked body with a trailing checksum the SDK sends for streams", async () => {
    const seen: Record<string, string>[] = [];
    const client = s3Client(emulator, writer);
    client.middlewareStack.add(
      middleware((request) => {
        seen.push({ ...request.headers });
      }),
      { step: "finalizeRequest", priority: "low", name: "capture" },
    );
    const parts = [Buffer.alloc(70_000, 1), Buffer.alloc(10, 2), Buffer.alloc(100_000, 3)];
    const all = Buffer.concat(parts);
    for (const algorithm of ["CRC32", "CRC32C", "SHA256", "CRC64NVME"] as const) {
      const key = `stream/${algorithm}`;
      const out = await client.send(
        new PutObjectCommand({
          Bucket: T.bucket,
          Key: key,
          Body: Readable.from(parts),
          ContentLength: all.length,
          ChecksumAlgorithm: algorithm,
        }),
      );
      assert.equal(seen.at(-1)?.["x-amz-content-sha256"], "STREAMING-UNSIGNED-PAYLOAD-TRAILER");
      assert.equal(seen.at(-1)?.["x-amz-trailer"], `x-amz-checksum-${algorithm.toLowerCase()}`);
      const info = emulator.objectInfo(T.bucket, key)!;
      assert.equal(info.size, all.length);
      assert.equal(info.sha256Hex, createHash("sha256").update(all).digest("hex"));
      assert.equal(info.checksum?.value, await checksumOf(algorithm, all));
      assert.equal(info.etag, out.ETag);
    }
  });

  it("accepts UNSIGNED-PAYLOAD and rejects a body that does not match its signed sha256", async () => {
    const unsigned = s3Client(emulator, writer, T.region, {
      requestChecksumCalculation: "WHEN_REQUIRED",
    });
    setHeadersBeforeSigning(unsigned, { "x-amz-content-sha256": "UNSIGNED-PAYLOAD" });
    await unsigned.send(new PutObjectCommand({ Bucket: T.bucket, Key: "unsigned", Body: "abc" }));
    assert.equal(emulator.objectInfo(T.bucket, "unsigned")?.size, 3);

    const tampered = s3Client(emulator, writer, T.region, {
      requestChecksumCalculation: "WHEN_REQUIRED",
    });
    tamperAfterSigning(tampered);
    await rejectsWith(
      tampered.send(new PutObjectCommand({ Bucket: T.bucket, Key: "tampered", Body: "abcdef" })),
      "XAmzContentSHA256Mismatch",
      400,
    );
    assert.equal(emulator.objectInfo(T.bucket, "tampered"), undefined);
  });

  it("verifies CRC32, CRC32C, SHA1, SHA256, CRC64NVME and Content-MD5, answering BadDigest", async () => {
    const body = Buffer.from("checksummed");
    for (const algorithm of ["CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"] as const) {
      const out = await s3.send(
        new PutObjectCommand({
          Bucket: T.bucket,
          Key: `sum/${algorithm}`,
          Body: body,
          ChecksumAlgorithm: algorithm,
        }),
      );
      assert.equal(out[`Checksum${algorithm}`], await checksumOf(algorithm, body));
      const wrong = await checksumOf(algorithm, Buffer.from("something else"));
      await rejectsWith(
        s3.send(
          new PutObjectCommand({
            Bucket: T.bucket,
            Key: `sum/${algorithm}`,
            Body: body,
            [`Checksum${algorithm}`]: wrong,
          }),
        ),
        "BadDigest",
        400,
        `The ${algorithm} you specified did not match the calculated checksum.`,
      );
    }
    const md5 = createHash("md5").update("other").digest("base64");
    await rejectsWith(
      s3.send(
        new PutObjectCommand({ Bucket: T.bucket, Key: "sum/md5", Body: body, ContentMD5: md5 }),
      ),
      "BadDigest",
      400,
      "The Content-MD5 you specified did not match what was received.",
    );
    const good = createHash("md5").update(body).digest("base64");
    await s3.send(
      new PutObjectCommand({ Bucket: T.bucket, Key: "sum/md5", Body: body, ContentMD5: good }),
    );
    await rejectsWith(
      s3.send(
        new PutObjectCommand({
          Bucket: T.bucket,
          Key: "sum/bad",
          Body: body,
          ChecksumCRC32: "not-base64!",
        }),
      ),
      "InvalidRequest",
      400,
    );
  });

  it("serves byte ranges and refuses unsatisfiable ones", async () => {
    await s3.send(new PutObjectCommand({ Bucket: T.bucket, Key: "range", Body: "0123456789" }));
    const part = await s3.send(
      new GetObjectCommand({ Bucket: T.bucket, Key: "range", Range: "bytes=2-5" }),
    );
    assert.equal(part.$metadata.httpStatusCode, 206);
    assert.equal(part.ContentRange, "bytes 2-5/10");
    assert.equal(await part.Body!.transformToString(), "2345");
    const tail = await s3.send(
      new GetObjectCommand({ Bucket: T.bucket, Key: "range", Range: "bytes=-3" }),
    );
    assert.equal(await tail.Body!.transformToString(), "789");
    await rejectsWith(
      s3.send(new GetObjectCommand({ Bucket: T.bucket, Key: "range", Range: "bytes=10-" })),
      "InvalidRange",
      416,
    );
  });

  it("lists with prefixes, delimiters and continuation tokens", async () => {
    for (const key of ["l/a/1", "l/a/2", "l/b", "l/c/1", "l/d", "l/e"]) {
      await s3.send(new PutObjectCommand({ Bucket: T.bucket, Key: key, Body: "x" }));
    }
    const pages: string[][] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({
          Bucket: T.bucket,
          Prefix: "l/",
          Delimiter: "/",
          MaxKeys: 2,
          ContinuationToken: token,
        }),
      );
      pages.push([
        ...(page.CommonPrefixes ?? []).map((p) => p.Prefix!),
        ...(page.Contents ?? []).map((c) => c.Key!),
      ]);
      token = page.NextContinuationToken;
      assert.equal(page.IsTruncated, token !== undefined);
    } while (token);
    assert.deepEqual(pages, [["l/a/", "l/b"], ["l/c/", "l/d"], ["l/e"]]);
    const flat = await s3.send(
      new ListObjectsV2Command({ Bucket: T.bucket, Prefix: "l/", StartAfter: "l/c/1" }),
    );
    assert.deepEqual(
      flat.Contents?.map((c) => c.Key),
      ["l/d", "l/e"],
    );
  });

  it("deletes in batches and honours If-None-Match on writes", async () => {
    await s3.send(
      new PutObjectCommand({ Bucket: T.bucket, Key: "once", Body: "1", IfNoneMatch: "*" }),
    );
    await rejectsWith(
      s3.send(new PutObjectCommand({ Bucket: T.bucket, Key: "once", Body: "2", IfNoneMatch: "*" })),
      "PreconditionFailed",
      412,
    );
    const out = await s3.send(
      new DeleteObjectsCommand({
        Bucket: T.bucket,
        Delete: { Objects: [{ Key: "once" }, { Key: "never-was" }] },
      }),
    );
    assert.deepEqual(out.Deleted?.map((d) => d.Key).sort(), ["never-was", "once"]);
    assert.equal(emulator.objectInfo(T.bucket, "once"), undefined);
  });
});

describe("S3 authentication and authorisation", () => {
  let emulator: AwsEmulator;
  let writer: AwsCredentialIdentity;
  let clockOffsetMs = 0;
  before(async () => {
    emulator = await startAwsEmulator(testConfig({ now: () => Date.now() + clockOffsetMs }));
    writer = await assume(emulator);
  });
  after(() => emulator.stop());
  const put = (client: S3Client, key = "k", bucket: string = T.bucket) =>
    client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "x" }));

  it("InvalidAccessKeyId for unknown keys and for a session key without its token", async () => {
    await rejectsWith(
      put(
        s3Client(emulator, {
          accessKeyId: "ASIANOTKNOWN0000000",
          secretAccessKey: "x",
          sessionToken: "t",
        }),
      ),
      "InvalidAccessKeyId",
      403,
      "The AWS Access Key Id you provided does not exist in our records.",
    );
    await rejectsWith(
      put(
        s3Client(emulator, {
          accessKeyId: writer.accessKeyId,
          secretAccessKey: writer.secretAccessKey,
        }),
      ),
      "InvalidAccessKeyId",
      403,
    );
    await rejectsWith(
      put(s3Client(emulator, { ...writer, sessionToken: "forged" })),
      "InvalidToken",
      400,
    );
  });

  it("SignatureDoesNotMatch for a wrong secret, and unsigned x-amz- headers are refused", async () => {
    await rejectsWith(
      put(s3Client(emulator, { ...writer, secretAccessKey: "wrong" })),
      "SignatureDoesNotMatch",
      403,
      "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    );
    const sneaky = s3Client(emulator, writer);
    setHeadersBeforeSigning(sneaky, { "x-amz-meta-added-later": "1" }, true);
    await rejectsWith(
      put(sneaky),
      "AccessDenied",
      403,
      "There were headers present in the request which were not signed",
    );
  });

  it("ExpiredToken once a session is expired (early or by the clock), RequestTimeTooSkewed for a skewed signer", async () => {
    const early = await assume(emulator);
    await put(s3Client(emulator, early));
    emulator.expireSessions(early.accessKeyId);
    await rejectsWith(
      put(s3Client(emulator, early)),
      "ExpiredToken",
      400,
      "The provided token has expired.",
    );

    const short = await assume(emulator, T.writerRole, 900);
    await put(s3Client(emulator, short));
    clockOffsetMs = 901_000;
    try {
      await rejectsWith(put(s3Client(emulator, short)), "ExpiredToken", 400);
      await rejectsWith(put(s3Client(emulator, writer)), "RequestTimeTooSkewed", 403);
    } finally {
      clockOffsetMs = 0;
    }
  });

  it("region in the credential scope vs the bucket: AuthorizationHeaderMalformed and PermanentRedirect", async () => {
    const fromUsEast1 = await rejectsWith(
      put(s3Client(emulator, writer, "us-east-1")),
      "AuthorizationHeaderMalformed",
      400,
      "The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'",
    );
    assert.equal((fromUsEast1 as { Region?: string }).Region, "eu-west-1");
    const fromUsWest2 = await rejectsWith(
      put(s3Client(emulator, writer, "us-west-2")),
      "PermanentRedirect",
      301,
    );
    assert.equal(fromUsWest2.$response?.headers["x-amz-bucket-region"], "eu-west-1");
    assert.equal(
      (fromUsWest2 as { Endpoint?: string }).Endpoint,
      "acme-recs.s3.eu-west-1.amazonaws.com",
    );
    // HEAD answers carry no body, so the SDK (as with real S3) only has the status and headers.
    const head = await rejectsWith(
      s3Client(emulator, writer, "us-west-2").send(new HeadBucketCommand({ Bucket: T.bucket })),
      "Unknown",
      301,
    );
    assert.equal(head.$response?.headers["x-amz-bucket-region"], "eu-west-1");
    // The SDK's own redirect handling works against it.
    await put(
      s3Client(emulator, writer, "us-west-2", { followRegionRedirects: true }),
      "redirected",
    );
    assert.ok(emulator.objectInfo(T.bucket, "redirected"));
    await put(s3Client(emulator, writer, "us-east-1"), "in-us-east-1", T.usBucket);
  });

  it("NoSuchBucket, even before authorisation", async () => {
    const e = await rejectsWith(
      put(s3Client(emulator, writer), "k", "no-such-bucket"),
      "NoSuchBucket",
      404,
      "The specified bucket does not exist",
    );
    assert.equal((e as { BucketName?: string }).BucketName, "no-such-bucket");
    await rejectsWith(
      put(
        s3Client(emulator, { accessKeyId: "NOBODY-ACCESS-KEY-0000", secretAccessKey: "x" }),
        "k",
        "no-such-bucket",
      ),
      "NoSuchBucket",
      404,
    );
  });

  it("AccessDenied when the role lacks the action or the key is outside its prefix", async () => {
    const prefixed = s3Client(emulator, await assume(emulator, T.prefixRole));
    await put(prefixed, "tavus/conv/1");
    await rejectsWith(put(prefixed, "elsewhere/conv/1"), "AccessDenied", 403, "Access Denied");
    await rejectsWith(
      prefixed.send(new GetObjectCommand({ Bucket: T.bucket, Key: "tavus/conv/1" })),
      "AccessDenied",
      403,
    );
    await rejectsWith(
      prefixed.send(new DeleteObjectCommand({ Bucket: T.bucket, Key: "tavus/conv/1" })),
      "AccessDenied",
      403,
    );
    await rejectsWith(
      prefixed.send(new ListObjectsV2Command({ Bucket: T.bucket })),
      "AccessDenied",
      403,
    );
    // Refused before the body is read: with and without Expect: 100-continue the client gets the
    // answer, not a broken pipe.
    const big = Buffer.alloc(12 * 1024 * 1024, 1);
    await rejectsWith(
      prefixed.send(new PutObjectCommand({ Bucket: T.bucket, Key: "elsewhere/big", Body: big })),
      "AccessDenied",
      403,
    );
    const noExpect = s3Client(emulator, await assume(emulator, T.prefixRole), T.region, {
      requestChecksumCalculation: "WHEN_REQUIRED",
    });
    noExpect.middlewareStack.addRelativeTo(
      middleware((request) => {
        delete request.headers.Expect;
        delete request.headers.expect;
      }),
      { relation: "before", toMiddleware: "httpSigningMiddleware", name: "no-expect" },
    );
    await rejectsWith(
      noExpect.send(new PutObjectCommand({ Bucket: T.bucket, Key: "elsewhere/big", Body: big })),
      "AccessDenied",
      403,
    );
    const noPermissions = s3Client(emulator, await assume(emulator, T.shortRole));
    await rejectsWith(put(noPermissions), "AccessDenied", 403);
    // The operator's own user has no S3 permissions in this setup.
    await rejectsWith(put(s3Client(emulator, T.operator)), "AccessDenied", 403);
  });

  it("a missing key is 403 without s3:ListBucket and 404 with it", async () => {
    const withGet = await startAwsEmulator(
      testConfig({
        roles: [
          {
            arn: T.writerRole,
            trustPolicy: {
              Statement: [
                { Effect: "Allow", Principal: { AWS: T.operatorArn }, Action: "sts:AssumeRole" },
              ],
            },
            permissions: [{ bucket: T.bucket, actions: ["s3:GetObject"] }],
          },
        ],
      }),
    );
    try {
      const client = s3Client(withGet, await assume(withGet));
      await rejectsWith(
        client.send(new GetObjectCommand({ Bucket: T.bucket, Key: "missing" })),
        "AccessDenied",
        403,
      );
      await rejectsWith(
        client.send(new HeadObjectCommand({ Bucket: T.bucket, Key: "missing" })),
        "Unknown",
        403,
      );
    } finally {
      await withGet.stop();
    }
    await rejectsWith(
      s3Client(emulator, writer).send(new GetObjectCommand({ Bucket: T.bucket, Key: "missing" })),
      "NoSuchKey",
      404,
    );
  });
});
