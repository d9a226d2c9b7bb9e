import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fullJitterBackoffMs } from "./backoff.ts";

/** Just below 1, the largest value `Math.random` can return. */
const almostOne = 1 - Number.EPSILON;

describe("fullJitterBackoffMs", () => {
  it("waits 0 when random is 0, whatever the attempt", () => {
    for (const attempt of [1, 2, 10, 1_000]) {
      assert.equal(
        fullJitterBackoffMs(attempt, { baseMs: 500, capMs: 60_000, random: () => 0 }),
        0,
      );
    }
  });

  it("stays just below the bound as random approaches 1", () => {
    const options = { baseMs: 500, capMs: 60_000, random: () => almostOne };
    assert.equal(fullJitterBackoffMs(1, options), 499);
    assert.equal(fullJitterBackoffMs(2, options), 999);
    assert.equal(fullJitterBackoffMs(3, options), 1_999);
  });

  it("doubles its bound per attempt until the cap", () => {
    const half = { baseMs: 1_000, capMs: 1_000_000, random: () => 0.5 };
    const waits = [1, 2, 3, 4, 5].map((attempt) => fullJitterBackoffMs(attempt, half));
    assert.deepEqual(waits, [500, 1_000, 2_000, 4_000, 8_000]);
  });

  it("never exceeds the cap, even after very many attempts", () => {
    const options = { baseMs: 500, capMs: 30_000, random: () => almostOne };
    for (const attempt of [7, 8, 53, 54, 10_000]) {
      assert.equal(fullJitterBackoffMs(attempt, options), 29_999);
    }
  });

  it("returns whole milliseconds within [0, bound) for any random draw", () => {
    for (let i = 0; i < 1_000; i++) {
      const attempt = 1 + (i % 12);
      const wait = fullJitterBackoffMs(attempt, { baseMs: 100, capMs: 100_000 });
      assert.ok(Number.isInteger(wait));
      assert.ok(wait >= 0 && wait < Math.min(100_000, 100 * 2 ** (attempt - 1)), `${wait}`);
    }
  });

  it("treats an attempt below 1 as the first", () => {
    const options = { baseMs: 800, capMs: 60_000, random: () => almostOne };
    assert.equal(fullJitterBackoffMs(0, options), fullJitterBackoffMs(1, options));
  });
});
