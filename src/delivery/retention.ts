/**
 * Retention (SPEC §5): staged copies are kept until `retained_until` — a short grace after a
 * delivery, `retention_days` after a failure — then purged. Recordings that never completed are
 * purged after the failure retention too, and staged files without a live recording (left by a
 * crash between the two steps below) are swept.
 */
import type { Db } from "../db/index.ts";
import type { Clock } from "../oidc/index.ts";
import type { StagingStore } from "../staging/index.ts";
import type { DeliveryLog } from "./attempt.ts";

/** What the purge needs. */
export interface PurgeDeps {
  db: Db;
  staging: StagingStore;
  clock: Clock;
  log: DeliveryLog;
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
  const now = new Date(deps.clock.now());
  let purged = 0;
  for (;;) {
    // The state changes first, conditionally: a `redeliver` that got in between wins, and a
    // crash before the staged copy is deleted leaves an orphan the sweep below removes.
    const { rows } = await deps.db.query<{ id: string }>(
      `UPDATE recordings SET state = 'purged', purged_at = $1, live_upload_handle = NULL
       WHERE id IN (
         SELECT id FROM recordings
         WHERE (state IN ('delivered', 'failed') AND retained_until <= $1)
            OR (state = 'receiving' AND coalesce(last_append_at, created_at) <= $2)
         ORDER BY id LIMIT ${BATCH}
         FOR UPDATE SKIP LOCKED)
       RETURNING id`,
      [now, new Date(now.getTime() - deps.abandonedAfterMs)],
    );
    for (const { id } of rows) {
      await deps.staging.delete(id);
      purged++;
    }
    if (rows.length < BATCH) break;
  }
  const orphansRemoved = await sweepOrphans(deps);
  if (purged > 0 || orphansRemoved > 0) {
    deps.log.info({ purged, orphansRemoved }, "purged staged recordings past their retention");
  }
  return { purged, orphansRemoved };
}

/** Deletes staged data whose recording is purged or does not exist. */
async function sweepOrphans(deps: PurgeDeps): Promise<number> {
  let removed = 0;
  let batch: string[] = [];
  const flush = async () => {
    const { rows } = await deps.db.query<{ id: string }>(
      `SELECT value AS id FROM jsonb_array_elements_text($1::jsonb) AS ids(value)
       WHERE NOT EXISTS (
         SELECT 1 FROM recordings r WHERE r.id = ids.value::uuid AND r.state <> 'purged')`,
      [JSON.stringify(batch)],
    );
    for (const { id } of rows) {
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
