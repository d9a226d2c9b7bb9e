import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { AssumeRoleCommand } from "@aws-sdk/client-sts";
import { createSeededRandom } from "../shared/rng.ts";
import { FaultInjector } from "./faults.ts";
import { type AwsEmulator, startAwsEmulator } from "./index.ts";
import { assume, rejectsWith, s3Client, stsClient, T, testConfig } from "./testing.ts";

describe("fault injection is deterministic", () => {
  it("the same seed gives the same decisions, another seed others", () => {
    const decisions = (seed: number) => {
      const injector = new FaultInjector({ seed, rules: [{ errorRate: 0.3, resetRate: 0.2 }] });
      return Array.from({ length: 200 }, () => {
        const plan = injector.plan({ service: "s3", operation: "PutObject", bucket: "b" });
        return `${plan.error ?? "-"}/${plan.resetAfterBytes ?? "-"}`;
      });
    };
    assert.deepEqual(decisions(7), decisions(7));
    assert.notDeepEqual(decisions(7), decisions(8));
    const errors = decisions(7).filter((d) => !d.startsWith("-")).length;
    assert.ok(errors > 35 && errors < 85, `${errors} errors out of 200 at rate 0.3`);
    assert.equal(createSeededRandom(1)(), createSeededRandom(1)());
  });

  it("rules match by service, bucket and operation", () => {
    const injector = new FaultInjector({
      rules: [{ bucket: "a", operations: ["UploadPart"], errorRate: 1, errors: ["SlowDown"] }],
    });
    assert.equal(
      injector.plan({ service: "s3", operation: "UploadPart", bucket: "a" }).error,
      "SlowDown",
    );
    assert.equal(
      injector.plan({ service: "s3", operation: "PutObject", bucket: "a" }).error,
      undefined,
    );
    assert.equal(
      injector.plan({ service: "s3", operation: "UploadPart", bucket: "b" }).error,
      undefined,
    );
    assert.equal(injector.plan({ service: "sts", operation: "AssumeRole" }).error, undefined);
  });
});

