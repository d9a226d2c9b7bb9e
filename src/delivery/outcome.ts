/**
 * The end of a delivery, written in one transaction with the event that reports it (so an event
 * exists exactly when the state it reports was committed): the recording delivered and one
 * `recording_ready`, or failed with its code and a `recording_copy_failed`.
 */
import type { Db } from "../db/index.ts";
import type { DestinationErrorCode } from "../destinations/index.ts";
import { markDelivered, markFailed, type Recording } from "../recordings/store.ts";
import {
  enqueueEvent,
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
 */
export async function recordDelivered(
  db: Db,
  delivery: Pick<ClaimedDelivery, "id" | "leaseToken">,
  recording: Recording,
  options: { reusedExisting: boolean; nowMs: number; retention: RetentionSettings },
): Promise<boolean> {
  return await db.transaction(async (tx) => {
    const finished = await finishAttempt(
      tx,
      delivery,
      { kind: "succeeded", reusedExisting: options.reusedExisting },
      options.nowMs,
    );
    if (!finished) return false;
    await markDelivered(tx, recording.id, {
      nowMs: options.nowMs,
      retainedUntil: new Date(options.nowMs + options.retention.deliveredMs),
    });
    await enqueueEvent(tx, {
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
    return true;
  });
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
