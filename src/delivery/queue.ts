/**
 * The durable delivery queue (docs/api.md, "Delivery"; docs/operations.md on scaling workers): one
 * `deliveries` row per delivery of a recording, claimed with `FOR UPDATE SKIP LOCKED` so any
 * number of workers share it, held by a lease that its worker renews, and taken over when the
 * lease lapses. Every write of an attempt's outcome is fenced by the attempt's `lease_token`, so
 * a worker that lost its lease can no longer change anything.
 */
import { randomUUID } from "node:crypto";
import type { Queryable } from "../db/index.ts";
import type { UploadHandle } from "../destinations/index.ts";
import type { RecordingStorage } from "../providers/index.ts";

/** The channel workers LISTEN on; a NOTIFY on it means "a delivery may be due now". */
export const DELIVERY_CHANNEL = "relay_deliveries";

/** A delivery claimed for one attempt. */
export interface ClaimedDelivery {
  id: string;
  recordingId: string;
  workspaceId: string;
  /** This attempt's number (1-based): attempts before it, crashed ones included, plus one. */
  attempt: number;
  /** Fences every write of this attempt. */
  leaseToken: string;
  createdAt: Date;
  /** An upload the previous attempt left in progress (it crashed or lost its lease). */
  leftoverUpload: UploadHandle | null;
  /**
   * No attempt at this recording ran before this one: the first attempt of its first delivery,
   * so nothing the relay wrote can be at the key yet (the check for an intact object is skipped).
   */
  firstAttemptEver: boolean;
}

interface ClaimRow {
  id: string;
  recording_id: string;
  workspace_id: string;
  attempts: number;
  created_at: Date;
  upload_handle: UploadHandle | null;
  first_attempt_ever: boolean;
}

/** Wakes the workers listening on {@link DELIVERY_CHANNEL} (delivered when `tx` commits). */
export async function notifyWorkers(tx: Queryable): Promise<void> {
  await tx.query("SELECT pg_notify($1, '')", [DELIVERY_CHANNEL]);
}

/**
 * Queues a delivery of a recording, due at `runAtMs`. `undefined` when one is already queued or
 * running for it (at most one is in flight per recording).
 */
export async function enqueueDelivery(
  tx: Queryable,
  input: {
    recordingId: string;
    workspaceId: string;
    /** The destination this delivery writes to (recorded on the row). */
    destination: RecordingStorage;
    nowMs: number;
    runAtMs?: number;
  },
): Promise<string | undefined> {
  const id = randomUUID();
  const now = new Date(input.nowMs);
  const { rowCount } = await tx.query(
    `INSERT INTO deliveries (id, recording_id, workspace_id, state, run_at, created_at, updated_at,
       destination)
     VALUES ($1, $2, $3, 'queued', $4, $5, $5, $6)
     ON CONFLICT (recording_id) WHERE state IN ('queued', 'running') DO NOTHING`,
    [
      id,
      input.recordingId,
      input.workspaceId,
      new Date(input.runAtMs ?? input.nowMs),
      now,
      JSON.stringify(input.destination),
    ],
  );
  return rowCount === 1 ? id : undefined;
}

/**
 * Inserts a delivery already claimed by `workerId` (the process finishing a live upload), so no
 * other worker starts a second upload of the same recording meanwhile; if that process dies, the
 * lease lapses and a worker takes the delivery over like any other.
 */
export async function insertClaimedDelivery(
  tx: Queryable,
  input: {
    recordingId: string;
    workspaceId: string;
    workerId: string;
    nowMs: number;
    leaseMs: number;
    uploadHandle: UploadHandle | null;
    destination: RecordingStorage;
  },
): Promise<ClaimedDelivery | undefined> {
  const id = randomUUID();
  const leaseToken = randomUUID();
  const now = new Date(input.nowMs);
  const { rowCount } = await tx.query(
    `INSERT INTO deliveries (id, recording_id, workspace_id, state, attempts, run_at, locked_by,
       lease_token, lease_expires_at, upload_handle, created_at, updated_at, destination)
     VALUES ($1, $2, $3, 'running', 1, $4, $5, $6, $7, $8, $4, $4, $9)
     ON CONFLICT (recording_id) WHERE state IN ('queued', 'running') DO NOTHING`,
    [
      id,
      input.recordingId,
      input.workspaceId,
      now,
      input.workerId,
      leaseToken,
      new Date(input.nowMs + input.leaseMs),
      input.uploadHandle === null ? null : JSON.stringify(input.uploadHandle),
      JSON.stringify(input.destination),
    ],
  );
  if (rowCount !== 1) return undefined;
  return {
    id,
    recordingId: input.recordingId,
    workspaceId: input.workspaceId,
    attempt: 1,
    leaseToken,
    createdAt: now,
    leftoverUpload: null,
    // The live upload's own attempt; a worker taking it over claims it afresh (attempt 2).
    firstAttemptEver: false,
  };
}

