import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { keepLease } from "./abort.ts";

describe("keepLease", () => {
  it("renews every third of the lease and aborts with the message once the lease is lost", async () => {
    let renewals = 0;
    const lease = keepLease({
      leaseMs: 30,
      renew: async () => ++renewals < 3,
      lostMessage: "lost it",
    });
    try {
      await new Promise((resolve) => lease.signal.addEventListener("abort", resolve));
      assert.equal(renewals, 3);
      assert.ok(lease.signal.reason instanceof Error);
      assert.equal(lease.signal.reason.message, "lost it");
    } finally {
      lease.stop();
    }
  });

  it("reports renewals that throw without aborting, and stops renewing on stop()", async () => {
    const errors: unknown[] = [];
    let renewals = 0;
    let secondRenewal = () => {};
    const twoRenewals = new Promise<void>((resolve) => {
      secondRenewal = resolve;
    });
    const lease = keepLease({
      leaseMs: 30,
      renew: async () => {
        renewals++;
        if (renewals === 2) secondRenewal();
        throw new Error("database hiccup");
      },
      lostMessage: "lost it",
      onRenewError: (error) => errors.push(error),
    });
    // Driven by the renewals themselves, not by a sleep that a loaded machine can outlast.
    await twoRenewals;
    lease.stop();
    const seen = renewals;
    await sleep(40);
    assert.ok(seen >= 2, `${seen} renewals`);
    assert.equal(renewals, seen, "no renewal after stop()");
    assert.equal(errors.length, seen);
    assert.equal(lease.signal.aborted, false);
  });
});
