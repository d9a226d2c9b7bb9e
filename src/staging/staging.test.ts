/**
 * One behaviour suite run against both staging stores (a local temp directory, and a bucket of
 * the AWS emulator reached with the real SDK as an IAM user holding direct S3 permissions), then
 * what is particular to each.
 */
import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { S3Client } from "@aws-sdk/client-s3";
import { type AwsEmulator, startAwsEmulator } from "../../emulators/aws/index.ts";
import { testBytes } from "../../test/helpers/bytes.ts";
import {
  createLocalStagingStore,
  InvalidRecordingIdError,
  isStagingError,
  StagedBytesMissingError,
  StagingError,
  StagingLimitError,
  type StagingStore,
} from "./index.ts";
import { createS3StagingStore } from "./s3.ts";

const MiB = 1_048_576;

// ---------------------------------------------------------------------------------------------
// Sources and sinks

/** `bytes` in chunks of `chunkBytes` (fresh buffers: a store may hold on to what it is given). */
async function* chunksOf(bytes: Uint8Array, chunkBytes = 64 * 1024): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.byteLength; at += chunkBytes) {
    yield Uint8Array.prototype.slice.call(bytes, at, at + chunkBytes);
  }
}

/** Yields `bytes`, then fails like a client that went away mid-body. */
async function* tornSource(bytes: Uint8Array, failure: Error): AsyncGenerator<Uint8Array> {
  yield* chunksOf(bytes);
  throw failure;
}

/**
 * `totalBytes` of deterministic bytes produced on the fly (never held whole), each 64 KiB chunk
 * stamped with its index so a reordered or repeated chunk changes the hash.
 */
function generatedSource(totalBytes: number) {
  const chunkBytes = 64 * 1024;
  const pattern = testBytes(chunkBytes, 3);
  const hash = createHash("sha256");
  async function* source(): AsyncGenerator<Uint8Array> {
    for (let index = 0; index * chunkBytes < totalBytes; index++) {
      const chunk = Buffer.from(
        pattern.subarray(0, Math.min(chunkBytes, totalBytes - index * chunkBytes)),
      );
      chunk.writeUInt32BE(index, 0);
      hash.update(chunk);
      yield chunk;
    }
  }
  return { source: source(), sha256: () => hash.digest("hex") };
}

