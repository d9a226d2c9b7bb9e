import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createLocalJWKSet, decodeProtectedHeader, type JWK, jwtVerify } from "jose";
import { openTestDatabase } from "../../test/helpers/databases.ts";
import type { Db } from "../db/index.ts";
import {
  createIssuer,
  type Issuer,
  type JwksDocument,
  PUBLISH_AHEAD_MS,
  planRotation,
  RETIRED_PUBLISHED_MS,
} from "./index.ts";
import type { SigningKeyRecord } from "./store.ts";

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const AUDIENCE = "api://AzureADTokenExchange";
const ISSUER = "https://relay.example.com";

describe("planRotation", () => {
  const key = (activateAt: number, extra: Partial<SigningKeyRecord> = {}): SigningKeyRecord => ({
    kid: `k${activateAt}`,
    publicJwk: {} as SigningKeyRecord["publicJwk"],
    publishAt: activateAt,
    activateAt,
    retireAt: null,
    unpublishAt: null,
    ...extra,
  });
  const interval = { rotationIntervalMs: 720 * HOUR_MS, force: false };

  it("bootstraps a key that signs at once, then waits until publish-ahead before the due date", () => {
    assert.deepEqual(planRotation([], 0, interval), { kind: "bootstrap" });
    const current = key(0);
    assert.deepEqual(planRotation([current], 695 * HOUR_MS, interval), {
      kind: "not_due",
      current,
      dueAt: 696 * HOUR_MS,
    });
    assert.deepEqual(planRotation([current], 696 * HOUR_MS, interval), {
      kind: "schedule",
      current,
      activateAt: 720 * HOUR_MS,
    });
  });

  it("after downtime, keeps the old key signing until the new one has been published 24 h", () => {
    const now = 2000 * HOUR_MS;
    const plan = planRotation([key(0)], now, interval);
    assert.equal(plan.kind, "schedule");
    assert.equal(plan.kind === "schedule" && plan.activateAt, now + PUBLISH_AHEAD_MS);
  });

  it("rotates on demand only through publish-ahead, and never stacks a second pending key", () => {
    const current = key(0);
    const forced = planRotation([current], HOUR_MS, { ...interval, force: true });
    assert.deepEqual(forced, { kind: "schedule", current, activateAt: 25 * HOUR_MS });
    const pending = key(25 * HOUR_MS, { publishAt: HOUR_MS });
    assert.deepEqual(planRotation([current, pending], 2 * HOUR_MS, { ...interval, force: true }), {
      kind: "pending",
      pending,
    });
  });
});

