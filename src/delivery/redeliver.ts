/**
 * `POST /v2/recordings/{id}/redeliver` (docs/api.md, "Delivery"): deliver a recording again from its retained
 * staged copy — after a failure once the customer fixed their setup, or to restore an object
 * they deleted. The object key is the same; if the object is still there intact, the delivery
 * counts it as delivered without uploading (and no second `recording_ready` is sent).
 */
import type { Db } from "../db/index.ts";
import { AppError } from "../errors/index.ts";
import { findRecording, type Recording, reopenForRedelivery } from "../recordings/store.ts";
import { enqueueDelivery, notifyWorkers } from "./queue.ts";

/** Queues a new delivery of a delivered or failed recording still within its retention. */
export async function redeliver(
  db: Db,
  id: string,
  options: { workspaceId?: string; nowMs: number },
): Promise<Recording> {
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
  const queued = await db.transaction(async (tx) => {
    // Conditional on the state read above: a purge or another redeliver in between wins.
    if (!(await reopenForRedelivery(tx, id, state, options.nowMs))) return false;
    const delivery = await enqueueDelivery(tx, {
      recordingId: id,
      workspaceId: recording.workspaceId,
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
