/**
 * The durable outbox of events: enqueued inside the caller's transaction (so an event exists
 * exactly when the state change it reports was committed), claimed by senders with
 * `FOR UPDATE SKIP LOCKED`, and every attempt logged.
 */
import { createHash } from "node:crypto";
import type { Queryable } from "../db/index.ts";
import { AppError } from "../errors/index.ts";
import {
  type EventEnvelope,
  type EventType,
  envelope,
  type HealthEventType,
  type RecordingCopyFailedProperties,
  type RecordingReadyProperties,
  type RecordingStorageHealthProperties,
} from "./events.ts";

/**
 * An event to enqueue. `nowMs` is the caller's clock (the envelope's `timestamp` and the first
 * attempt's due time).
 *
 * - `application.recording_ready`: at most one per recording, ever. Enqueueing it again (a retried
 *   delivery job, a redelivery that found the object already there) is a no-op that returns the
 *   first event's id.
 * - `application.recording_copy_failed`: one per `dedupeKey` per recording. Pass something that
 *   names the failure being reported (e.g. the delivery id): re-running the same failure handler
 *   is a no-op, while a later redelivery that fails again (a new delivery id) reports again.
 */
export type EnqueueEventInput = {
  workspaceId: string;
  conversationId: string;
  recordingId: string;
  nowMs: number;
} & (
  | { type: "application.recording_ready"; properties: RecordingReadyProperties }
  | {
      type: "application.recording_copy_failed";
      properties: RecordingCopyFailedProperties;
      dedupeKey: string;
    }
);

/** What {@link enqueueEvent} did. */
export type EnqueueResult =
  /** Stored; a sender delivers it from `nowMs`. */
  | { kind: "enqueued"; eventId: string }
  /** The same event was enqueued before; nothing changed. */
  | { kind: "duplicate"; eventId: string }
  /** The conversation has no `callback_url`: there is nobody to tell, so nothing is stored. */
  | { kind: "no_callback_url" };

/**
 * The event's `webhook-id`, derived from what makes it unique, so enqueueing is idempotent by
 * primary key and the id is the same on every retry and resend.
 */
function eventIdOf(input: EnqueueEventInput): string {
  const identity =
    input.type === "application.recording_ready"
      ? `${input.type}\n${input.recordingId}`
      : `${input.type}\n${input.recordingId}\n${input.dedupeKey}`;
  return `msg_${createHash("sha256").update(identity).digest("hex").slice(0, 32)}`;
}

/**
 * The id and envelope of an event about to be enqueued, with `webhook_url` still empty: for a
 * statement that reads the conversation's callback URL itself and stores the envelope with it
 * (`jsonb_set` of `{webhook_url}`), as {@link enqueueEvent} does in two.
 */
export function pendingEventOf(input: EnqueueEventInput): {
  id: string;
  type: EventType;
  payload: EventEnvelope;
} {
  return {
    id: eventIdOf(input),
    type: input.type,
    payload: envelope<EventType>(input.type, {
      conversationId: input.conversationId,
      webhookUrl: "",
      at: new Date(input.nowMs),
      properties: input.properties,
    }),
  };
}

/**
 * Enqueues an event inside the caller's transaction `tx` (the delivery engine's, so the event
 * commits or rolls back with the recording's new state). Idempotent; see {@link EnqueueEventInput}.
 * The callback URL is the conversation's, read now and frozen in the envelope's `webhook_url`.
 */
export async function enqueueEvent(
  tx: Queryable,
  input: EnqueueEventInput,
): Promise<EnqueueResult> {
  const { rows } = await tx.query<{ callback_url: string | null }>(
    "SELECT callback_url FROM conversations WHERE id = $1 AND workspace_id = $2",
    [input.conversationId, input.workspaceId],
  );
  if (!rows[0]) {
    throw new AppError(
      "NOT_FOUND",
      `no conversation ${input.conversationId} in workspace ${input.workspaceId}`,
    );
  }
  const webhookUrl = rows[0].callback_url;
  if (webhookUrl === null) return { kind: "no_callback_url" };
  const eventId = eventIdOf(input);
  const at = new Date(input.nowMs);
  const payload = envelope<EventType>(input.type, {
    conversationId: input.conversationId,
    webhookUrl,
    at,
    properties: input.properties,
  });
  // DO NOTHING without a target also covers the one-recording_ready-per-recording index.
  const inserted = await tx.query(
    `INSERT INTO events (id, workspace_id, conversation_id, recording_id, event_type, payload,
       state, next_attempt_at, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7)
     ON CONFLICT DO NOTHING`,
    [
      eventId,
      input.workspaceId,
      input.conversationId,
      input.recordingId,
      input.type,
      JSON.stringify(payload),
      at,
    ],
  );
  return { kind: inserted.rowCount === 1 ? "enqueued" : "duplicate", eventId };
}

