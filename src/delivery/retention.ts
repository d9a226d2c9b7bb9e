/**
 * Retention (docs/api.md, "Delivery"; docs/operations.md): staged copies are kept until
 * `retained_until` — a short grace after a delivery, `retention_days` after a failure — then
 * purged. Recordings that never completed are
 * purged after the failure retention too (first aborting the upload their streaming started in
 * the customer's bucket), and staged files without a live recording (left by a crash between the
 * two steps below) are swept.
 */
import type { Db } from "../db/index.ts";
import { isDestinationError } from "../destinations/index.ts";
import type { Clock } from "../lib/clock.ts";
import type { CreateDestination } from "../providers/factory.ts";
import {
  abandonedWithLiveUpload,
  findRecording,
  markPurged,
  setLiveUploadHandle,
  withoutLiveRecording,
} from "../recordings/store.ts";
import type { StagingStore } from "../staging/index.ts";
import type { DeliveryLog } from "./attempt.ts";

/** What the purge needs. */
export interface PurgeDeps {
  db: Db;
  staging: StagingStore;
  clock: Clock;
  log: DeliveryLog;
  createDestination: CreateDestination;
  /** Age after which a recording still `receiving` (its producer gone) is purged. */
  abandonedAfterMs: number;
}

/** What one purge round did. */
export interface PurgeReport {
  purged: number;
  orphansRemoved: number;
}

const BATCH = 200;

/** Purges every recording past its retention, and staged files nobody owns. */
export async function purgeExpired(deps: PurgeDeps): Promise<PurgeReport> {
  const nowMs = deps.clock.now();
  const abandonedBefore = new Date(nowMs - deps.abandonedAfterMs);
  await abortAbandonedUploads(deps, abandonedBefore);
  let purged = 0;
  for (;;) {
    // The state changes first, conditionally: a `redeliver` that got in between wins, and a
    // crash before the staged copy is deleted leaves an orphan the sweep below removes.
    const ids = await markPurged(deps.db, { nowMs, abandonedBefore, limit: BATCH });
    for (const id of ids) {
      await deps.staging.delete(id);
      purged++;
    }
    if (ids.length < BATCH) break;
  }
  const orphansRemoved = await sweepOrphans(deps);
  if (purged > 0 || orphansRemoved > 0) {
    deps.log.info({ purged, orphansRemoved }, "purged staged recordings past their retention");
  }
  return { purged, orphansRemoved };
}

/**
 * Aborts the live uploads of recordings whose producer went away, so their parts do not stay
 * (and bill) in the customer's bucket. A transient failure keeps the handle (and the recording)
 * for the next round; a permanent one (say, no s3:AbortMultipartUpload) gives up on it.
 */
async function abortAbandonedUploads(deps: PurgeDeps, abandonedBefore: Date): Promise<void> {
  for (const id of await abandonedWithLiveUpload(deps.db, abandonedBefore, BATCH)) {
    const recording = await findRecording(deps.db, id);
    const handle = recording?.liveUploadHandle;
    if (!recording || !handle) continue;
    try {
      const destination = deps.createDestination(recording.storage, {
        workspaceId: recording.workspaceId,
      });
      await destination.abortLeftover(handle, AbortSignal.timeout(60_000));
      await setLiveUploadHandle(deps.db, id, null);
    } catch (error) {
      const retry = isDestinationError(error) && error.transient;
      deps.log.warn(
        { err: error, recording: id, provider: handle.provider },
        retry
          ? "could not abort the upload of an abandoned recording; trying again next purge"
          : "could not abort the upload of an abandoned recording; giving up on it",
      );
      if (!retry) await setLiveUploadHandle(deps.db, id, null);
    }
  }
}

/** Deletes staged data whose recording is purged or does not exist. */
async function sweepOrphans(deps: PurgeDeps): Promise<number> {
  let removed = 0;
  let batch: string[] = [];
  const flush = async () => {
    for (const id of await withoutLiveRecording(deps.db, batch)) {
      await deps.staging.delete(id);
      removed++;
    }
    batch = [];
  };
  for await (const id of deps.staging.list()) {
    batch.push(id);
    if (batch.length >= BATCH) await flush();
  }
  if (batch.length > 0) await flush();
  return removed;
}
