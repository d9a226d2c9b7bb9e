/**
 * Destination health in the database (docs/api.md, Destination health): which destinations are
 * in scope, claiming the due ones (so any number of processes check each at most once per
 * interval), recording a check's result, and reading health back for the API. A destination is
 * keyed by the md5 of its jsonb without the key template (jsonb prints keys in one order).
 */
import { randomUUID } from "node:crypto";
import type { Queryable } from "../db/index.ts";
import type { RecordingStorage } from "../providers/index.ts";

/** A destination's health as the API shows it. */
export type HealthStatus = "unknown" | "healthy" | "unhealthy";

/** The confused-deputy self-check of the last check. */
export interface HealthSafety {
  status: "pass" | "warn" | "skip";
  message: string;
  hint?: string;
}

/** What the last check found. */
export interface DestinationHealth {
  status: HealthStatus;
  checkedAt: Date | null;
  errorCode: string | null;
  message: string | null;
  hint: string | null;
  safety: HealthSafety | null;
}

/** How long a destination out of scope keeps its record. */
const FORGET_AFTER_MS = 30 * 86_400_000;

/** A destination nobody checked yet. */
export const uncheckedHealth: DestinationHealth = {
  status: "unknown",
  checkedAt: null,
  errorCode: null,
  message: null,
  hint: null,
  safety: null,
};

/**
 * Records which destinations are in scope now: every workspace's default (its key template
 * resolved with `defaultKeyTemplate`) and every destination a delivery used since `usedSince`.
 * New ones are due at once; each claim then moves the next check a jittered interval on.
 */
export async function registerDestinations(
  db: Queryable,
  options: { nowMs: number; usedSince: Date; defaultKeyTemplate: string },
): Promise<void> {
  await db.query(
    `WITH candidates AS (
       SELECT id AS workspace_id,
         default_recording_storage || jsonb_build_object('key_template',
           coalesce(default_recording_storage->>'key_template', $2::text)) AS destination,
         0 AS rank, $1::timestamptz AS at
       FROM workspaces WHERE default_recording_storage IS NOT NULL
       UNION ALL
       SELECT workspace_id, destination, 1, created_at FROM deliveries
       WHERE destination IS NOT NULL AND created_at >= $3
     ), keyed AS (
       SELECT DISTINCT ON (workspace_id, md5((destination - 'key_template')::text))
         workspace_id, md5((destination - 'key_template')::text) AS destination_key, destination
       FROM candidates
       ORDER BY workspace_id, md5((destination - 'key_template')::text), rank, at DESC
     )
     INSERT INTO destination_health (workspace_id, destination_key, destination, seen_at,
       next_check_at)
     SELECT workspace_id, destination_key, destination, $1, $1 FROM keyed
     ON CONFLICT (workspace_id, destination_key)
       DO UPDATE SET seen_at = EXCLUDED.seen_at, destination = EXCLUDED.destination`,
    [new Date(options.nowMs), options.defaultKeyTemplate, options.usedSince],
  );
  // Out of scope for a retention period: forgotten (its health would be checked afresh).
  await db.query("DELETE FROM destination_health WHERE seen_at < $1", [
    new Date(options.nowMs - FORGET_AFTER_MS),
  ]);
}

/** A destination claimed for one check. */
export interface ClaimedCheck {
  workspaceId: string;
  destinationKey: string;
  destination: RecordingStorage & { key_template: string };
  /** The status before this check. */
  status: HealthStatus;
  /** Status changes so far. */
  transitions: number;
  /** Fences the result: only the claimant records it. */
  claimToken: string;
}

/**
 * Claims up to `limit` due destinations still in scope (seen since `seenSince`) and moves each
 * one's next check a jittered interval (±10 %) on at once: another process finds it not due.
 * A claim lapses after `leaseMs` (a crashed check), though the next check waits for its time.
 */
