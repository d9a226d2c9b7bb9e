/**
 * The end of a delivery, written in one transaction with the event that reports it (so an event
 * exists exactly when the state it reports was committed): the recording delivered and one
 * `recording_ready`, or failed with its code and a `recording_copy_failed`.
 */
import type { Db } from "../db/index.ts";
import type { DestinationErrorCode } from "../destinations/index.ts";
import { markFailed, type Recording } from "../recordings/store.ts";
import {
  enqueueEvent,
  pendingEventOf,
  recordingCopyFailedProperties,
  recordingReadyProperties,
} from "../webhooks/index.ts";
import { type ClaimedDelivery, finishAttempt } from "./queue.ts";

/** How long staged copies are kept after a delivery ends. */
export interface RetentionSettings {
  /** After a failure (for `redeliver`). */
  failedMs: number;
  /** After a success (a short grace). */
  deliveredMs: number;
}

/**
 * Marks the recording delivered and enqueues its `recording_ready` (at most one per recording,
 * ever). False when the attempt had lost its lease: nothing was written.
 *
 * One statement, not a transaction of four: the fenced end of the delivery, the recording's new
 * state and the event are data-modifying CTEs of one statement, so they commit together (or not at
 * all) in one round trip; the recording and the event are written only when the fence let the
 * delivery's row change. This is the one statement on `recordings` outside `src/recordings`: the
 * end of every delivery ran BEGIN, four statements and COMMIT, the largest share of the worker's
 * database time. The callback URL is read by the statement itself, so it is the conversation's at
 * the moment the state commits, as `enqueueEvent` would read it.
 */
export async function recordDelivered(
  db: Db,
  delivery: Pick<ClaimedDelivery, "id" | "leaseToken">,
  recording: Recording,
  options: { reusedExisting: boolean; nowMs: number; retention: RetentionSettings },
): Promise<boolean> {
  const now = new Date(options.nowMs);
  const event = pendingEventOf({
    type: "application.recording_ready",
    workspaceId: recording.workspaceId,
    conversationId: recording.conversationId,
    recordingId: recording.id,
    nowMs: options.nowMs,
    properties: recordingReadyProperties({
      destination: recording.storage,
      key: recording.key,
      recordingId: recording.id,
      epochMs: recording.epochMs,
      sizeBytes: recording.bytesReceived,
      sha256: recording.sha256 ?? "",
      durationSeconds: recording.durationSeconds ?? undefined,
    }),
  });
  const { rows } = await db.query<{ finished: number }>(
    `WITH finished AS (
       UPDATE deliveries SET state = 'succeeded', lease_token = NULL, lease_expires_at = NULL,
         updated_at = $3, finished_at = $3, upload_handle = NULL, reused_existing = $4,
         last_error_code = NULL, last_error_message = NULL
       WHERE id = $1 AND lease_token = $2 AND state = 'running'
       RETURNING id),
     marked AS (
       UPDATE recordings SET state = 'delivered', delivered_at = $3, retained_until = $5,
         live_upload_handle = NULL
       WHERE id = $6 AND EXISTS (SELECT 1 FROM finished)
       RETURNING id),
     enqueued AS (
       INSERT INTO events (id, workspace_id, conversation_id, recording_id, event_type, payload,
         state, next_attempt_at, created_at)
       SELECT $7, c.workspace_id, c.id, $6, $9,
         jsonb_set($10::jsonb, '{webhook_url}', to_jsonb(c.callback_url)), 'pending', $3, $3
       FROM conversations c
       WHERE c.id = $8 AND c.workspace_id = $11 AND c.callback_url IS NOT NULL
         AND EXISTS (SELECT 1 FROM finished)
       -- Without a target: also the one-recording_ready-per-recording index (a redelivery).
       ON CONFLICT DO NOTHING
       RETURNING id)
     SELECT count(*)::int AS finished FROM finished`,
    [
      delivery.id,
      delivery.leaseToken,
      now,
      options.reusedExisting,
      new Date(options.nowMs + options.retention.deliveredMs),
      recording.id,
      event.id,
      recording.conversationId,
      event.type,
      JSON.stringify(event.payload),
      recording.workspaceId,
    ],
  );
  return Number(rows[0]?.finished ?? 0) === 1;
}

/**
 * Marks the recording failed (staged copy kept for the retention period) and enqueues a
 * `recording_copy_failed` for this delivery. False when the attempt had lost its lease.
 */
export async function recordFailed(
  db: Db,
  delivery: Pick<ClaimedDelivery, "id" | "leaseToken" | "attempt">,
  recording: Recording,
  failure: { code: DestinationErrorCode; message: string },
  options: { nowMs: number; retention: RetentionSettings },
): Promise<boolean> {
  return await db.transaction(async (tx) => {
    const finished = await finishAttempt(
      tx,
      delivery,
      { kind: "failed", errorCode: failure.code, errorMessage: failure.message },
      options.nowMs,
    );
    if (!finished) return false;
    const retainedUntil = new Date(options.nowMs + options.retention.failedMs);
    // Every attempt at this recording, earlier deliveries (redeliveries) included.
    const { rows } = await tx.query<{ attempts: number }>(
      "SELECT sum(attempts)::int AS attempts FROM deliveries WHERE recording_id = $1",
      [recording.id],
    );
    await markFailed(tx, recording.id, retainedUntil);
    await enqueueEvent(tx, {
      type: "application.recording_copy_failed",
      workspaceId: recording.workspaceId,
      conversationId: recording.conversationId,
      recordingId: recording.id,
      nowMs: options.nowMs,
      // One event per failed delivery: a later redelivery that fails again reports again.
      dedupeKey: delivery.id,
      properties: recordingCopyFailedProperties({
        provider: recording.storage.provider,
        errorCode: failure.code,
        errorMessage: failure.message,
        recordingId: recording.id,
        epochMs: recording.epochMs,
        key: recording.key,
        attempts: Number(rows[0]?.attempts ?? delivery.attempt),
        retainedUntil,
      }),
    });
    return true;
  });
}
