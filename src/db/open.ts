import { join } from "node:path";
import type { Db } from "./db.ts";
import { openEmbedded } from "./embedded.ts";
import { openPostgres } from "./postgres.ts";

/** What {@link openDatabase} needs from the configuration. */
export interface DatabaseSettings {
  databaseUrl: string | undefined;
  databasePoolSize: number;
  dataDir: string;
}

/** Opens the PostgreSQL server when a URL is configured, else the embedded database in the data dir. */
export async function openDatabase(
  settings: DatabaseSettings,
  onIdleError?: (error: Error) => void,
): Promise<Db> {
  if (settings.databaseUrl) {
    return openPostgres({
      connectionString: settings.databaseUrl,
      poolSize: settings.databasePoolSize,
      ...(onIdleError ? { onIdleError } : {}),
    });
  }
  return await openEmbedded({
    pgdata: join(settings.dataDir, "pgdata"),
    ...(onIdleError ? { onIdleError } : {}),
  });
}
