/**
 * Key rotation. A key's life: published (in the JWKS, not signing) → signing → retired (still in
 * the JWKS, for tokens it signed) → withdrawn. Clouds cache JWKS documents for an undocumented
 * while (minutes, by observation), so the next key is published PUBLISH_AHEAD_MS before it signs
 * and a retired key stays published RETIRED_PUBLISHED_MS after its last signature. Each transition
 * is a stored time compared with the clock, so no process has to be awake at the moment it
 * happens; the only write is scheduling the successor, which takes an advisory lock so that one
 * of several processes wins.
 */
import type { Db } from "../db/index.ts";
import { generateSigningKey } from "./keys.ts";
import {
  deleteWithdrawnKeys,
  insertKey,
  listKeyRecords,
  type SigningKeyRecord,
  scheduleRetirement,
  withdrawKeysNow,
} from "./store.ts";

const HOUR_MS = 3_600_000;
/** How long the next key is in the JWKS before it signs. */
export const PUBLISH_AHEAD_MS = 24 * HOUR_MS;
/** The longest token lifetime any configuration allows (RELAY_TOKEN_LIFETIME_SECONDS ≤ 600). */
export const MAX_TOKEN_LIFETIME_SECONDS = 600;
/** How long a retired key stays in the JWKS: its last token's lifetime plus a day of caches. */
export const RETIRED_PUBLISHED_MS = MAX_TOKEN_LIFETIME_SECONDS * 1000 + 24 * HOUR_MS;

// Any constant works; this one spells "relaykey" so it is recognisable in pg_locks.
const ROTATION_LOCK = 0x72656c61796b6579n;

/** What a rotation check decides from the stored keys and the time. */
export type RotationPlan =
  /** No key at all: the first one signs at once (see `bootstrap` below). */
  | { kind: "bootstrap" }
  /** Publish a new key now that signs from `activateAt`; `current` retires then. */
  | { kind: "schedule"; current: SigningKeyRecord; activateAt: number }
  /** A successor is already published and waiting; nothing to do. */
  | { kind: "pending"; pending: SigningKeyRecord }
  /** The current key is not due yet. */
  | { kind: "not_due"; current: SigningKeyRecord; dueAt: number };

/**
 * Decides what to do at `now`. `force` (manual rotation) schedules a successor even when not due;
 * it still honours the publish-ahead window, which protects tokens, not the schedule.
 *
 * Bootstrap: the very first key signs immediately. Publish-ahead exists so verifiers holding a
 * cached JWKS learn a key before tokens signed with it arrive; before the first key exists the
 * issuer has served no JWKS (the server creates the key before it listens) and no customer can
 * trust it yet, so no cache can miss it. Waiting 24 h would only delay the first delivery.
 */
export function planRotation(
  keys: SigningKeyRecord[],
  now: number,
  options: { rotationIntervalMs: number; force: boolean },
): RotationPlan {
  if (keys.length === 0) return { kind: "bootstrap" };
  const pending = keys.find((key) => key.activateAt > now);
  if (pending) return { kind: "pending", pending };
  // The newest activated key; keys are scheduled in a chain, so it is the one signing.
  const current = keys.reduce((a, b) => (b.activateAt > a.activateAt ? b : a));
  const nominal = current.activateAt + options.rotationIntervalMs;
  const dueAt = nominal - PUBLISH_AHEAD_MS;
  if (!options.force && now < dueAt) return { kind: "not_due", current, dueAt };
  // Never sooner than publish-ahead allows; after downtime the current key simply signs longer.
  const activateAt = options.force
    ? now + PUBLISH_AHEAD_MS
    : Math.max(nominal, now + PUBLISH_AHEAD_MS);
  return { kind: "schedule", current, activateAt };
}

/** What {@link rotateKeys} did. */
export type RotationOutcome =
  | { kind: "bootstrapped"; kid: string }
  | { kind: "scheduled"; kid: string; activateAt: number; replaces: string }
  | { kind: "pending"; kid: string; activateAt: number }
  | { kind: "not_due"; kid: string; dueAt: number };

/** Options of {@link rotateKeys}. */
export interface RotateOptions {
  now: number;
  masterKey: Uint8Array;
  rotationIntervalMs: number;
  /** Manual rotation: schedule a successor even when the current key is not due. */
  force?: boolean;
}

/**
 * Checks the schedule and makes the one write it may call for, under a transaction-scoped
 * advisory lock: concurrent callers serialise, and each sees what the winner committed.
 */
export async function rotateKeys(db: Db, options: RotateOptions): Promise<RotationOutcome> {
  const { now } = options;
  return await db.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock($1)", [ROTATION_LOCK.toString()]);
    await deleteWithdrawnKeys(tx, now);
    const plan = planRotation(await listKeyRecords(tx), now, {
      rotationIntervalMs: options.rotationIntervalMs,
      force: options.force ?? false,
    });
    switch (plan.kind) {
      case "bootstrap": {
        const key = await generateSigningKey(options.masterKey);
        await insertKey(tx, key, { publishAt: now, activateAt: now });
        return { kind: "bootstrapped", kid: key.kid };
      }
      case "schedule": {
        const key = await generateSigningKey(options.masterKey);
        await insertKey(tx, key, { publishAt: now, activateAt: plan.activateAt });
        await scheduleRetirement(tx, plan.current.kid, {
          retireAt: plan.activateAt,
          unpublishAt: plan.activateAt + RETIRED_PUBLISHED_MS,
        });
        return {
          kind: "scheduled",
          kid: key.kid,
          activateAt: plan.activateAt,
          replaces: plan.current.kid,
        };
      }
      case "pending":
        return { kind: "pending", kid: plan.pending.kid, activateAt: plan.pending.activateAt };
      case "not_due":
        return { kind: "not_due", kid: plan.current.kid, dueAt: plan.dueAt };
    }
  });
}

/** What {@link emergencyRotateKeys} did. */
export interface EmergencyRotation {
  /** The new key, signing from now. */
  kid: string;
  /** Every key stored before, withdrawn from the JWKS at once. */
  withdrawn: string[];
}

/**
 * Emergency rotation (docs/security.md, compromised signing key): a new key signs at once and
 * every other stored key leaves the JWKS now, skipping the publish-ahead and retire windows. A
 * leak that exposed one sealed key exposed them all (same database, same master key), so the
 * waiting successor goes too. The price: a verifier whose cached JWKS predates the new key
 * refuses its tokens until it refetches, and tokens the old key signed in the last minutes are
 * refused; those exchanges fail once and their deliveries retry.
 */
export async function emergencyRotateKeys(
  db: Db,
  options: { now: number; masterKey: Uint8Array },
): Promise<EmergencyRotation> {
  const { now } = options;
  return await db.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock($1)", [ROTATION_LOCK.toString()]);
    await deleteWithdrawnKeys(tx, now);
    const withdrawn = await withdrawKeysNow(tx, now);
    const key = await generateSigningKey(options.masterKey);
    await insertKey(tx, key, { publishAt: now, activateAt: now });
    return { kid: key.kid, withdrawn };
  });
}
