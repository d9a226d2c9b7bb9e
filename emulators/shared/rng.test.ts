import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createSeededRandom } from "./rng.ts";

describe("createSeededRandom", () => {
  it("replays the same sequence for the same seed and differs across seeds", () => {
    const draw = (seed: number) => {
      const random = createSeededRandom(seed);
      return Array.from({ length: 100 }, () => random());
    };
    assert.deepEqual(draw(42), draw(42));
    assert.notDeepEqual(draw(42), draw(43));
  });

  it("stays in [0, 1) and spreads over the interval", () => {
    const random = createSeededRandom(7);
    const values = Array.from({ length: 10_000 }, () => random());
    assert.ok(values.every((v) => v >= 0 && v < 1));
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    assert.ok(Math.abs(mean - 0.5) < 0.02, `mean ${mean}`);
  });
});