async function readAll(store: StagingStore, id: string, start: number | undefined, end: number) {
  const chunks: Uint8Array[] = [];
  for await (const chunk of store.read(id, { ...(start === undefined ? {} : { start }), end })) {
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Calls and, for a read, iterates: a refusal may come at either point. */
async function settle(run: () => Promise<unknown> | AsyncIterable<unknown>) {
  const result = run();
  if (Symbol.asyncIterator in (result as object)) {
    for await (const _ of result as AsyncIterable<unknown>);
  } else await result;
}

/** Samples RSS while `run` runs; returns the peak growth over the RSS measured before. */
async function rssGrowthDuring(run: () => Promise<void>): Promise<number> {
  const before = process.memoryUsage().rss;
  let peak = before;
  const sample = () => {
    peak = Math.max(peak, process.memoryUsage().rss);
  };
  const timer = setInterval(sample, 5);
  try {
    await run();
  } finally {
    clearInterval(timer);
  }
  sample();
  return peak - before;
}

// ---------------------------------------------------------------------------------------------
// The shared suite

interface StoreFixture {
  store: StagingStore;
  close(): Promise<void>;
}

function stagingStoreSuite(name: string, open: () => Promise<StoreFixture>) {
  describe(`staging store contract: ${name}`, () => {
    let fixture: StoreFixture;
    let store: StagingStore;
    before(async () => {
      fixture = await open();
      store = fixture.store;
    });
    after(async () => await fixture?.close());

    it("passes its readiness check and describes itself", async () => {
      await store.check(AbortSignal.timeout(30_000));
      assert.match(store.description, /\S/);
    });

    it("round-trips an append, and a 0-byte append writes nothing and keeps what is there", async () => {
      const id = randomUUID();
      assert.deepEqual(await store.append(id, 0, chunksOf(new Uint8Array(0))), {
        bytesWritten: 0,
      });
      assert.equal((await readAll(store, id, undefined, 0)).byteLength, 0);
      const bytes = testBytes(100_000, 1);
      assert.deepEqual(await store.append(id, 0, chunksOf(bytes, 7_000)), {
        bytesWritten: 100_000,
      });
      assert.deepEqual(await store.append(id, 100_000, chunksOf(new Uint8Array(0))), {
        bytesWritten: 0,
      });
      assert.deepEqual(await readAll(store, id, undefined, 100_000), bytes);
      // Empty chunks in a source are skipped, not written as anything.
      async function* withEmpties() {
        yield new Uint8Array(0);
        yield Uint8Array.of(1, 2, 3);
        yield new Uint8Array(0);
      }
      assert.deepEqual(await store.append(id, 100_000, withEmpties()), { bytesWritten: 3 });
      assert.deepEqual(
        await readAll(store, id, 99_999, 100_003),
        Buffer.from([bytes[99_999]!, 1, 2, 3]),
      );
    });

    it("concatenates many appends and serves any range of them", async () => {
      const id = randomUUID();
      const sizes = [1, 0, 4096, 17, 65_536, 0, 3, 100_000, 1, 250_000, 9, 0, 31_337];
      const parts = sizes.map((size, i) => testBytes(size, i + 10));
      let offset = 0;
      for (const [i, part] of parts.entries()) {
        const { bytesWritten } = await store.append(id, offset, chunksOf(part, 1 + i * 997));
        assert.equal(bytesWritten, part.byteLength);
        offset += bytesWritten;
      }
      const all = Buffer.concat(parts);
      assert.deepEqual(await readAll(store, id, undefined, all.byteLength), all);
      const boundaries = [0];
      for (const size of sizes) boundaries.push(boundaries.at(-1)! + size);
      const ranges: [number, number][] = [
        [0, 1],
        [1, 1],
        [0, 4097],
        [4096, 4100],
        [boundaries[4]!, boundaries[8]!],
        [boundaries[4]! + 5, boundaries[8]! - 5],
        [boundaries[9]! + 1000, boundaries[9]! + 1001],
        [all.byteLength - 1, all.byteLength],
        [all.byteLength, all.byteLength],
        [12_345, all.byteLength - 12_345],
      ];
      for (const [start, end] of ranges) {
        assert.deepEqual(
          await readAll(store, id, start, end),
          all.subarray(start, end),
          `range ${start}-${end}`,
        );
      }
    });

    it("a retry at the same offset replaces the torn tail of a failed append", async () => {
      const id = randomUUID();
      const head = testBytes(1000, 1);
      await store.append(id, 0, chunksOf(head));
      // Longer than a multipart part, so the S3 store has parts in flight when the source fails.
      const clientGone = new Error("the client went away");
      await assert.rejects(
        store.append(id, 1000, tornSource(testBytes(12 * MiB, 2), clientGone)),
        (error) => error === clientGone,
      );
      // What the caller recorded as durable is still served, nothing of the torn tail.
      assert.deepEqual(await readAll(store, id, undefined, 1000), head);
      const retry = testBytes(500, 3);
      assert.deepEqual(await store.append(id, 1000, chunksOf(retry)), { bytesWritten: 500 });
      assert.deepEqual(await readAll(store, id, undefined, 1500), Buffer.concat([head, retry]));
      await assert.rejects(
        settle(() => store.read(id, { end: 1501 })),
        StagedBytesMissingError,
      );

      // An append that succeeded but was never recorded (the caller died before it could) is
      // replaced by the next append at the recorded offset.
      await store.append(id, 1500, chunksOf(testBytes(2000, 4)));
      const last = testBytes(100, 5);
      await store.append(id, 1500, chunksOf(last));
      assert.deepEqual(
        await readAll(store, id, undefined, 1600),
        Buffer.concat([head, retry, last]),
      );
      await assert.rejects(
        settle(() => store.read(id, { end: 1601 })),
        StagedBytesMissingError,
      );
    });

    it("stops at maxBytes with StagingLimitError, keeping what was staged before", async () => {
      const id = randomUUID();
      const head = testBytes(300, 6);
      assert.deepEqual(await store.append(id, 0, chunksOf(head), { maxBytes: 300 }), {
        bytesWritten: 300,
      });
      const error = await store
        .append(id, 300, chunksOf(testBytes(10_000, 7), 1000), { maxBytes: 4_500 })
        .then(
          () => assert.fail("the append should have been refused"),
          (e: unknown) => e,
        );
      assert.ok(error instanceof StagingLimitError);
      assert.ok(isStagingError(error, "STAGING_LIMIT_EXCEEDED"));
      assert.equal(error.limitBytes, 4_500);
      assert.equal(error.recordingId, id);
      assert.ok(error.message.includes(id) && error.message.includes(store.description));
      assert.deepEqual(await readAll(store, id, undefined, 300), head);
      const tail = testBytes(4_500, 8);
      await store.append(id, 300, chunksOf(tail), { maxBytes: 4_500 });
      assert.deepEqual(await readAll(store, id, undefined, 4_800), Buffer.concat([head, tail]));
    });

    it("refuses an offset or a read end past the staged bytes", async () => {
      const id = randomUUID();
      await store.append(id, 0, chunksOf(testBytes(10, 1)));
      await assert.rejects(store.append(id, 11, chunksOf(testBytes(5, 2))), (error: unknown) => {
        assert.ok(error instanceof StagedBytesMissingError);
        assert.equal(error.code, "STAGED_BYTES_MISSING");
        assert.equal(error.stagedBytes, 10);
        assert.equal(error.requiredBytes, 11);
        assert.match(error.message, new RegExp(id));
        return true;
      });
      await assert.rejects(
        settle(() => store.read(id, { end: 11 })),
        StagedBytesMissingError,
      );
      const fresh = randomUUID();
      await assert.rejects(store.append(fresh, 5, chunksOf(testBytes(5))), StagedBytesMissingError);
      for await (const listed of store.list()) assert.notEqual(listed, fresh, "nothing staged");
      await assert.rejects(
        settle(() => store.read(randomUUID(), { end: 1 })),
        StagedBytesMissingError,
      );
      await assert.rejects(
        settle(() => store.read(id, { start: 5, end: 4 })),
        (error: unknown) => isStagingError(error, "STAGING_FAILED"),
      );
      await assert.rejects(store.append(id, -1, chunksOf(testBytes(1))), (error: unknown) =>
        isStagingError(error, "STAGING_FAILED"),
      );
      assert.deepEqual(await readAll(store, id, undefined, 10), testBytes(10, 1));
    });

    it("stops an append whose source stalls when its signal fires", async () => {
      const id = randomUUID();
      const controller = new AbortController();
      const reason = new Error("shutting down");
      async function* stalls() {
        yield testBytes(1000, 1);
        controller.abort(reason);
        await new Promise(() => {});
      }
      await assert.rejects(
        store.append(id, 0, stalls(), { signal: controller.signal }),
        (error) => error === reason,
      );
      await store.append(id, 0, chunksOf(testBytes(10, 2)));
      assert.deepEqual(await readAll(store, id, undefined, 10), testBytes(10, 2));
    });

    it("lists staged recordings and deletes them; deleting a missing one is fine", async () => {
      const ids = [randomUUID(), randomUUID(), randomUUID()];
      for (const id of ids) await store.append(id, 0, chunksOf(testBytes(2000, 1)));
      await store.append(ids[0]!, 2000, chunksOf(testBytes(2000, 2)));
      await store.check();
      const listed = new Set<string>();
      for await (const id of store.list()) listed.add(id);
      for (const id of ids) assert.ok(listed.has(id), `${id} listed`);
      for (const id of listed) assert.match(id, /^[0-9a-f-]{36}$/, "only recording ids");

      await store.delete(ids[0]!);
      await store.delete(ids[0]!);
      await store.delete(randomUUID());
      const after: string[] = [];
      for await (const id of store.list()) after.push(id);
      assert.ok(!after.includes(ids[0]!));
      assert.ok(after.includes(ids[1]!) && after.includes(ids[2]!));
      await assert.rejects(
        settle(() => store.read(ids[0]!, { end: 1 })),
        StagedBytesMissingError,
      );
      // A deleted recording starts again from zero.
      await store.append(ids[0]!, 0, chunksOf(testBytes(5, 9)));
      assert.deepEqual(await readAll(store, ids[0]!, undefined, 5), testBytes(5, 9));
    });

    it("refuses ids that are not UUIDs (no path traversal, no key injection)", async () => {
      const id = randomUUID();
      const bad: unknown[] = [
        "",
        "..",
        "../../etc/passwd",
        `${id}/../${randomUUID()}`,
        `../${id}`,
        `${id}.rec`,
        `${id}/0000000000000000`,
        id.replace(/-/g, ""),
        `{${id}}`,
        `${id.slice(0, -1)}g`,
        ` ${id}`,
        42,
        undefined,
      ];
      for (const value of bad) {
        const raw = value as string;
        for (const run of [
          () => store.append(raw, 0, chunksOf(testBytes(1))),
          () => store.read(raw, { end: 0 }),
          () => store.delete(raw),
        ]) {
          await assert.rejects(settle(run), (error: unknown) => {
            assert.ok(error instanceof InvalidRecordingIdError, `${String(value)} refused`);
            assert.equal(error.code, "INVALID_RECORDING_ID");
            assert.ok(error.message.includes(store.description));
            return true;
          });
        }
      }
      // The same UUID in capitals is the same recording.
      await store.append(id.toUpperCase(), 0, chunksOf(testBytes(3, 1)));
      assert.deepEqual(await readAll(store, id, undefined, 3), testBytes(3, 1));
    });

    it("streams a 300 MB append and read back in bounded memory (three times)", async (t) => {
      const size = 300 * 1_000_000;
      for (let run = 1; run <= 3; run++) {
        const id = randomUUID();
        const generated = generatedSource(size);
        const appendGrowth = await rssGrowthDuring(async () => {
          assert.deepEqual(await store.append(id, 0, generated.source), { bytesWritten: size });
        });
        const readHash = createHash("sha256");
        let readBytes = 0;
        const readGrowth = await rssGrowthDuring(async () => {
          for await (const chunk of store.read(id, { end: size })) {
            readHash.update(chunk);
            readBytes += chunk.byteLength;
          }
        });
        await store.delete(id);
        t.diagnostic(
          `run ${run}: RSS growth ${(appendGrowth / MiB).toFixed(1)} MiB appending, ${(readGrowth / MiB).toFixed(1)} MiB reading`,
        );
        assert.equal(readBytes, size);
        assert.equal(readHash.digest("hex"), generated.sha256(), `run ${run}: same bytes back`);
        assert.ok(
          appendGrowth < 100 * MiB,
          `run ${run}: RSS grew ${(appendGrowth / MiB).toFixed(1)} MiB during the append`,
        );
        assert.ok(
          readGrowth < 100 * MiB,
          `run ${run}: RSS grew ${(readGrowth / MiB).toFixed(1)} MiB during the read`,
        );
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Local directory

const localDirs: string[] = [];
after(async () => {
  for (const dir of localDirs) await rm(dir, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "staging-test-"));
  localDirs.push(dir);
  return dir;
}

stagingStoreSuite("local directory", async () => {
  const dir = join(await tempDir(), "staging");
  return { store: createLocalStagingStore({ dir }), close: async () => {} };
});

describe("local staging store", () => {
  it("creates its directory 0700 and files 0600, one file per recording", async () => {
    const dir = join(await tempDir(), "nested", "staging");
    const store = createLocalStagingStore({ dir });
    assert.equal(store.description, `local directory ${dir}`);
    const id = randomUUID();
    await store.append(id, 0, chunksOf(testBytes(10)));
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    assert.equal((await stat(join(dir, `${id}.rec`))).mode & 0o777, 0o600);
    await store.check();
    assert.deepEqual(await readdir(dir), [`${id}.rec`], "the probe is gone, nothing else is there");
  });

  it("keeps a torn tail on disk but never serves it, and cuts it at the next append", async () => {
    const dir = await tempDir();
    const store = createLocalStagingStore({ dir });
    const id = randomUUID();
    await store.append(id, 0, chunksOf(testBytes(100, 1)));
    await assert.rejects(store.append(id, 100, tornSource(testBytes(5000, 2), new Error("gone"))));
    assert.ok((await stat(join(dir, `${id}.rec`))).size > 100, "the torn bytes are on disk");
    assert.deepEqual(await readAll(store, id, undefined, 100), testBytes(100, 1));
    await store.append(id, 100, chunksOf(testBytes(10, 3)));
    assert.equal((await stat(join(dir, `${id}.rec`))).size, 110);
  });

  it("with reuseBuffer, hands out views of one read buffer; without, chunks that may be kept", async () => {
    const store = createLocalStagingStore({ dir: await tempDir() });
    const id = randomUUID();
    // Several read chunks, the last one short, read from an offset.
    const bytes = testBytes(3_500_000, 4);
    await store.append(id, 0, chunksOf(bytes, 65_536));
    const start = 3;

    const copies: Buffer[] = [];
    const memories = new Set<ArrayBufferLike>();
    for await (const chunk of store.read(id, { start, end: bytes.length, reuseBuffer: true })) {
      memories.add(chunk.buffer);
      copies.push(Buffer.from(chunk));
    }
    assert.ok(copies.length >= 3, `${copies.length} chunks`);
    assert.equal(memories.size, 1, "every chunk is a view of the same buffer");
    assert.deepEqual(Buffer.concat(copies), Buffer.from(bytes.subarray(start)));

    // A consumer that keeps chunks (the content route) must get memory of its own per chunk.
    const kept: Uint8Array[] = [];
    for await (const chunk of store.read(id, { start, end: bytes.length })) kept.push(chunk);
    assert.equal(new Set(kept.map((chunk) => chunk.buffer)).size, kept.length);
    assert.deepEqual(Buffer.concat(kept), Buffer.from(bytes.subarray(start)));
  });

  it("does not list other files of the directory", async () => {
    const dir = await tempDir();
    const id = randomUUID();
    await writeFile(join(dir, "notes.txt"), "x");
    await writeFile(join(dir, `${id.toUpperCase()}.rec`), "x");
    await writeFile(join(dir, `${randomUUID()}.tmp`), "x");
    const store = createLocalStagingStore({ dir });
    await store.append(id, 0, chunksOf(testBytes(1)));
    const listed: string[] = [];
    for await (const listedId of store.list()) listed.push(listedId);
    assert.deepEqual(listed, [id]);
    const empty = createLocalStagingStore({ dir: join(dir, "not-created-yet") });
    for await (const _ of empty.list()) assert.fail("nothing is staged there");
  });

  it("check fails clearly when the directory cannot be written", async () => {
    // A path under a regular file cannot be a directory, even for root (tests may run as root).
    const file = join(await tempDir(), "a-file");
    await writeFile(file, "x");
    const store = createLocalStagingStore({ dir: join(file, "staging") });
    await assert.rejects(store.check(), (error: unknown) => {
      assert.ok(isStagingError(error, "STAGING_FAILED"));
      assert.match(error.message, /cannot be written/);
      assert.ok(error.message.includes(join(file, "staging")));
      assert.match(error.message, /ENOTDIR|EEXIST/);
      return true;
    });
    await assert.rejects(store.append(randomUUID(), 0, chunksOf(testBytes(1))), StagingError);
  });
});

// ---------------------------------------------------------------------------------------------
// S3-compatible bucket (the AWS emulator)

const S3 = {
  bucket: "relay-staging",
  region: "eu-west-1",
  prefix: "staging/",
  /** The operator's IAM user, allowed exactly what the store needs under the prefix. */
  user: {
    arn: "arn:aws:iam::111111111111:user/relay-staging",
    accessKeyId: "TEST-STAGING-KEY-0001",
    secretAccessKey: "staging-secret-do-not-print",
  },
  /** A user of the same account without any S3 permission. */
  nobody: {
    arn: "arn:aws:iam::111111111111:user/nobody",
    accessKeyId: "TEST-NOBODY-KEY-00001",
    secretAccessKey: "nobody-secret",
  },
} as const;

async function startStagingEmulator(): Promise<AwsEmulator> {
  return await startAwsEmulator({
    identities: [
      {
        ...S3.user,
        permissions: [
          {
            bucket: S3.bucket,
            prefix: S3.prefix,
            actions: [
              "s3:ListBucket",
              "s3:PutObject",
              "s3:GetObject",
              "s3:DeleteObject",
              "s3:AbortMultipartUpload",
            ],
          },
        ],
      },
      S3.nobody,
    ],
    buckets: [{ name: S3.bucket, region: S3.region }],
  });
}

function s3Client(aws: AwsEmulator, credentials: { accessKeyId: string; secretAccessKey: string }) {
  return new S3Client({
    endpoint: aws.endpoint,
    forcePathStyle: true,
    region: S3.region,
    credentials: {
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
    },
  });
}

stagingStoreSuite("S3-compatible bucket", async () => {
  const aws = await startStagingEmulator();
  const client = s3Client(aws, S3.user);
  return {
    store: createS3StagingStore({ client, bucket: S3.bucket, prefix: S3.prefix }),
    close: async () => {
      client.destroy();
      await aws.stop();
    },
  };
});

describe("S3 staging store", () => {
  let aws: AwsEmulator;
  let client: S3Client;
  before(async () => {
    aws = await startStagingEmulator();
    client = s3Client(aws, S3.user);
  });
  after(async () => {
    client?.destroy();
    await aws?.stop();
  });

  it("writes one segment object per append, keyed by its zero-padded offset", async () => {
    const store = createS3StagingStore({ client, bucket: S3.bucket, prefix: "staging" });
    assert.equal(store.description, "S3 bucket s3://relay-staging/staging/");
    const id = randomUUID();
    await store.append(id, 0, chunksOf(testBytes(10, 1)));
    await store.append(id, 10, chunksOf(new Uint8Array(0)));
    await store.append(id, 10, chunksOf(testBytes(6 * MiB, 2)));
    const keys = aws.keys(S3.bucket).filter((key) => key.includes(id));
    assert.deepEqual(keys, [`staging/${id}/0000000000000000`, `staging/${id}/0000000000000010`]);
    assert.equal(aws.objectInfo(S3.bucket, keys[1]!)?.size, 6 * MiB);
    // A retry at 0 drops every later segment before writing its own.
    await store.append(id, 0, chunksOf(testBytes(3, 3)));
    assert.deepEqual(
      aws.keys(S3.bucket).filter((key) => key.includes(id)),
      [`staging/${id}/0000000000000000`],
    );
    await store.delete(id);
    assert.deepEqual(
      aws.keys(S3.bucket).filter((key) => key.includes(id)),
      [],
    );
  });

  it("aborts the multipart upload of a torn append", async () => {
    const store = createS3StagingStore({ client, bucket: S3.bucket, prefix: S3.prefix });
    const before = aws.pendingUploads(S3.bucket).length;
    await assert.rejects(
      store.append(randomUUID(), 0, tornSource(testBytes(20 * MiB, 1), new Error("gone"))),
      /gone/,
    );
    assert.equal(aws.pendingUploads(S3.bucket).length, before);
    const started = aws.requests().filter((r) => r.operation === "UploadPart").length;
    assert.ok(started > 0, "the torn append had parts in flight");
  });

  it("check fails clearly on a missing bucket, without printing the secret", async () => {
    const store = createS3StagingStore({ client, bucket: "no-such-staging", prefix: S3.prefix });
    await assert.rejects(store.check(), (error: unknown) => {
      assert.ok(isStagingError(error, "STAGING_FAILED"));
      assert.match(error.message, /cannot be written/);
      assert.match(error.message, /s3:\/\/no-such-staging\/staging\//);
      assert.match(error.message, /does not exist.*NoSuchBucket/);
      assert.ok(!error.message.includes(S3.user.secretAccessKey));
      return true;
    });
  });

  it("check fails clearly when the credentials may not use the bucket", async () => {
    const nobody = s3Client(aws, S3.nobody);
    try {
      const store = createS3StagingStore({ client: nobody, bucket: S3.bucket, prefix: S3.prefix });
      await assert.rejects(store.check(), /access denied.*AccessDenied \(HTTP 403\)/);
      const outside = createS3StagingStore({ client, bucket: S3.bucket, prefix: "elsewhere/" });
      await assert.rejects(outside.check(), /access denied/);
      await assert.rejects(
        outside.append(randomUUID(), 0, chunksOf(testBytes(1))),
        (error: unknown) =>
          error instanceof StagingError &&
          /could not append recording [0-9a-f-]{36} at byte 0/.test(error.message),
      );
    } finally {
      nobody.destroy();
    }
  });
});