/**
 * Claims the next due delivery for one attempt: a queued one whose time has come, or a running
 * one whose lease lapsed (its worker died). `undefined` when none is due.
 */
export async function claimDelivery(
  db: Queryable,
  options: { workerId: string; nowMs: number; leaseMs: number },
): Promise<ClaimedDelivery | undefined> {
  const leaseToken = randomUUID();
  const now = new Date(options.nowMs);
  const { rows } = await db.query<ClaimRow>(
    `UPDATE deliveries SET state = 'running', attempts = attempts + 1, locked_by = $1,
       lease_token = $2, lease_expires_at = $3, updated_at = $4
     WHERE id = (
       SELECT id FROM deliveries
       WHERE (state = 'queued' AND run_at <= $4) OR (state = 'running' AND lease_expires_at <= $4)
       ORDER BY run_at, id LIMIT 1
       FOR UPDATE SKIP LOCKED)
     RETURNING id, recording_id, workspace_id, attempts, created_at, upload_handle,
       attempts = 1 AND NOT EXISTS (
         SELECT 1 FROM deliveries other
         WHERE other.recording_id = deliveries.recording_id AND other.id <> deliveries.id
       ) AS first_attempt_ever`,
    [options.workerId, leaseToken, new Date(options.nowMs + options.leaseMs), now],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    id: row.id,
    recordingId: row.recording_id,
    workspaceId: row.workspace_id,
    attempt: Number(row.attempts),
    leaseToken,
    createdAt: row.created_at,
    leftoverUpload: row.upload_handle,
    firstAttemptEver: row.first_attempt_ever === true,
  };
}

/** Extends the lease of a running attempt; false when the attempt lost it. */
export async function renewDeliveryLease(
  db: Queryable,
  delivery: Pick<ClaimedDelivery, "id" | "leaseToken">,
  options: { nowMs: number; leaseMs: number },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE deliveries SET lease_expires_at = $3
     WHERE id = $1 AND lease_token = $2 AND state = 'running'`,
    [delivery.id, delivery.leaseToken, new Date(options.nowMs + options.leaseMs)],
  );
  return rowCount === 1;
}

/** Persists (or clears) the upload this attempt has in progress; false when the lease was lost. */
export async function saveUploadHandle(
  db: Queryable,
  delivery: Pick<ClaimedDelivery, "id" | "leaseToken">,
  handle: UploadHandle | null,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE deliveries SET upload_handle = $3
     WHERE id = $1 AND lease_token = $2 AND state = 'running'`,
    [delivery.id, delivery.leaseToken, handle === null ? null : JSON.stringify(handle)],
  );
  return rowCount === 1;
}

/** An attempt's end, as the queue records it. */
export type DeliveryOutcome =
  | { kind: "succeeded"; reusedExisting: boolean }
  | { kind: "retry"; runAtMs: number; errorCode: string; errorMessage: string }
  | { kind: "failed"; errorCode: string; errorMessage: string }
  /** Handed back without counting against it (the worker is stopping): due again at once. */
  | { kind: "released" };

/**
 * Records an attempt's end. Returns false, changing nothing, when the attempt no longer holds
 * the lease (another worker took the delivery over).
 */
