/**
 * Recordings in the database: the module with SQL on `recordings` (one exception below).
 * `bytes_received` is the truth about what arrived: staged bytes past it are a torn append and
 * never delivered. Appends are serialised per recording by a lease (`append_token`), so several API processes may take a
 * producer's retries. The state changes of delivery (failed, purged, reopened) are here too;
 * their callers run them in the transaction that fences them (see src/delivery). The one
 * exception is `delivered`: it is written by the single fenced statement that ends a delivery
 * (`recordDelivered`, src/delivery/outcome.ts), one round trip instead of a transaction.
 */
import { randomUUID } from "node:crypto";
import type { Queryable } from "../db/index.ts";
import type { UploadHandle } from "../destinations/index.ts";
import type { RecordingStorage } from "../providers/index.ts";

/**
 * A recording's state (docs/api.md, "Ingest" and "Delivery"): arriving, waiting for delivery,
 * landed, given up, or gone.
 */
export type RecordingState = "receiving" | "complete" | "delivered" | "failed" | "purged";

/** A recording with the destination in force for its conversation. */
export interface Recording {
  id: string;
  conversationId: string;
  workspaceId: string;
  epochMs: number;
  key: string;
  storageUri: string;
  state: RecordingState;
  bytesReceived: number;
  /** Lowercase hex, set at `complete`. */
  sha256: string | null;
  durationSeconds: number | null;
  createdAt: Date;
  completedAt: Date | null;
  deliveredAt: Date | null;
  retainedUntil: Date | null;
  /** An append holds the recording until then (another append is refused meanwhile). */
  appendLeaseExpiresAt: Date | null;
  liveUploadHandle: UploadHandle | null;
  /** The length the producer declared (tus `Upload-Length`); null while deferred or never said. */
  uploadLength: number | null;
  /** The last committed append (the creation before the first): the abandoned-recording purge counts from it. */
  lastActivityAt: Date;
  /**
   * The destination the key and `storage_uri` were made for, key template resolved: the
   * conversation's at the start, or the one a redelivery moved the recording to.
   */
  storage: RecordingStorage & { key_template: string };
  /** The conversation's destination now (a PATCH may have changed it since the start). */
  conversationStorage: (RecordingStorage & { key_template: string }) | null;
}

interface RecordingRow {
  id: string;
  conversation_id: string;
  workspace_id: string;
  epoch_ms: number;
  key: string;
  storage_uri: string;
  state: RecordingState;
  bytes_received: number;
  sha256: string | null;
  duration_seconds: number | null;
  created_at: Date;
  completed_at: Date | null;
  delivered_at: Date | null;
  retained_until: Date | null;
  append_lease_expires_at: Date | null;
  live_upload_handle: UploadHandle | null;
  upload_length: number | null;
  last_activity_at: Date;
  recording_storage: RecordingStorage & { key_template: string };
  conversation_storage: (RecordingStorage & { key_template: string }) | null;
}

const columns = `r.id, r.conversation_id, r.workspace_id, r.epoch_ms, r.key, r.storage_uri, r.state,
  r.bytes_received, r.sha256, r.duration_seconds, r.created_at, r.completed_at, r.delivered_at,
  r.retained_until, r.append_lease_expires_at, r.live_upload_handle, r.upload_length,
  coalesce(r.last_append_at, r.created_at) AS last_activity_at,
  coalesce(r.recording_storage, c.recording_storage) AS recording_storage,
  c.recording_storage AS conversation_storage`;

const toRecording = (row: RecordingRow): Recording => ({
  id: row.id,
  conversationId: row.conversation_id,
  workspaceId: row.workspace_id,
  epochMs: Number(row.epoch_ms),
  key: row.key,
  storageUri: row.storage_uri,
  state: row.state,
  bytesReceived: Number(row.bytes_received),
  sha256: row.sha256,
  durationSeconds: row.duration_seconds,
  createdAt: row.created_at,
  completedAt: row.completed_at,
  deliveredAt: row.delivered_at,
  retainedUntil: row.retained_until,
  appendLeaseExpiresAt: row.append_lease_expires_at,
  liveUploadHandle: row.live_upload_handle,
  uploadLength: row.upload_length === null ? null : Number(row.upload_length),
  lastActivityAt: row.last_activity_at,
  storage: row.recording_storage,
  conversationStorage: row.conversation_storage,
});