/** A destination health event to enqueue (docs/api.md, Destination health). */
export interface EnqueueHealthEventInput {
  type: HealthEventType;
  workspaceId: string;
  /** The destination's key in `destination_health` (md5 of it without its key template). */
  destinationKey: string;
  /** The transition's number: one event per transition and callback URL, ever. */
  transition: number;
  nowMs: number;
  properties: RecordingStorageHealthProperties;
}

/**
 * Enqueues a destination health event inside the caller's transaction, once for each callback URL
 * the workspace's conversations using this destination have (named after the most recent such
 * conversation). A workspace with no such conversation has nobody to tell: nothing is stored.
 * Idempotent per transition and URL.
 */
export async function enqueueHealthEvent(
  tx: Queryable,
  input: EnqueueHealthEventInput,
): Promise<string[]> {
  const { rows } = await tx.query<{ id: string; callback_url: string }>(
    `SELECT DISTINCT ON (callback_url) id, callback_url FROM conversations
     WHERE workspace_id = $1 AND callback_url IS NOT NULL AND recording_storage IS NOT NULL
       AND md5((recording_storage - 'key_template')::text) = $2
     ORDER BY callback_url, created_at DESC, id DESC`,
    [input.workspaceId, input.destinationKey],
  );
  const at = new Date(input.nowMs);
  const ids: string[] = [];
  for (const row of rows) {
    const identity = [
      input.type,
      input.workspaceId,
      input.destinationKey,
      String(input.transition),
      row.callback_url,
    ].join("\n");
    const eventId = `msg_${createHash("sha256").update(identity).digest("hex").slice(0, 32)}`;
    const payload = envelope(input.type, {
      conversationId: row.id,
      webhookUrl: row.callback_url,
      at,
      properties: input.properties,
    });
    await tx.query(
      `INSERT INTO events (id, workspace_id, conversation_id, recording_id, event_type, payload,
         state, next_attempt_at, created_at)
       VALUES ($1, $2, $3, NULL, $4, $5, 'pending', $6, $6)
       ON CONFLICT DO NOTHING`,
      [eventId, input.workspaceId, row.id, input.type, JSON.stringify(payload), at],
    );
    ids.push(eventId);
  }
  return ids;
}

/** An event claimed for one attempt. */
export interface ClaimedEvent {
  id: string;
  workspaceId: string;
  payload: EventEnvelope;
  /** The number of this attempt (1-based), reserved by the claim. */
  attempt: number;
  /**
   * The workspace's webhook secrets that sign now, sealed, read by the claim itself (one round
   * trip per batch instead of one more per event): current first, then those in their overlap.
   * Empty when the workspace has no current secret yet (the sender then makes one).
   */
  sealedSecrets: { id: string; sealed: Uint8Array }[];
}

/**
 * Claims up to `limit` due events for one attempt each: reserves the attempt number and pushes
 * the due time out by `leaseMs`, so no other sender takes them meanwhile and a crashed sender's
 * events come due again by themselves.
 */
