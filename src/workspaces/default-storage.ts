import type { Queryable } from "../db/index.ts";
import type { RecordingStorage } from "../providers/index.ts";

/** A workspace's default destination; `undefined` when none is set (or no such workspace). */
export async function getDefaultRecordingStorage(
  db: Queryable,
  workspaceId: string,
): Promise<RecordingStorage | undefined> {
  const { rows } = await db.query<{ default_recording_storage: RecordingStorage | null }>(
    "SELECT default_recording_storage FROM workspaces WHERE id = $1",
    [workspaceId],
  );
  return rows[0]?.default_recording_storage ?? undefined;
}

/** Sets (or, with `null`, clears) a workspace's default destination; false if no such workspace. */
export async function setDefaultRecordingStorage(
  db: Queryable,
  workspaceId: string,
  destination: RecordingStorage | null,
): Promise<boolean> {
  const { rowCount } = await db.query(
    "UPDATE workspaces SET default_recording_storage = $2, updated_at = now() WHERE id = $1",
    [workspaceId, destination === null ? null : JSON.stringify(destination)],
  );
  return rowCount === 1;
}
