import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { MiB, PartPool, PartWriter, partBody } from "./parts.ts";

const never = () => new AbortController().signal;
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Bytes whose parts can be told apart. */
function pattern(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) out[i] = (i * 13 + seed * 101 + (i >> 9)) & 0xff;
  return out;
}

describe("PartPool", () => {
  it("hands out at most the budget; an acquisition that does not fit waits for a release", async () => {
    const pool = new PartPool(3 * MiB);
    const a = await pool.acquire(MiB, never());
    const b = await pool.acquire(2 * MiB, never());
    let granted: Buffer | undefined;
    const waiting = pool.acquire(MiB, never()).then((buffer) => {
      granted = buffer;
      return buffer;
    });
    await tick();
    assert.equal(granted, undefined, "over budget: must wait");
    assert.equal(pool.stats().waits, 1);
    pool.release(a);
    const c = await waiting;
    assert.equal(c, a, "the released buffer of the same size is reused");
    assert.equal(pool.stats().outstandingBytes, 3 * MiB);
    pool.release(b);
    pool.release(c);
    assert.equal(pool.stats().outstandingBytes, 0);
    assert.ok(pool.stats().idleBytes <= 3 * MiB);
    assert.equal(pool.stats().maxOutstandingBytes, 3 * MiB);
  });

  it("a waiting acquisition gives up with its signal, and the next waiter is served", async () => {
    const pool = new PartPool(2 * MiB);
    const held = await pool.acquire(2 * MiB, never());
    const controller = new AbortController();
    const first = pool.acquire(MiB, controller.signal);
    const second = pool.acquire(MiB, never());
    controller.abort(new Error("gone"));
    await assert.rejects(first, /gone/);
    pool.release(held);
    assert.equal((await second).length, MiB);
  });

  it("a part larger than the whole budget is handed out alone", async () => {
    const pool = new PartPool(MiB);
    const small = await pool.acquire(MiB / 2, never());
    let granted = false;
    const waiting = pool.acquire(2 * MiB, never()).then((buffer) => {
      granted = true;
      return buffer;
    });
    await tick();
    assert.equal(granted, false);
    pool.release(small);
    assert.equal((await waiting).length, 2 * MiB);
  });
});

describe("PartWriter", () => {
  it("many concurrent uploads never hold more than the budget, and each arrives whole and in order", async () => {
    const partBytes = 256 * 1024;
    const budget = 5 * partBytes;
    const pool = new PartPool(budget);
    let sendsInFlight = 0;
    let maxSendsInFlight = 0;
    const uploads = Array.from({ length: 12 }, async (_, index) => {
      const data = pattern(partBytes * 7 + 1000 * index, index);
      const received = new Map<number, Buffer>();
      const prepared: number[] = [];
      const whole = createHash("sha256");
      const writer = new PartWriter<string>({
        plan: () => partBytes,
        pool,
        inFlight: 3,
        prepare: (part, partNumber) => {
          prepared.push(partNumber);
          whole.update(part);
          return createHash("md5").update(part).digest("hex");
        },
        send: async (part, partNumber, _final, md5, signal) => {
          sendsInFlight++;
          maxSendsInFlight = Math.max(maxSendsInFlight, sendsInFlight);
          assert.ok(pool.stats().outstandingBytes <= budget);
          // Later parts finish first now and then: completion order is not part order.
          for (let i = 0; i < ((partNumber * 7 + index) % 4) + 1; i++) await tick();
          signal.throwIfAborted();
          assert.equal(createHash("md5").update(part).digest("hex"), md5);
          received.set(partNumber, Buffer.from(part));
          sendsInFlight--;
        },
      });
      // Odd chunk sizes across part boundaries.
      for (let offset = 0; offset < data.length; offset += 100_003) {
        await writer.write(data.subarray(offset, offset + 100_003), never());
      }
      await writer.finish(never());
      const numbers = [...received.keys()].sort((a, b) => a - b);
      assert.deepEqual(prepared, numbers, "prepared in part order, each once");
      assert.deepEqual(
        Buffer.concat(numbers.map((n) => received.get(n) as Buffer)),
        data,
        `upload ${index} reassembles`,
      );
      assert.equal(
        whole.digest("hex"),
        createHash("sha256").update(data).digest("hex"),
        "whole hash in order",
      );
    });
    await Promise.all(uploads);
    const stats = pool.stats();
    assert.ok(stats.maxOutstandingBytes <= budget, `max ${stats.maxOutstandingBytes} > ${budget}`);
    assert.ok(stats.waits > 0, "uploads waited for budget rather than allocating");
    assert.ok(maxSendsInFlight > 1, "parts were in flight together");
    assert.equal(stats.outstandingBytes, 0, "every buffer went back");
    assert.ok(stats.outstandingBytes + stats.idleBytes <= budget);
  });

  it("a failed send fails the upload, stops the others and gives every buffer back", async () => {
    const pool = new PartPool(8 * MiB);
    const aborted: number[] = [];
    const writer = new PartWriter({
      plan: () => MiB,
      pool,
      inFlight: 4,
      prepare: () => undefined,
      send: async (_part, partNumber, _final, _prepared, signal) => {
        if (partNumber === 2) {
          await tick();
          throw new Error("part 2 refused");
        }
        await new Promise<void>((_resolve, reject) => {
          signal.addEventListener("abort", () => {
            aborted.push(partNumber);
            reject(signal.reason);
          });
        });
      },
    });
    const data = pattern(6 * MiB, 3);
    await assert.rejects(async () => {
      await writer.write(data, never());
      await writer.finish(never());
    }, /part 2 refused/);
    await writer.close();
    assert.ok(aborted.length > 0, "the other parts were stopped");
    assert.equal(pool.stats().outstandingBytes, 0);
  });

  it("with one in flight, the next part is filled and prepared while the previous one is sent", async () => {
    const pool = new PartPool(4 * MiB);
    const events: string[] = [];
    let release: (() => void) | undefined;
    const writer = new PartWriter({
      plan: () => MiB,
      pool,
      inFlight: 1,
      prepare: (_part, n) => {
        events.push(`prepare ${n}`);
      },
      send: async (_part, n) => {
        events.push(`send ${n}`);
        if (n === 1) await new Promise<void>((resolve) => (release = resolve));
        events.push(`sent ${n}`);
      },
    });
    await writer.write(pattern(MiB, 1), never());
    const second = writer.write(pattern(MiB, 2), never());
    await tick();
    assert.deepEqual(events, ["prepare 1", "send 1", "prepare 2"]);
    release?.();
    await second;
    await writer.finish(never());
    assert.deepEqual(events.slice(3), [
      "sent 1",
      "send 2",
      "sent 2",
      "prepare 3",
      "send 3",
      "sent 3",
    ]);
  });
});

describe("partBody", () => {
  it("streams the part in slices that are views of it, afresh on every call (a retry)", async () => {
    const part = Buffer.alloc(MiB + 12_345);
    for (let i = 0; i < part.length; i++) part[i] = (i * 31) & 0xff;
    const body = partBody(part);
    for (const attempt of [1, 2]) {
      const slices: Buffer[] = [];
      for await (const slice of body()) slices.push(slice as Buffer);
      assert.ok(slices.length > 1, `attempt ${attempt}: sent in slices`);
      assert.ok(
        slices.every((slice) => slice.buffer === part.buffer),
        "no copies",
      );
      assert.ok(Buffer.concat(slices).equals(part), `attempt ${attempt}: the same bytes`);
    }
  });
});
