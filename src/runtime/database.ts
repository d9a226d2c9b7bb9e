/** The database of one command: opened, brought to the schema it needs, closed. */
import {
  type DatabaseSettings,
  type Db,
  migrate,
  openDatabase,
  requireMigrated,
} from "../db/index.ts";

/**
 * How a command uses the database: `write` applies pending migrations first (a command that
 * creates something may be the first to touch a fresh data directory); `read` never changes the
 * schema and refuses a database that is behind (`DATABASE_NOT_MIGRATED`).
 */
export type DatabaseAccess = "read" | "write";

/** Opens the database, runs `fn` with it, and closes it whatever happens. */
export async function withDatabase<T>(
  settings: DatabaseSettings,
  access: DatabaseAccess,
  fn: (db: Db) => Promise<T>,
): Promise<T> {
  const db = await openDatabase(settings);
  try {
    if (access === "write") await migrate(db);
    else await requireMigrated(db);
    return await fn(db);
  } finally {
    await db.close();
  }
}