export async function claimDueEvents(
  db: Queryable,
  options: { nowMs: number; limit: number; leaseMs: number },
): Promise<ClaimedEvent[]> {
  const { rows } = await db.query<{
    id: string;
    workspace_id: string;
    payload: EventEnvelope;
    attempts: number;
    secrets: { id: string; sealed: string; current: boolean }[] | null;
  }>(
    `WITH claimed AS (
       UPDATE events SET attempts = attempts + 1, next_attempt_at = $3
       WHERE id IN (
         SELECT id FROM events WHERE state = 'pending' AND next_attempt_at <= $1
         ORDER BY next_attempt_at, id LIMIT $2
         FOR UPDATE SKIP LOCKED)
       RETURNING id, workspace_id, payload, attempts)
     SELECT c.id, c.workspace_id, c.payload, c.attempts,
       (SELECT json_agg(json_build_object('id', s.id, 'sealed', encode(s.secret_encrypted, 'base64'),
            'current', s.expires_at IS NULL)
          ORDER BY s.expires_at IS NULL DESC, s.created_at DESC)
        FROM webhook_secrets s
        WHERE s.workspace_id = c.workspace_id AND (s.expires_at IS NULL OR s.expires_at > $1)
       ) AS secrets
     FROM claimed c`,
    [new Date(options.nowMs), options.limit, new Date(options.nowMs + options.leaseMs)],
  );
  return rows.map((row) => {
    const secrets = row.secrets ?? [];
    return {
      id: row.id,
      workspaceId: row.workspace_id,
      payload: row.payload,
      attempt: Number(row.attempts),
      sealedSecrets: secrets.some((secret) => secret.current)
        ? secrets.map((secret) => ({
            id: secret.id,
            sealed: Buffer.from(secret.sealed, "base64"),
          }))
        : [],
    };
  });
}

/** One attempt as logged. */
export interface AttemptRecord {
  attempt: number;
  startedAt: Date;
  /** The receiver's status; `null` when no response arrived. */
  status: number | null;
  latencyMs: number;
  responseExcerpt: string | null;
  error: string | null;
}

/** What follows an attempt. */
export type AttemptOutcome =
  | { kind: "delivered" }
  | { kind: "retry"; nextAttemptAtMs: number }
  | { kind: "failed" };

/**
 * Logs an attempt and moves the event on, in one statement (the attempt's row is a CTE of the
 * event's update, so both commit together in one round trip).
 */
export async function recordAttempt(
  db: Queryable,
  eventId: string,
  record: AttemptRecord,
  outcome: AttemptOutcome,
): Promise<void> {
  const logged = `WITH logged AS (
       INSERT INTO event_attempts
         (event_id, attempt, started_at, status, latency_ms, response_excerpt, error)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (event_id, attempt) DO NOTHING)`;
  const params = [
    eventId,
    record.attempt,
    record.startedAt,
    record.status,
    record.latencyMs,
    record.responseExcerpt,
    record.error,
  ];
  const finishedAt = new Date(record.startedAt.getTime() + record.latencyMs);
  switch (outcome.kind) {
    case "delivered":
      await db.query(
        `${logged} UPDATE events SET state = 'delivered', delivered_at = $8,
           next_attempt_at = NULL, last_error = NULL WHERE id = $1`,
        [...params, finishedAt],
      );
      return;
    case "retry":
      await db.query(
        `${logged} UPDATE events SET state = 'pending', next_attempt_at = $8, last_error = $7
         WHERE id = $1`,
        [...params, new Date(outcome.nextAttemptAtMs)],
      );
      return;
    case "failed":
      await db.query(
        `${logged} UPDATE events SET state = 'failed', next_attempt_at = NULL, last_error = $7
         WHERE id = $1`,
        params,
      );
      return;
  }
}

/** An event in the workspace's log. */
export interface LoggedEvent {
  id: string;
  workspaceId: string;
  eventType: EventType;
  conversationId: string;
  recordingId: string | null;
  state: "pending" | "delivered" | "failed";
  attempts: number;
  nextAttemptAt: Date | null;
  createdAt: Date;
  deliveredAt: Date | null;
  lastError: string | null;
  payload: EventEnvelope;
  /** `created_at` to the microsecond, UTC: the position cursors use. */
  position: string;
}

interface EventRow {
  id: string;
  workspace_id: string;
  event_type: EventType;
  conversation_id: string;
  recording_id: string | null;
  state: LoggedEvent["state"];
  attempts: number;
  next_attempt_at: Date | null;
  created_at: Date;
  delivered_at: Date | null;
  last_error: string | null;
  payload: EventEnvelope;
  position: string;
}

const eventColumns = `id, workspace_id, event_type, conversation_id, recording_id, state, attempts,
  next_attempt_at, created_at, delivered_at, last_error, payload,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS position`;