describe("a full rotation walked by the clock (embedded)", () => {
  const start = Date.UTC(2030, 0, 1);
  const stepMs = HOUR_MS;
  const lifetimeSeconds = 600;
  const rotationIntervalHours = 48;
  // Two successions (publish-ahead, switch, retire, withdraw), ending as the third is published.
  const endMs = start + 120 * HOUR_MS;
  let db: Db;
  let now = start;
  let issuer: Issuer;
  const tokens: { token: string; kid: string; signedAt: number; expiresAt: number }[] = [];
  const snapshots: { at: number; jwks: JwksDocument }[] = [];

  before(async () => {
    db = await openTestDatabase("embedded");
    issuer = createIssuer({
      db,
      issuerUrl: ISSUER,
      masterKey: crypto.getRandomValues(new Uint8Array(32)),
      clock: { now: () => now },
      tokenLifetimeSeconds: lifetimeSeconds,
      rotationIntervalHours,
    });
    await issuer.prepare();
    // Visit every hour, plus each scheduled transition and the millisecond before it: a JWKS
    // fetched, a token signed and a rotation check run at each of those moments.
    const transitions = new Set<number>();
    for (let at = start; at <= endMs; ) {
      now = at;
      await issuer.rotate();
      snapshots.push({ at, jwks: await issuer.jwks() });
      const token = await issuer.mintToken({ workspaceId: "ws-1", audience: AUDIENCE });
      tokens.push({
        token,
        kid: decodeProtectedHeader(token).kid!,
        signedAt: at,
        expiresAt: at + lifetimeSeconds * 1000,
      });
      for (const key of await issuer.listKeys()) {
        for (const moment of [key.publishAt, key.activateAt, key.retireAt, key.unpublishAt]) {
          if (moment) transitions.add(moment.getTime()).add(moment.getTime() - 1);
        }
      }
      const nextHour = start + (Math.floor((at - start) / stepMs) + 1) * stepMs;
      at = Math.min(nextHour, ...[...transitions].filter((moment) => moment > at));
    }
  });
  after(async () => await db.close());

  it("switches keys on schedule and withdraws retired ones", () => {
    const signers = [...new Set(tokens.map((token) => token.kid))];
    assert.equal(signers.length, 3, "bootstrap key, then two successors");
    const firstUse = signers.map((kid) => tokens.find((token) => token.kid === kid)!.signedAt);
    assert.deepEqual(
      firstUse.map((at) => (at - start) / HOUR_MS),
      [0, rotationIntervalHours, 2 * rotationIntervalHours],
    );
    const inJwks = (snapshot: { jwks: JwksDocument }, kid: string) =>
      snapshot.jwks.keys.some((key) => key.kid === kid);
    // The first key was withdrawn once its grace ended, and no JWKS ever held more than three.
    assert.ok(!inJwks(snapshots.at(-1)!, signers[0]!));
    assert.ok(snapshots.every((snapshot) => snapshot.jwks.keys.length <= 3));
    for (const [index, kid] of signers.entries()) {
      const published = snapshots.find((snapshot) => inJwks(snapshot, kid))!.at;
      if (index > 0) {
        assert.ok(firstUse[index]! - published >= PUBLISH_AHEAD_MS, `${kid} published ahead`);
      }
      const lastToken = tokens.findLast((token) => token.kid === kid)!;
      const withdrawn = snapshots.find((s) => s.at > lastToken.signedAt && !inJwks(s, kid));
      if (withdrawn) {
        assert.ok(withdrawn.at - lastToken.signedAt >= RETIRED_PUBLISHED_MS, `${kid} kept`);
      }
    }
  });

  it("never leaves a token unverifiable by a JWKS fetched up to 24 h before it was signed, or at any moment of its lifetime", async () => {
    let checked = 0;
    for (const token of tokens) {
      const window = snapshots.filter(
        (snapshot) =>
          snapshot.at >= token.signedAt - PUBLISH_AHEAD_MS && snapshot.at <= token.expiresAt,
      );
      // Before the bootstrap key existed there was no JWKS (the server serves none yet).
      assert.ok(window.length > 0);
      const expected = window
        .find((snapshot) => snapshot.at >= token.signedAt)!
        .jwks.keys.find((key) => key.kid === token.kid);
      assert.ok(expected, `signing key ${token.kid} published when it signed`);
      for (const snapshot of window) {
        const key = snapshot.jwks.keys.find((candidate) => candidate.kid === token.kid);
        assert.deepEqual(
          key,
          expected,
          `${token.kid} in the JWKS of ${new Date(snapshot.at).toISOString()}`,
        );
        checked++;
      }
      // Real signature checks against the first and last JWKS of the window.
      for (const snapshot of [window[0]!, window.at(-1)!]) {
        await jwtVerify(token.token, createLocalJWKSet(snapshot.jwks as { keys: JWK[] }), {
          issuer: ISSUER,
          audience: AUDIENCE,
          algorithms: ["RS256"],
          currentDate: new Date(token.signedAt),
        });
      }
    }
    assert.ok(checked > tokens.length * 20, `checked ${checked} (token, JWKS) pairs`);
  });

  it("lists the keys with their states", async () => {
    now = endMs;
    const keys = await issuer.listKeys();
    assert.deepEqual(
      keys.map((key) => key.state),
      ["retired", "signing", "published"],
    );
    assert.equal(keys[0]!.retireAt!.getTime(), keys[1]!.activateAt.getTime());
    assert.equal(
      keys[0]!.unpublishAt!.getTime(),
      keys[0]!.retireAt!.getTime() + RETIRED_PUBLISHED_MS,
    );
  });
});
