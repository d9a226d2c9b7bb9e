export type { Db, Queryable, QueryResult } from "./db.ts";
export { type EmbeddedDb, openEmbedded } from "./embedded.ts";
export { loadMigrations, type Migration, migrate, requireMigrated } from "./migrate.ts";
export { type DatabaseSettings, openDatabase } from "./open.ts";
export { openPostgres } from "./postgres.ts";
