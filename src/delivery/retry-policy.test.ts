/**
 * The delivery retry policy (docs/api.md, Delivery, "Retries and budgets") walked on a simulated
 * clock with an injected random source: each failed attempt's decision moves the clock by its
 * delay, exactly as the worker's `run_at` does, until the policy gives up.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadConfig } from "../config/index.ts";
import type { DestinationErrorCode } from "../destinations/index.ts";
import {
  afterFailedAttempt,
  type RetryDecision,
  type RetryPolicySettings,
} from "./retry-policy.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** The production defaults, read from the settings table as the engine does. */
function defaults(): RetryPolicySettings {
  const config = loadConfig({ env: {} });
  return {
    baseMs: config.deliveryRetryBaseMs,
    capMs: config.deliveryRetryCapMs,
    budgetMs: config.deliveryRetryBudgetMinutes * MINUTE,
    configBaseMs: config.deliveryConfigRetryBaseMs,
    configBudgetMs: config.deliveryConfigRetryBudgetMinutes * MINUTE,
  };
}

/** A seeded uniform source in [0, 1) (xorshift32), so the walks are reproducible. */
function seeded(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

/**
 * Fails every attempt of one delivery with `code` from its creation (clock 0) until the policy
 * gives up; returns each attempt's start, each retry's delay and the final decision.
 */
function walk(
  failure: { code: DestinationErrorCode; transient: boolean },
  settings: RetryPolicySettings,
  random: () => number,
) {
  const starts: number[] = [];
  const delays: number[] = [];
  let nowMs = 0;
  for (let attempts = 1; attempts < 100_000; attempts++) {
    starts.push(nowMs);
    const decision: RetryDecision = afterFailedAttempt(
      { ...failure, attempts, elapsedMs: nowMs },
      settings,
      random,
    );
    if (decision.kind === "give_up") return { starts, delays, code: decision.code, endMs: nowMs };
    delays.push(decision.delayMs);
    nowMs += decision.delayMs;
  }
  throw new Error("never gave up");
}

describe("delivery retry policy", () => {
  it("has the documented defaults: 1 s base, 10 min cap, 24 h transient, 30 s base and 30 min for setup", () => {
    assert.deepEqual(defaults(), {
      baseMs: 1_000,
      capMs: 10 * MINUTE,
      budgetMs: 24 * HOUR,
      configBaseMs: 30_000,
      configBudgetMs: 30 * MINUTE,
    });
  });

  it("retries transient failures with full jitter: each delay uniform in [0, min(cap, base·2^(n−1)))", () => {
    const settings = defaults();
    for (let attempts = 1; attempts <= 20; attempts++) {
      const ceiling = Math.min(settings.capMs, settings.baseMs * 2 ** (attempts - 1));
      const at = (r: number) =>
        afterFailedAttempt(
          { code: "DESTINATION_UNAVAILABLE", transient: true, attempts, elapsedMs: 0 },
          settings,
          () => r,
        );
      assert.deepEqual(at(0), { kind: "retry", delayMs: 0 }, `attempt ${attempts}, r = 0`);
      assert.deepEqual(at(0.5), { kind: "retry", delayMs: Math.floor(ceiling / 2) });
      const highest = at(1 - 2 ** -40);
      assert.equal(highest.kind, "retry");
      assert.ok(
        highest.kind === "retry" && highest.delayMs < ceiling && highest.delayMs >= ceiling - 1,
      );
    }
    // The bound stops at the cap however many attempts failed.
    const late = afterFailedAttempt(
      { code: "DESTINATION_UNAVAILABLE", transient: true, attempts: 10_000, elapsedMs: 0 },
      settings,
      () => 0.999,
    );
    assert.deepEqual(late, { kind: "retry", delayMs: Math.floor(0.999 * settings.capMs) });
  });

  it("retries transient failures up to the 24 h budget, then gives up with DESTINATION_UNAVAILABLE", () => {
    const settings = defaults();
    for (const seed of [1, 7, 42]) {
      const random = seeded(seed);
      // Every transient code ends the same way, INTEGRITY_CHECK_FAILED included (the adapters
      // mark it transient: a corrupted transfer is uploaded again).
      for (const code of ["DESTINATION_UNAVAILABLE", "INTEGRITY_CHECK_FAILED"] as const) {
        const run = walk({ code, transient: true }, settings, random);
        assert.equal(run.code, "DESTINATION_UNAVAILABLE", code);
        // Never scheduled past the budget; gave up within one capped delay of it.
        assert.ok(run.endMs <= settings.budgetMs, `${code}: last attempt at ${run.endMs}`);
        assert.ok(
          run.endMs > settings.budgetMs - settings.capMs,
          `${code}: gave up early at ${run.endMs}`,
        );
        // Jittered: not every capped delay is the same (spread, not synchronised).
        const capped = run.delays.slice(15);
        assert.ok(new Set(capped).size > capped.length / 2, "delays are spread");
        assert.ok(capped.every((d) => d >= 0 && d < settings.capMs));
        // About 24 h of 5-minute average waits: a few hundred attempts, not a handful.
        assert.ok(run.starts.length > 200, `${run.starts.length} attempts`);
      }
    }
  });

  it("retries setup failures (auth, not found, region) up to 30 min from a 30 s base, then gives up with their own code", () => {
    const settings = defaults();
    for (const code of [
      "DESTINATION_AUTH_FAILED",
      "DESTINATION_NOT_FOUND",
      "DESTINATION_REGION_MISMATCH",
    ] as const) {
      const random = seeded(3);
      const run = walk({ code, transient: false }, settings, random);
      assert.equal(run.code, code);
      assert.ok(run.starts.length >= 3, `${code}: retried (${run.starts.length} attempts)`);
      assert.ok(run.endMs <= settings.configBudgetMs, `${code}: last attempt at ${run.endMs}`);
      assert.ok(run.endMs > settings.configBudgetMs - settings.capMs);
      // The first delay draws from the setup base, not the transient one.
      assert.ok(run.delays[0]! < settings.configBaseMs);
      const first = afterFailedAttempt(
        { code, transient: false, attempts: 1, elapsedMs: 0 },
        settings,
        () => 0.5,
      );
      assert.deepEqual(first, { kind: "retry", delayMs: settings.configBaseMs / 2 });
    }
  });

  it("counts the budget from the delivery's creation: a retry that would land past it gives up", () => {
    const settings = { ...defaults(), capMs: 10 * MINUTE };
    const decide = (elapsedMs: number, transient: boolean, code: DestinationErrorCode) =>
      afterFailedAttempt({ code, transient, attempts: 30, elapsedMs }, settings, () => 0.5);
    // 0.5 × cap = 5 min: landing exactly on the budget is still a retry, one millisecond past is not.
    assert.equal(decide(24 * HOUR - 5 * MINUTE, true, "DESTINATION_UNAVAILABLE").kind, "retry");
    assert.deepEqual(decide(24 * HOUR - 5 * MINUTE + 1, true, "DESTINATION_UNAVAILABLE"), {
      kind: "give_up",
      code: "DESTINATION_UNAVAILABLE",
    });
    assert.equal(decide(25 * MINUTE, false, "DESTINATION_AUTH_FAILED").kind, "retry");
    assert.deepEqual(decide(25 * MINUTE + 1, false, "DESTINATION_AUTH_FAILED"), {
      kind: "give_up",
      code: "DESTINATION_AUTH_FAILED",
    });
    // A redelivery is a new delivery: its elapsed time starts again at 0, so it is retried again.
    assert.equal(decide(0, false, "DESTINATION_AUTH_FAILED").kind, "retry");
  });

  it("gives up at once on failures waiting cannot fix", () => {
    const settings = defaults();
    for (const code of ["DESTINATION_REJECTED", "INTEGRITY_CHECK_FAILED"] as const) {
      assert.deepEqual(
        afterFailedAttempt(
          { code, transient: false, attempts: 1, elapsedMs: 0 },
          settings,
          () => 0,
        ),
        { kind: "give_up", code },
      );
    }
  });

  it("with a zero budget, gives up after the first attempt", () => {
    const settings = { ...defaults(), budgetMs: 0, configBudgetMs: 0 };
    const draw = () => 0.5;
    assert.deepEqual(
      afterFailedAttempt(
        { code: "DESTINATION_UNAVAILABLE", transient: true, attempts: 1, elapsedMs: 0 },
        settings,
        draw,
      ),
      { kind: "give_up", code: "DESTINATION_UNAVAILABLE" },
    );
    assert.deepEqual(
      afterFailedAttempt(
        { code: "DESTINATION_NOT_FOUND", transient: false, attempts: 1, elapsedMs: 0 },
        settings,
        draw,
      ),
      { kind: "give_up", code: "DESTINATION_NOT_FOUND" },
    );
  });
});