/**
 * A recording by id. `workspaceId` limits the answer to one workspace (API keys); `undefined`
 * means any (the operator, the delivery engine).
 */
export async function findRecording(
  db: Queryable,
  id: string,
  workspaceId?: string,
): Promise<Recording | undefined> {
  const { rows } = await db.query<RecordingRow>(
    `SELECT ${columns} FROM recordings r JOIN conversations c ON c.id = r.conversation_id
     WHERE r.id = $1 AND ($2::uuid IS NULL OR r.workspace_id = $2)`,
    [id, workspaceId ?? null],
  );
  return rows[0] ? toRecording(rows[0]) : undefined;
}

/** The id of a conversation's recording at `epochMs`, if it has one. */
export async function findRecordingIdAt(
  db: Queryable,
  conversationId: string,
  epochMs: number,
): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string }>(
    "SELECT id FROM recordings WHERE conversation_id = $1 AND epoch_ms = $2",
    [conversationId, epochMs],
  );
  return rows[0]?.id;
}

/** A recording instance, as listed with its conversation. */
export interface RecordingSummary {
  id: string;
  epochMs: number;
  key: string;
  storageUri: string;
  state: string;
  createdAt: Date;
}

/** The recordings of the given conversations of one workspace, oldest first per conversation. */
export async function recordingsOf(
  db: Queryable,
  workspaceId: string,
  conversationIds: string[],
): Promise<Map<string, RecordingSummary[]>> {
  const byConversation = new Map<string, RecordingSummary[]>(conversationIds.map((id) => [id, []]));
  if (conversationIds.length === 0) return byConversation;
  const { rows } = await db.query<{
    id: string;
    conversation_id: string;
    epoch_ms: number;
    key: string;
    storage_uri: string;
    state: string;
    created_at: Date;
  }>(
    `SELECT id, conversation_id, epoch_ms, key, storage_uri, state, created_at FROM recordings
     WHERE workspace_id = $1
       AND conversation_id IN (SELECT value::uuid FROM jsonb_array_elements_text($2::jsonb))
     ORDER BY epoch_ms, id`,
    [workspaceId, JSON.stringify(conversationIds)],
  );
  for (const row of rows) {
    byConversation.get(row.conversation_id)?.push({
      id: row.id,
      epochMs: Number(row.epoch_ms),
      key: row.key,
      storageUri: row.storage_uri,
      state: row.state,
      createdAt: row.created_at,
    });
  }
  return byConversation;
}

/** What a new recording instance is made of. */
export interface NewRecording {
  conversationId: string;
  workspaceId: string;
  epochMs: number;
  key: string;
  storageUri: string;
  /** The destination `key` and `storageUri` were made for (the conversation's now). */
  storage: RecordingStorage & { key_template: string };
}

/** Inserts a recording; `undefined` when the conversation already has one at `epochMs`. */
export async function insertRecording(
  db: Queryable,
  input: NewRecording,
): Promise<string | undefined> {
  const id = randomUUID();
  const { rowCount } = await db.query(
    `INSERT INTO recordings (id, conversation_id, workspace_id, epoch_ms, key, storage_uri, state,
       recording_storage)
     VALUES ($1, $2, $3, $4, $5, $6, 'receiving', $7)
     ON CONFLICT (conversation_id, epoch_ms) DO NOTHING`,
    [
      id,
      input.conversationId,
      input.workspaceId,
      input.epochMs,
      input.key,
      input.storageUri,
      JSON.stringify(input.storage),
    ],
  );
  return rowCount === 1 ? id : undefined;
}

/**
 * Takes the append lease if the recording is receiving, has received exactly `offset` bytes and
 * no other append holds it. Returns the token to commit with, or `undefined` (read the recording
 * to tell which condition failed).
 */
export async function takeAppendLease(
  db: Queryable,
  id: string,
  offset: number,
  options: { nowMs: number; leaseMs: number },
): Promise<string | undefined> {
  const token = randomUUID();
  const { rowCount } = await db.query(
    `UPDATE recordings SET append_token = $3, append_lease_expires_at = $5
     WHERE id = $1 AND state = 'receiving' AND bytes_received = $2
       AND (append_token IS NULL OR append_lease_expires_at <= $4)`,
    [id, offset, token, new Date(options.nowMs), new Date(options.nowMs + options.leaseMs)],
  );
  return rowCount === 1 ? token : undefined;
}