export async function finishAttempt(
  tx: Queryable,
  delivery: Pick<ClaimedDelivery, "id" | "leaseToken">,
  outcome: DeliveryOutcome,
  nowMs: number,
): Promise<boolean> {
  const now = new Date(nowMs);
  const fence = "WHERE id = $1 AND lease_token = $2 AND state = 'running'";
  // `locked_by` stays: which worker ran the last attempt is worth knowing when reading the row.
  const unlock = "lease_token = NULL, lease_expires_at = NULL, updated_at = $3";
  const params = [delivery.id, delivery.leaseToken, now];
  let result: { rowCount: number };
  switch (outcome.kind) {
    case "succeeded":
      result = await tx.query(
        `UPDATE deliveries SET state = 'succeeded', ${unlock}, finished_at = $3,
           upload_handle = NULL, reused_existing = $4, last_error_code = NULL,
           last_error_message = NULL ${fence}`,
        [...params, outcome.reusedExisting],
      );
      break;
    case "retry":
      result = await tx.query(
        `UPDATE deliveries SET state = 'queued', ${unlock}, run_at = $4, last_error_code = $5,
           last_error_message = $6 ${fence}`,
        [...params, new Date(outcome.runAtMs), outcome.errorCode, outcome.errorMessage],
      );
      break;
    case "failed":
      result = await tx.query(
        `UPDATE deliveries SET state = 'failed', ${unlock}, finished_at = $3, last_error_code = $4,
           last_error_message = $5 ${fence}`,
        [...params, outcome.errorCode, outcome.errorMessage],
      );
      break;
    case "released":
      result = await tx.query(
        `UPDATE deliveries SET state = 'queued', ${unlock}, run_at = $3 ${fence}`,
        params,
      );
      break;
  }
  return result.rowCount === 1;
}

/** The latest delivery of a recording, for `GET /v2/recordings/{id}`. */
export interface DeliverySummary {
  state: "queued" | "running" | "succeeded" | "failed";
  /** Attempts of all deliveries of the recording. */
  attempts: number;
  nextAttemptAt: Date | null;
  lastErrorCode: string | null;
  lastErrorMessage: string | null;
  /** The destination the latest delivery wrote to; `null` on deliveries older than this record. */
  destination: RecordingStorage | null;
}

/** Sums up a recording's deliveries; `undefined` when it has none yet. */
export async function deliverySummary(
  db: Queryable,
  recordingId: string,
): Promise<DeliverySummary | undefined> {
  const { rows } = await db.query<{
    state: DeliverySummary["state"];
    run_at: Date;
    last_error_code: string | null;
    last_error_message: string | null;
    destination: RecordingStorage | null;
    total_attempts: number;
  }>(
    `SELECT state, run_at, last_error_code, last_error_message, destination,
       (SELECT sum(attempts) FROM deliveries WHERE recording_id = $1)::int AS total_attempts
     FROM deliveries WHERE recording_id = $1 ORDER BY created_at DESC, id LIMIT 1`,
    [recordingId],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    state: row.state,
    attempts: Number(row.total_attempts),
    nextAttemptAt: row.state === "queued" ? row.run_at : null,
    lastErrorCode: row.last_error_code,
    lastErrorMessage: row.last_error_message,
    destination: row.destination,
  };
}

/** The queue at a glance, for the metrics a scrape collects (docs/operations.md, Metrics). */
export interface QueueStats {
  queued: number;
  running: number;
  /** Seconds since the oldest queued delivery was created; 0 when none is queued. */
  oldestQueuedAgeSeconds: number;
}

/** Counts queued and running deliveries and ages the oldest queued one, as of `nowMs`. */
export async function queueStats(db: Queryable, nowMs: number): Promise<QueueStats> {
  const { rows } = await db.query<{ queued: number; running: number; oldest: Date | null }>(
    `SELECT count(*) FILTER (WHERE state = 'queued')::int AS queued,
       count(*) FILTER (WHERE state = 'running')::int AS running,
       min(created_at) FILTER (WHERE state = 'queued') AS oldest
     FROM deliveries WHERE state IN ('queued', 'running')`,
  );
  const row = rows[0];
  const oldest = row?.oldest ? new Date(row.oldest).getTime() : undefined;
  return {
    queued: Number(row?.queued ?? 0),
    running: Number(row?.running ?? 0),
    oldestQueuedAgeSeconds: oldest === undefined ? 0 : Math.max(0, (nowMs - oldest) / 1000),
  };
}
