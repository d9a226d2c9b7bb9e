/**
 * `POST /v2/recordings/{id}/redeliver` and its bulk form (docs/api.md, "Recovering a failed
 * recording"): deliver a recording again from its retained staged copy — after a failure once the
 * customer fixed their setup, to a destination given with the request, or to restore an object
 * they deleted. The destination is the one given, else the conversation's (which a PATCH may have
 * changed); when it is not the one the recording's key was made for, the key and `storage_uri`
 * are rendered again for it. An object already in place intact counts as delivered without
 * uploading, and no second `recording_ready` is ever sent.
 */
import type { Db } from "../db/index.ts";
import { renderKey } from "../domain/index.ts";
import { AppError } from "../errors/index.ts";
import { type RecordingStorage, storageUri } from "../providers/index.ts";
import {
  type FailedRecordingFilter,
  failedRecordingIds,
  findRecording,
  type Recording,
  reopenForRedelivery,
  retargetRecording,
} from "../recordings/store.ts";
import { enqueueDelivery, notifyWorkers } from "./queue.ts";

/** A destination with its key template resolved. */
type Target = RecordingStorage & { key_template: string };

/** Options of {@link redeliver}. */
export interface RedeliverOptions {
  /** Limits the recording to one workspace (API keys); absent: any (the operator). */
  workspaceId?: string;
  nowMs: number;
  /** Where to deliver, validated by the caller; absent: the conversation's destination. */
  destination?: Target;
}

/** Same destination, field by field (key order does not matter). */
function sameDestination(a: Target, b: Target): boolean {
  const left: Record<string, unknown> = { ...a };
  const right: Record<string, unknown> = { ...b };
  const keys = new Set([...Object.keys(left), ...Object.keys(right)]);
  return [...keys].every((key) => left[key] === right[key]);
}

/** Queues a new delivery of a delivered or failed recording still within its retention. */
export async function redeliver(db: Db, id: string, options: RedeliverOptions): Promise<Recording> {
  const recording = await findRecording(db, id, options.workspaceId);
  if (!recording) throw new AppError("NOT_FOUND", `no recording ${id}`);
  const expired =
    recording.state === "purged" ||
    (recording.retainedUntil !== null && recording.retainedUntil.getTime() <= options.nowMs);
  if (expired) {
    throw new AppError(
      "RECORDING_PURGED",
      `recording ${id} is past its retention (retained_until ${recording.retainedUntil?.toISOString() ?? "passed"}); its staged copy is gone`,
    );
  }
  const { state } = recording;
  if (state !== "delivered" && state !== "failed") {
    throw new AppError(
      "RECORDING_STATE_CONFLICT",
      state === "receiving"
        ? `recording ${id} is still receiving: complete it first`
        : `recording ${id} already has a delivery queued or running`,
    );
  }
  const target = options.destination ?? recording.conversationStorage ?? recording.storage;
  const moved = !sameDestination(target, recording.storage);
  const queued = await db.transaction(async (tx) => {
    // Conditional on the state read above: a purge or another redeliver in between wins.
    if (!(await reopenForRedelivery(tx, id, state, options.nowMs))) return false;
    if (moved) {
      const key = renderKey(target.key_template, {
        conversationId: recording.conversationId,
        epochMs: recording.epochMs,
      });
      await retargetRecording(tx, id, {
        storage: target,
        key,
        storageUri: storageUri(target, key),
      });
    }
    const delivery = await enqueueDelivery(tx, {
      recordingId: id,
      workspaceId: recording.workspaceId,
      destination: target,
      nowMs: options.nowMs,
    });
    if (!delivery)
      throw new AppError(
        "RECORDING_STATE_CONFLICT",
        `recording ${id} already has a delivery queued`,
      );
    await notifyWorkers(tx);
    return true;
  });
  if (!queued) {
    throw new AppError(
      "RECORDING_STATE_CONFLICT",
      `recording ${id} changed meanwhile; read it and retry`,
    );
  }
  return (await findRecording(db, id))!;
}

/** At most this many recordings are queued by one bulk request; repeat it for more. */
export const BULK_REDELIVER_LIMIT = 1000;

/**
 * Redelivers a workspace's failed recordings (within retention) that match `filter`, to
 * `destination` when given. Returns how many were queued and the ids; recordings that changed
 * meanwhile (purged, already redelivered) are skipped.
 */
export async function redeliverFailed(
  db: Db,
  workspaceId: string,
  filter: FailedRecordingFilter,
  options: { nowMs: number; destination?: Target },
): Promise<{ queued: number; recordingIds: string[] }> {
  const ids = await failedRecordingIds(db, workspaceId, filter, {
    nowMs: options.nowMs,
    limit: BULK_REDELIVER_LIMIT,
  });
  const recordingIds: string[] = [];
  for (const id of ids) {
    try {
      await redeliver(db, id, {
        workspaceId,
        nowMs: options.nowMs,
        ...(options.destination ? { destination: options.destination } : {}),
      });
      recordingIds.push(id);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      if (error.code !== "RECORDING_STATE_CONFLICT" && error.code !== "RECORDING_PURGED") {
        throw error;
      }
    }
  }
  return { queued: recordingIds.length, recordingIds };
}