/** Extends a held append lease; false when it was lost (expired and taken). */
export async function renewAppendLease(
  db: Queryable,
  id: string,
  token: string,
  options: { nowMs: number; leaseMs: number },
): Promise<boolean> {
  const { rowCount } = await db.query(
    "UPDATE recordings SET append_lease_expires_at = $3 WHERE id = $1 AND append_token = $2",
    [id, token, new Date(options.nowMs + options.leaseMs)],
  );
  return rowCount === 1;
}

/** Records `bytesReceived` and releases the lease; false when the lease was lost meanwhile. */
export async function commitAppend(
  db: Queryable,
  id: string,
  token: string,
  bytesReceived: number,
  nowMs: number,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE recordings SET bytes_received = $3, append_token = NULL,
       append_lease_expires_at = NULL, last_append_at = $4
     WHERE id = $1 AND append_token = $2 AND state = 'receiving'`,
    [id, token, bytesReceived, new Date(nowMs)],
  );
  return rowCount === 1;
}

/** Releases the lease without recording anything (the append failed). */
export async function releaseAppendLease(db: Queryable, id: string, token: string): Promise<void> {
  await db.query(
    `UPDATE recordings SET append_token = NULL, append_lease_expires_at = NULL
     WHERE id = $1 AND append_token = $2`,
    [id, token],
  );
}

/**
 * Deletes a recording that is still `receiving` (a one-shot upload that failed), so nothing of
 * it stays visible. False when it is gone or has moved on (completed meanwhile): then nothing is
 * deleted.
 */
export async function discardReceiving(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query(
    "DELETE FROM recordings WHERE id = $1 AND state = 'receiving'",
    [id],
  );
  return rowCount === 1;
}

/**
 * Declares a receiving recording's length once: true when it is now `length` (set here, or
 * already the same), false when another length was declared or the recording is not receiving.
 */
export async function declareUploadLength(
  db: Queryable,
  id: string,
  length: number,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE recordings SET upload_length = $2
     WHERE id = $1 AND state = 'receiving' AND (upload_length IS NULL OR upload_length = $2)`,
    [id, length],
  );
  return rowCount === 1;
}

/** Remembers (or forgets, with `null`) the live upload of a receiving recording. */
export async function setLiveUploadHandle(
  db: Queryable,
  id: string,
  handle: UploadHandle | null,
): Promise<void> {
  await db.query("UPDATE recordings SET live_upload_handle = $2 WHERE id = $1", [
    id,
    handle === null ? null : JSON.stringify(handle),
  ]);
}

/**
 * Moves a receiving recording to `complete` with its checksum and duration, if no append holds
 * it (or its lease lapsed) and it has received exactly `sizeBytes`. False otherwise (read it again to tell why).
 */
export async function markComplete(
  tx: Queryable,
  id: string,
  values: { sizeBytes: number; sha256: string; durationSeconds: number | undefined; nowMs: number },
): Promise<boolean> {
  const { rowCount } = await tx.query(
    `UPDATE recordings SET state = 'complete', sha256 = $3, duration_seconds = $4, completed_at = $5,
       append_token = NULL, append_lease_expires_at = NULL
     WHERE id = $1 AND state = 'receiving' AND bytes_received = $2
       AND (append_token IS NULL OR append_lease_expires_at <= $5)`,
    [id, values.sizeBytes, values.sha256, values.durationSeconds ?? null, new Date(values.nowMs)],
  );
  return rowCount === 1;
}

/**
 * Marks a recording failed, kept staged until `retainedUntil` (for a redelivery). Unconditional:
 * fenced by the caller's transaction. (Delivered is written by `recordDelivered` in
 * src/delivery/outcome.ts, in the one fenced statement that ends a delivery.)
 */
export async function markFailed(tx: Queryable, id: string, retainedUntil: Date): Promise<void> {
  await tx.query(
    `UPDATE recordings SET state = 'failed', retained_until = $2, live_upload_handle = NULL
     WHERE id = $1`,
    [id, retainedUntil],
  );
}

/**
 * Moves a delivered or failed recording back to `complete` for a new delivery, if it is still in
 * `fromState` and within its retention. False when a purge or another redelivery got there first.
 */
