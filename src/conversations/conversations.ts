/**
 * Conversations in the database: created with the destination in force captured, read only
 * within their workspace, listed newest first with keyset pagination.
 */
import { randomUUID } from "node:crypto";
import type { Queryable } from "../db/index.ts";
import type { RecordingStorage } from "../providers/index.ts";
import type { ConversationProperties } from "./properties.ts";

/** A conversation as stored. */
export interface Conversation {
  id: string;
  workspaceId: string;
  status: string;
  properties: ConversationProperties;
  /** The destination in force, its key template resolved; `null` when there is none. */
  recordingStorage: (RecordingStorage & { key_template: string }) | null;
  /** Whether the destination came with the conversation or from the workspace default. */
  recordingStorageSource: "conversation" | "workspace_default" | null;
  callbackUrl: string | null;
  createdAt: Date;
  /** `created_at` to the microsecond, UTC: the exact position used by cursors. */
  position: string;
}

interface ConversationRow {
  id: string;
  workspace_id: string;
  status: string;
  properties: ConversationProperties;
  recording_storage: (RecordingStorage & { key_template: string }) | null;
  callback_url: string | null;
  created_at: Date;
  position: string;
}

const columns = `id, workspace_id, status, properties, recording_storage, callback_url, created_at,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS position`;

const toConversation = (row: ConversationRow): Conversation => ({
  id: row.id,
  workspaceId: row.workspace_id,
  status: row.status,
  properties: row.properties,
  recordingStorage: row.recording_storage,
  // Derived rather than stored: a conversation has its own destination exactly when its
  // properties named one (recording_storage or the legacy fields).
  recordingStorageSource:
    row.recording_storage === null
      ? null
      : row.properties.recording_storage || row.properties.aws_assume_role_arn
        ? "conversation"
        : "workspace_default",
  callbackUrl: row.callback_url,
  createdAt: row.created_at,
  position: row.position,
});

/** What a new conversation is made of. */
export interface NewConversation {
  workspaceId: string;
  properties: ConversationProperties;
  /** Its own destination, or the workspace default captured now; key template resolved. */
  recordingStorage: (RecordingStorage & { key_template: string }) | null;
  callbackUrl: string | null;
}

/** Stores a new conversation. */
export async function createConversation(
  db: Queryable,
  input: NewConversation,
): Promise<Conversation> {
  const { rows } = await db.query<ConversationRow>(
    `INSERT INTO conversations (id, workspace_id, status, properties, recording_storage, callback_url)
     VALUES ($1, $2, 'active', $3, $4, $5) RETURNING ${columns}`,
    [
      randomUUID(),
      input.workspaceId,
      JSON.stringify(input.properties),
      input.recordingStorage === null ? null : JSON.stringify(input.recordingStorage),
      input.callbackUrl,
    ],
  );
  return toConversation(rows[0]!);
}

/** A workspace's conversation; `undefined` when there is none or it belongs to another workspace. */
export async function findConversation(
  db: Queryable,
  workspaceId: string,
  id: string,
): Promise<Conversation | undefined> {
  const { rows } = await db.query<ConversationRow>(
    `SELECT ${columns} FROM conversations WHERE workspace_id = $1 AND id = $2`,
    [workspaceId, id],
  );
  return rows[0] ? toConversation(rows[0]) : undefined;
}

/** A position in the newest-first order: the last item of the previous page. */
export interface ListPosition {
  position: string;
  id: string;
}

/**
 * One page of a workspace's conversations, newest first (ties broken by id, so the order is total
 * and stable). Returns one extra row's worth of knowledge: whether another page follows.
 */
export async function listConversations(
  db: Queryable,
  workspaceId: string,
  options: { limit: number; after?: ListPosition },
): Promise<{ items: Conversation[]; hasMore: boolean }> {
  const params: unknown[] = [workspaceId, options.limit + 1];
  let where = "workspace_id = $1";
  if (options.after) {
    params.push(options.after.position, options.after.id);
    where += " AND (created_at, id) < ($3::timestamptz, $4::uuid)";
  }
  const { rows } = await db.query<ConversationRow>(
    `SELECT ${columns} FROM conversations WHERE ${where}
     ORDER BY created_at DESC, id DESC LIMIT $2`,
    params,
  );
  const hasMore = rows.length > options.limit;
  return { items: rows.slice(0, options.limit).map(toConversation), hasMore };
}

/** What `PATCH /v2/conversations/{id}` changes. */
export interface ConversationChanges {
  properties: ConversationProperties;
  /** Replaces the destination in force (key template resolved) when given. */
  recordingStorage?: RecordingStorage & { key_template: string };
  /** Replaces the callback URL when given; `null` removes it. */
  callbackUrl?: string | null;
}

/**
 * Changes a workspace's conversation; `undefined` when there is none (or another workspace's).
 * Recordings already started keep the destination their key was made for until redelivered.
 */
export async function updateConversation(
  db: Queryable,
  workspaceId: string,
  id: string,
  changes: ConversationChanges,
): Promise<Conversation | undefined> {
  const { rows } = await db.query<ConversationRow>(
    `UPDATE conversations SET properties = $3,
       recording_storage = CASE WHEN $4::boolean THEN $5::jsonb ELSE recording_storage END,
       callback_url = CASE WHEN $6::boolean THEN $7 ELSE callback_url END
     WHERE workspace_id = $1 AND id = $2 RETURNING ${columns}`,
    [
      workspaceId,
      id,
      JSON.stringify(changes.properties),
      changes.recordingStorage !== undefined,
      changes.recordingStorage === undefined ? null : JSON.stringify(changes.recordingStorage),
      changes.callbackUrl !== undefined,
      changes.callbackUrl ?? null,
    ],
  );
  return rows[0] ? toConversation(rows[0]) : undefined;
}
