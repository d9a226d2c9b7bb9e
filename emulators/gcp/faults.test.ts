import assert from "node:assert/strict";
import { createHash, randomFillSync } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { guardLoopbackOnly } from "../shared/loopback-guard.ts";
import { startTestIssuer, type TestIssuer } from "../shared/test-issuer.ts";
import { FaultInjector } from "./faults.ts";
import { demoGcpSetup, type GcpEmulator, startGcpEmulator } from "./index.ts";
import { identityPoolClientV9, identityPoolClientV10, storageFor } from "./test-clients.ts";

const WORKSPACE = "ws_f4u17";
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
  ({ audience } = setup);
  writer = setup.destination.service_account_email;
  bucket = setup.destination.bucket_name;
  emulator = await startGcpEmulator({ customers: setup.customers, faults: { seed: 7 } });
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

describe("fault schedule", () => {
  test("the same seed gives the same decisions; setting the seed restarts the schedule", () => {
    const settings = { seed: 42, errorRate: 0.3, resetRate: 0.2, latencyJitterMs: 10 };
    const a = new FaultInjector(settings);
    const b = new FaultInjector(settings);
    const first = Array.from({ length: 50 }, () => a.decide("gcs"));
    assert.deepEqual(
      first,
      Array.from({ length: 50 }, () => b.decide("gcs")),
    );
    assert.ok(
      first.some((d) => d.errorStatus !== undefined) &&
        first.some((d) => d.errorStatus === undefined),
    );
    a.set({ seed: 42 });
    assert.deepEqual(a.decide("gcs"), first[0]);
    assert.throws(() => a.set({ errorRate: 2 }), RangeError);
  });

  test("APIs outside `apis` are untouched", () => {
    const injector = new FaultInjector({ errorRate: 1, apis: ["gcs"] });
    assert.equal(injector.decide("sts").errorStatus, undefined);
    assert.notEqual(injector.decide("gcs").errorStatus, undefined);
  });
});

describe("faults on the wire", () => {
  test("injected errors use each API's error format, and can be switched at runtime", async () => {
    emulator.setFaults({ errorRate: 1, errorStatuses: [503], apis: ["gcs"] });
    try {
      const gcs = await fetch(`${emulator.endpoint}/storage/v1/b/${bucket}/o`);
      assert.equal(gcs.status, 503);
      assert.deepEqual(await gcs.json(), {
        error: {
          code: 503,
          message: "Backend Error",
          errors: [{ message: "Backend Error", domain: "global", reason: "backendError" }],
        },
      });
      emulator.setFaults({ errorStatuses: [429], apis: ["sts"] });
      const sts = await fetch(emulator.stsTokenUrl, {
        method: "POST",
        body: new URLSearchParams(),
      });
      assert.equal(sts.status, 429);
      assert.equal(
        ((await sts.json()) as { error: { status: string } }).error.status,
        "RESOURCE_EXHAUSTED",
      );
      assert.equal(emulator.requests.at(-1)?.injected, true);
    } finally {
      emulator.setFaults({ errorRate: 0, apis: ["sts", "iam", "gcs"] });
    }
    assert.equal((await fetch(`${emulator.endpoint}/storage/v1/b/${bucket}/o`)).status, 401);
  });

  test("added latency delays answers", async () => {
    emulator.setFaults({ latencyMs: 150 });
    try {
      const started = performance.now();
      await (await fetch(`${emulator.endpoint}/storage/v1/b/${bucket}/o`)).arrayBuffer();
      assert.ok(performance.now() - started >= 145);
    } finally {
      emulator.setFaults({ latencyMs: 0 });
    }
  });

  test("connection resets mid-chunk: the SDK resyncs from the persisted Range and the object is intact", async () => {
    const storage = storageFor(emulator, identityPoolClientV9(federation()), 20);
    const file = storage.bucket(bucket).file("tavus/reset/1");
    const [uri] = await file.createResumableUpload({ preconditionOpts: { ifGenerationMatch: 0 } });
    const content = randomFillSync(Buffer.alloc(12 * MIB));
    emulator.setFaults({ seed: 3, resetRate: 0.35, apis: ["gcs"] });
    try {
      await pipeline(
        Readable.from([content]),
        file.createWriteStream({ uri, chunkSize: MIB, preconditionOpts: { ifGenerationMatch: 0 } }),
      );
    } finally {
      emulator.setFaults({ resetRate: 0, apis: ["sts", "iam", "gcs"] });
    }
    const stored = emulator.getObject(bucket, "tavus/reset/1")!;
    assert.equal(stored.sizeBytes, content.length);
    assert.equal(stored.sha256Hex, createHash("sha256").update(content).digest("hex"));
    assert.ok(
      emulator.requests.some((r) => r.status === "reset"),
      "at least one connection was reset",
    );
  });

  test("a reset in the middle of a download cuts the body", async () => {
    const { token } = await identityPoolClientV10(federation()).getAccessToken();
    const name = "tavus/download/1";
    const upload = await fetch(
      `${emulator.endpoint}/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${encodeURIComponent(name)}`,
      {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
        body: randomFillSync(Buffer.alloc(4 * MIB)),
      },
    );
    assert.equal(upload.status, 200);
    emulator.setFaults({ resetRate: 1, apis: ["gcs"] });
    try {
      const response = await fetch(
        `${emulator.endpoint}/storage/v1/b/${bucket}/o/${encodeURIComponent(name)}?alt=media`,
        {
          headers: { authorization: `Bearer ${token}` },
        },
      );
      await assert.rejects(response.arrayBuffer());
    } finally {
      emulator.setFaults({ resetRate: 0, apis: ["sts", "iam", "gcs"] });
    }
  });

  test("early token expiry: tokens die before their advertised expiry", async () => {
    emulator.setFaults({ tokenLifetimeSeconds: 1 });
    try {
      const client = identityPoolClientV10(federation());
      const { token } = await client.getAccessToken();
      await sleep(1_100);
      assert.ok(
        client.credentials.expiry_date! > Date.now() + 3_000_000,
        "the advertised expiry is still an hour",
      );
      const response = await fetch(`${emulator.endpoint}/storage/v1/b/${bucket}/o`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(response.status, 401);
      assert.equal(
        ((await response.json()) as { error: { message: string } }).error.message,
        "Invalid Credentials",
      );
    } finally {
      emulator.setFaults({ tokenLifetimeSeconds: undefined });
    }
    const { token } = await identityPoolClientV10(federation()).getAccessToken();
    const ok = await fetch(`${emulator.endpoint}/storage/v1/b/${bucket}/o`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(ok.status, 200);
    emulator.expireTokens();
    assert.equal(
      (
        await fetch(`${emulator.endpoint}/storage/v1/b/${bucket}/o`, {
          headers: { authorization: `Bearer ${token}` },
        })
      ).status,
      401,
    );
  });
});
