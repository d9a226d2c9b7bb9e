/**
 * Recordings in the database. `bytes_received` is the truth about what arrived: staged bytes past
 * it are a torn append and never delivered. Appends are serialised per recording by a lease
 * (`append_token`), so several API processes may take a producer's retries.
 */
import { randomUUID } from "node:crypto";
import type { Queryable } from "../db/index.ts";
import type { UploadHandle } from "../destinations/index.ts";
import type { RecordingStorage } from "../domain/index.ts";

/** A recording's state (SPEC §4): arriving, waiting for delivery, landed, given up, or gone. */
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
  /** The conversation's destination (captured at its creation), key template resolved. */
  storage: RecordingStorage & { key_template: string };
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
  recording_storage: RecordingStorage & { key_template: string };
}

const columns = `r.id, r.conversation_id, r.workspace_id, r.epoch_ms, r.key, r.storage_uri, r.state,
  r.bytes_received, r.sha256, r.duration_seconds, r.created_at, r.completed_at, r.delivered_at,
  r.retained_until, r.append_lease_expires_at, r.live_upload_handle, c.recording_storage`;

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
  storage: row.recording_storage,
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

/** What a new recording instance is made of. */
export interface NewRecording {
  conversationId: string;
  workspaceId: string;
  epochMs: number;
  key: string;
  storageUri: string;
}

/** Inserts a recording; `undefined` when the conversation already has one at `epochMs`. */
export async function insertRecording(
  db: Queryable,
  input: NewRecording,
): Promise<string | undefined> {
  const id = randomUUID();
  const { rowCount } = await db.query(
    `INSERT INTO recordings (id, conversation_id, workspace_id, epoch_ms, key, storage_uri, state)
     VALUES ($1, $2, $3, $4, $5, $6, 'receiving')
     ON CONFLICT (conversation_id, epoch_ms) DO NOTHING`,
    [id, input.conversationId, input.workspaceId, input.epochMs, input.key, input.storageUri],
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