export async function reopenForRedelivery(
  tx: Queryable,
  id: string,
  fromState: "delivered" | "failed",
  nowMs: number,
): Promise<boolean> {
  const { rowCount } = await tx.query(
    "UPDATE recordings SET state = 'complete' WHERE id = $1 AND state = $2 AND retained_until > $3",
    [id, fromState, new Date(nowMs)],
  );
  return rowCount === 1;
}

/**
 * Points a recording reopened for redelivery at another destination: its key and `storage_uri`
 * follow the destination the delivery will use. Only while it is `complete` (reopened in the same
 * transaction, so no delivery of it is running).
 */
export async function retargetRecording(
  tx: Queryable,
  id: string,
  target: { storage: RecordingStorage & { key_template: string }; key: string; storageUri: string },
): Promise<void> {
  await tx.query(
    `UPDATE recordings SET recording_storage = $2, key = $3, storage_uri = $4
     WHERE id = $1 AND state = 'complete'`,
    [id, JSON.stringify(target.storage), target.key, target.storageUri],
  );
}

/** Which failed recordings a bulk redelivery takes (docs/api.md, Recovering a failed recording). */
export interface FailedRecordingFilter {
  /** The latest delivery's error code. */
  errorCode?: string;
  conversationId?: string;
  /** Recordings created at or after this instant. */
  createdFrom?: Date;
  /** Recordings created before this instant. */
  createdBefore?: Date;
}

/**
 * Up to `limit` of a workspace's failed recordings still within their retention that match
 * `filter`, oldest first.
 */
export async function failedRecordingIds(
  db: Queryable,
  workspaceId: string,
  filter: FailedRecordingFilter,
  options: { nowMs: number; limit: number },
): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT r.id FROM recordings r
     WHERE r.workspace_id = $1 AND r.state = 'failed' AND r.retained_until > $2
       AND ($3::uuid IS NULL OR r.conversation_id = $3)
       AND ($4::timestamptz IS NULL OR r.created_at >= $4)
       AND ($5::timestamptz IS NULL OR r.created_at < $5)
       AND ($6::text IS NULL OR $6 = (
         SELECT d.last_error_code FROM deliveries d WHERE d.recording_id = r.id
         ORDER BY d.created_at DESC, d.id LIMIT 1))
     ORDER BY r.created_at, r.id LIMIT $7`,
    [
      workspaceId,
      new Date(options.nowMs),
      filter.conversationId ?? null,
      filter.createdFrom ?? null,
      filter.createdBefore ?? null,
      filter.errorCode ?? null,
      options.limit,
    ],
  );
  return rows.map((row) => row.id);
}

/**
 * Marks purged up to `limit` recordings that are past their retention, or still receiving with
 * no append since `abandonedBefore` and no live upload; returns their ids (their staged copies are
 * the caller's to delete). Rows another purge holds are skipped.
 */
export async function markPurged(
  db: Queryable,
  options: { nowMs: number; abandonedBefore: Date; limit: number },
): Promise<string[]> {
  const now = new Date(options.nowMs);
  const { rows } = await db.query<{ id: string }>(
    `UPDATE recordings SET state = 'purged', purged_at = $1, live_upload_handle = NULL
     WHERE id IN (
       SELECT id FROM recordings
       WHERE (state IN ('delivered', 'failed') AND retained_until <= $1)
          OR (state = 'receiving' AND coalesce(last_append_at, created_at) <= $2
              AND live_upload_handle IS NULL)
       ORDER BY id LIMIT $3
       FOR UPDATE SKIP LOCKED)
     RETURNING id`,
    [now, options.abandonedBefore, options.limit],
  );
  return rows.map((row) => row.id);
}

/** Up to `limit` recordings still receiving, silent since `before`, with a live upload open. */
export async function abandonedWithLiveUpload(
  db: Queryable,
  before: Date,
  limit: number,
): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM recordings
     WHERE state = 'receiving' AND live_upload_handle IS NOT NULL
       AND coalesce(last_append_at, created_at) <= $1
     ORDER BY id LIMIT $2`,
    [before, limit],
  );
  return rows.map((row) => row.id);
}