export async function claimDueChecks(
  db: Queryable,
  options: { nowMs: number; seenSince: Date; intervalMs: number; leaseMs: number; limit: number },
): Promise<ClaimedCheck[]> {
  const token = randomUUID();
  const now = new Date(options.nowMs);
  const { rows } = await db.query<{
    workspace_id: string;
    destination_key: string;
    destination: RecordingStorage & { key_template: string };
    status: HealthStatus;
    transitions: number;
  }>(
    `UPDATE destination_health SET claim_token = $2, claimed_until = $3,
       next_check_at = $1::timestamptz
         + ($4::double precision * (0.9 + random() * 0.2)) * interval '1 millisecond'
     WHERE (workspace_id, destination_key) IN (
       SELECT workspace_id, destination_key FROM destination_health
       WHERE next_check_at <= $1 AND seen_at >= $5
         AND (claimed_until IS NULL OR claimed_until <= $1)
       ORDER BY next_check_at LIMIT $6
       FOR UPDATE SKIP LOCKED)
     RETURNING workspace_id, destination_key, destination, status, transitions`,
    [
      now,
      token,
      new Date(options.nowMs + options.leaseMs),
      options.intervalMs,
      options.seenSince,
      options.limit,
    ],
  );
  return rows.map((row) => ({
    workspaceId: row.workspace_id,
    destinationKey: row.destination_key,
    destination: row.destination,
    status: row.status,
    transitions: Number(row.transitions),
    claimToken: token,
  }));
}

/** What one check found; `status` undefined: it could not tell (a transient failure). */
export interface CheckResult {
  status: "healthy" | "unhealthy" | undefined;
  errorCode: string | null;
  message: string | null;
  hint: string | null;
  safety: HealthSafety | null;
}

/**
 * Records a claimed check's result (keeping the status when it could not tell) and releases the
 * claim. Returns the status after it, or `undefined` when the claim was lost.
 */
export async function recordCheck(
  tx: Queryable,
  claim: ClaimedCheck,
  result: CheckResult,
  nowMs: number,
): Promise<HealthStatus | undefined> {
  const status = result.status ?? claim.status;
  const { rowCount } = await tx.query(
    `UPDATE destination_health SET status = $4, checked_at = $5, error_code = $6, message = $7,
       hint = $8, safety = $9, transitions = transitions + $10, claim_token = NULL,
       claimed_until = NULL
     WHERE workspace_id = $1 AND destination_key = $2 AND claim_token = $3`,
    [
      claim.workspaceId,
      claim.destinationKey,
      claim.claimToken,
      status,
      new Date(nowMs),
      result.errorCode,
      result.message,
      result.hint,
      result.safety === null ? null : JSON.stringify(result.safety),
      status !== claim.status ? 1 : 0,
    ],
  );
  return rowCount === 1 ? status : undefined;
}

/** The health of each of a workspace's destinations (in order; unchecked ones as such). */
export async function healthOf(
  db: Queryable,
  workspaceId: string,
  destinations: readonly (RecordingStorage | null)[],
): Promise<(DestinationHealth | null)[]> {
  if (destinations.length === 0) return [];
  const { rows } = await db.query<{
    ord: number;
    status: HealthStatus | null;
    checked_at: Date | null;
    error_code: string | null;
    message: string | null;
    hint: string | null;
    safety: HealthSafety | null;
  }>(
    `SELECT d.ord, h.status, h.checked_at, h.error_code, h.message, h.hint, h.safety
     FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS d(value, ord)
     LEFT JOIN destination_health h ON h.workspace_id = $1
       AND h.destination_key = md5((d.value - 'key_template')::text)
     ORDER BY d.ord`,
    [workspaceId, JSON.stringify(destinations.map((d) => d ?? {}))],
  );
  return rows.map((row, index) => {
    if (destinations[index] === null) return null;
    if (row.status === null) return uncheckedHealth;
    return {
      status: row.status,
      checkedAt: row.checked_at,
      errorCode: row.error_code,
      message: row.message,
      hint: row.hint,
      safety: row.safety,
    };
  });
}