const toEvent = (row: EventRow): LoggedEvent => ({
  id: row.id,
  workspaceId: row.workspace_id,
  eventType: row.event_type,
  conversationId: row.conversation_id,
  recordingId: row.recording_id,
  state: row.state,
  attempts: Number(row.attempts),
  nextAttemptAt: row.next_attempt_at,
  createdAt: row.created_at,
  deliveredAt: row.delivered_at,
  lastError: row.last_error,
  payload: row.payload,
  position: row.position,
});

/** A workspace's event; `undefined` when absent or another workspace's. */
export async function findEvent(
  db: Queryable,
  workspaceId: string,
  id: string,
): Promise<LoggedEvent | undefined> {
  const { rows } = await db.query<EventRow>(
    `SELECT ${eventColumns} FROM events WHERE workspace_id = $1 AND id = $2`,
    [workspaceId, id],
  );
  return rows[0] ? toEvent(rows[0]) : undefined;
}

/** What {@link listEvents} filters on; the fields combine with AND. */
export interface EventFilter {
  /** One workspace's events; absent: every workspace's (the operator). */
  workspaceId?: string;
  state?: LoggedEvent["state"];
  eventType?: EventType;
}

/** One page of events matching `filter`, newest first (ties by id), and whether more follow. */
export async function listEvents(
  db: Queryable,
  filter: EventFilter,
  options: { limit: number; after?: { position: string; id: string } },
): Promise<{ items: LoggedEvent[]; hasMore: boolean }> {
  const { rows } = await db.query<EventRow>(
    `SELECT ${eventColumns} FROM events
     WHERE ($1::uuid IS NULL OR workspace_id = $1)
       AND ($2::text IS NULL OR state = $2)
       AND ($3::text IS NULL OR event_type = $3)
       AND ($4::timestamptz IS NULL OR (created_at, id) < ($4::timestamptz, $5::text))
     ORDER BY created_at DESC, id DESC LIMIT $6`,
    [
      filter.workspaceId ?? null,
      filter.state ?? null,
      filter.eventType ?? null,
      options.after?.position ?? null,
      options.after?.id ?? null,
      options.limit + 1,
    ],
  );
  return {
    items: rows.slice(0, options.limit).map(toEvent),
    hasMore: rows.length > options.limit,
  };
}

/** The attempts of the given events, oldest first per event. */
export async function attemptsOf(
  db: Queryable,
  eventIds: string[],
): Promise<Map<string, AttemptRecord[]>> {
  const byEvent = new Map<string, AttemptRecord[]>(eventIds.map((id) => [id, []]));
  if (eventIds.length === 0) return byEvent;
  const { rows } = await db.query<{
    event_id: string;
    attempt: number;
    started_at: Date;
    status: number | null;
    latency_ms: number;
    response_excerpt: string | null;
    error: string | null;
  }>(
    `SELECT event_id, attempt, started_at, status, latency_ms, response_excerpt, error
     FROM event_attempts
     WHERE event_id IN (SELECT value FROM jsonb_array_elements_text($1::jsonb))
     ORDER BY attempt`,
    [JSON.stringify(eventIds)],
  );
  for (const row of rows) {
    byEvent.get(row.event_id)?.push({
      attempt: Number(row.attempt),
      startedAt: row.started_at,
      status: row.status === null ? null : Number(row.status),
      latencyMs: Number(row.latency_ms),
      responseExcerpt: row.response_excerpt,
      error: row.error,
    });
  }
  return byEvent;
}

/**
 * Makes a workspace's event due now, whatever its state (same `webhook-id`; the attempt count
 * goes on). Returns `undefined` when the event is absent or another workspace's.
 */
export async function resendEvent(
  db: Queryable,
  workspaceId: string,
  id: string,
  nowMs: number,
): Promise<LoggedEvent | undefined> {
  const { rows } = await db.query<EventRow>(
    `UPDATE events SET state = 'pending', next_attempt_at = $3
     WHERE workspace_id = $1 AND id = $2 RETURNING ${eventColumns}`,
    [workspaceId, id, new Date(nowMs)],
  );
  return rows[0] ? toEvent(rows[0]) : undefined;
}

/** Events still to be sent (state `pending`), for the metrics a scrape collects. */
export async function pendingEventCount(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ pending: number }>(
    "SELECT count(*)::int AS pending FROM events WHERE state = 'pending'",
  );
  return Number(rows[0]?.pending ?? 0);
}
