import { join } from "node:path";
import type { Db } from "./db.ts";
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
  // PGlite (its WASM PostgreSQL) is loaded only by a process on the embedded database.
  const { openEmbedded } = await import("./embedded.ts");
  return await openEmbedded({ dataDir: join(settings.dataDir, "pgdata") });
}