describe("fault injection against the SDK", () => {
  let emulator: AwsEmulator;
  let s3: S3Client;
  before(async () => {
    emulator = await startAwsEmulator(testConfig());
    s3 = s3Client(emulator, await assume(emulator));
  });
  after(() => emulator.stop());
  const put = (client: S3Client, Bucket: string = T.bucket, Body: string | Buffer = "x") =>
    client.send(new PutObjectCommand({ Bucket, Key: "faulty", Body }));

  it("answers 503 SlowDown and 500 InternalError, per bucket, switchable at runtime", async () => {
    emulator.faults.set({ rules: [{ bucket: T.bucket, errorRate: 1, errors: ["SlowDown"] }] });
    await rejectsWith(put(s3), "SlowDown", 503, "Please reduce your request rate.");
    await put(s3Client(emulator, await assume(emulator), "us-east-1"), T.usBucket);
    emulator.faults.set({ rules: [{ errorRate: 1, errors: ["InternalError"] }] });
    await rejectsWith(put(s3), "InternalError", 500);
    emulator.faults.clear();
    await put(s3);
    assert.deepEqual(
      emulator
        .requests()
        .filter((r) => r.fault === "error")
        .map((r) => [r.code, r.status]),
      [
        ["SlowDown", 503],
        ["InternalError", 500],
      ],
    );
  });

  it("the SDK's retries get through an error rate below one", async () => {
    emulator.faults.set({ seed: 42, rules: [{ errorRate: 0.5 }] });
    try {
      const retrying = s3Client(emulator, await assume(emulator), T.region, { maxAttempts: 10 });
      for (let i = 0; i < 3; i++) await put(retrying);
    } finally {
      emulator.faults.clear();
    }
  });

  it("STS faults: InternalFailure and Throttling", async () => {
    const call = () =>
      stsClient(emulator, T.operator).send(
        new AssumeRoleCommand({
          RoleArn: T.writerRole,
          RoleSessionName: "s",
          ExternalId: T.externalId,
        }),
      );
    emulator.faults.set({ rules: [{ service: "sts", errorRate: 1, errors: ["SlowDown"] }] });
    try {
      await rejectsWith(call(), "Throttling", 400, "Rate exceeded");
      emulator.faults.set({
        rules: [
          { service: "sts", operations: ["AssumeRole"], errorRate: 1, errors: ["InternalError"] },
        ],
      });
      await rejectsWith(call(), "InternalFailure", 500);
    } finally {
      emulator.faults.clear();
    }
  });

  it("adds latency", async () => {
    emulator.faults.set({ rules: [{ operations: ["PutObject"], latencyMs: 300 }] });
    try {
      const started = performance.now();
      await put(s3);
      assert.ok(performance.now() - started >= 290);
    } finally {
      emulator.faults.clear();
    }
  });

  it("resets the connection in the middle of a request body and of a response body", async () => {
    const body = randomBytes(1024 * 1024);
    emulator.faults.set({
      rules: [{ operations: ["PutObject"], resetRate: 1, resetAfterBytes: 100_000 }],
    });
    await assert.rejects(put(s3, T.bucket, body), (e: Error & { code?: string }) => {
      assert.match(`${e.code} ${e.name} ${e.message}`, /ECONNRESET|EPIPE|socket hang up/);
      return true;
    });
    assert.equal(
      emulator.objectInfo(T.bucket, "faulty")?.size,
      1,
      "the interrupted write did not replace the object",
    );
    emulator.faults.clear();
    await put(s3, T.bucket, body);

    emulator.faults.set({
      rules: [{ operations: ["GetObject"], resetRate: 1, resetAfterBytes: 200_000 }],
    });
    try {
      const got = await s3.send(new GetObjectCommand({ Bucket: T.bucket, Key: "faulty" }));
      await assert.rejects(got.Body!.transformToByteArray());
    } finally {
      emulator.faults.clear();
    }
  });

  it("CompleteMultipartUpload can answer 200 with an error body, which the SDK reports", async () => {
    const key = "faulty-mpu";
    const id = (await s3.send(new CreateMultipartUploadCommand({ Bucket: T.bucket, Key: key })))
      .UploadId!;
    const p = await s3.send(
      new UploadPartCommand({ Bucket: T.bucket, Key: key, UploadId: id, PartNumber: 1, Body: "x" }),
    );
    const parts = { Parts: [{ PartNumber: 1, ETag: p.ETag, ChecksumCRC32: p.ChecksumCRC32 }] };
    emulator.faults.set({ rules: [{ completeErrorIn200Rate: 1 }] });
    await rejectsWith(
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: T.bucket,
          Key: key,
          UploadId: id,
          MultipartUpload: parts,
        }),
      ),
      "InternalError",
      // The wire status is 200; the SDK rewrites an error-in-200 to 503 so it is retried.
      503,
    );
    assert.deepEqual(
      emulator
        .requests()
        .filter((r) => r.fault === "error-in-200")
        .map((r) => r.status),
      [200],
    );
    assert.equal(
      emulator.pendingUploads(T.bucket).length,
      1,
      "the upload is still there to complete",
    );
    emulator.faults.clear();
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: T.bucket,
        Key: key,
        UploadId: id,
        MultipartUpload: parts,
      }),
    );
  });

  it("credentials expire early: the session stops working before its announced Expiration", async () => {
    emulator.faults.set({ rules: [], sessionLifetimeCapSeconds: 0 });
    try {
      const creds = await assume(emulator, T.writerRole, 3600);
      assert.ok(creds.expiration!.getTime() > Date.now() + 3_500_000);
      await rejectsWith(put(s3Client(emulator, creds)), "ExpiredToken", 400);
    } finally {
      emulator.faults.clear();
    }
    const fresh = await assume(emulator);
    await put(s3Client(emulator, fresh));
  });
});