/** Those of `ids` that name no recording, or a purged one: staged data nobody owns. */
export async function withoutLiveRecording(db: Queryable, ids: string[]): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT value AS id FROM jsonb_array_elements_text($1::jsonb) AS ids(value)
     WHERE NOT EXISTS (
       SELECT 1 FROM recordings r WHERE r.id = ids.value::uuid AND r.state <> 'purged')`,
    [JSON.stringify(ids)],
  );
  return rows.map((row) => row.id);
}

/** What {@link listRecordings} filters on; every field is optional and they combine with AND. */
export interface RecordingFilter {
  /** One workspace's recordings; absent: every workspace's (the operator). */
  workspaceId?: string;
  state?: RecordingState;
  provider?: RecordingStorage["provider"];
  /** The error code of the recording's latest delivery. */
  errorCode?: string;
  /** Created at or after this instant. */
  createdAfter?: Date;
  /** Created strictly before this instant. */
  createdBefore?: Date;
}

/** A listed recording, with the position its page cursor uses. */
export interface ListedRecording extends Recording {
  /** `created_at` to the microsecond, UTC. */
  position: string;
}

/**
 * One page of recordings matching `filter`, newest first (ties by id), and whether more follow.
 * `after` continues from a previous page's last item.
 */
export async function listRecordings(
  db: Queryable,
  filter: RecordingFilter,
  options: { limit: number; after?: { position: string; id: string } },
): Promise<{ items: ListedRecording[]; hasMore: boolean }> {
  const { rows } = await db.query<RecordingRow & { position: string }>(
    `SELECT ${columns},
       to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS position
     FROM recordings r JOIN conversations c ON c.id = r.conversation_id
     WHERE ($1::uuid IS NULL OR r.workspace_id = $1)
       AND ($2::text IS NULL OR r.state = $2)
       AND ($3::text IS NULL OR c.recording_storage->>'provider' = $3)
       AND ($4::text IS NULL OR $4 = (
         SELECT d.last_error_code FROM deliveries d WHERE d.recording_id = r.id
         ORDER BY d.created_at DESC, d.id LIMIT 1))
       AND ($5::timestamptz IS NULL OR r.created_at >= $5)
       AND ($6::timestamptz IS NULL OR r.created_at < $6)
       AND ($7::timestamptz IS NULL OR (r.created_at, r.id) < ($7::timestamptz, $8::uuid))
     ORDER BY r.created_at DESC, r.id DESC LIMIT $9`,
    [
      filter.workspaceId ?? null,
      filter.state ?? null,
      filter.provider ?? null,
      filter.errorCode ?? null,
      filter.createdAfter ?? null,
      filter.createdBefore ?? null,
      options.after?.position ?? null,
      options.after?.id ?? null,
      options.limit + 1,
    ],
  );
  return {
    items: rows
      .slice(0, options.limit)
      .map((row) => ({ ...toRecording(row), position: row.position })),
    hasMore: rows.length > options.limit,
  };
}

/** Recordings at a glance for the operator's overview (docs/console.md, Operator pages). */
export interface RecordingOverview {
  byState: Record<string, number>;
  /** Failed recordings created since the given instant, by latest error code and provider. */
  failures: { errorCode: string; provider: string; count: number }[];
}

/** Counts recordings by state, and recent failures by their latest error code and provider. */
export async function recordingOverview(db: Queryable, since: Date): Promise<RecordingOverview> {
  const states = await db.query<{ state: string; count: number }>(
    "SELECT state, count(*)::int AS count FROM recordings GROUP BY state",
  );
  const failures = await db.query<{ error_code: string | null; provider: string; count: number }>(
    `SELECT d.last_error_code AS error_code, c.recording_storage->>'provider' AS provider,
       count(*)::int AS count
     FROM recordings r JOIN conversations c ON c.id = r.conversation_id
     LEFT JOIN LATERAL (
       SELECT last_error_code FROM deliveries WHERE recording_id = r.id
       ORDER BY created_at DESC, id LIMIT 1) d ON true
     WHERE r.state = 'failed' AND r.created_at >= $1
     GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2`,
    [since],
  );
  return {
    byState: Object.fromEntries(states.rows.map((row) => [row.state, Number(row.count)])),
    failures: failures.rows.map((row) => ({
      errorCode: row.error_code ?? "UNKNOWN",
      provider: row.provider,
      count: Number(row.count),
    })),
  };
}
