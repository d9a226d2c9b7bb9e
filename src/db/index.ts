export type { Db, Queryable } from "./db.ts";
export { loadMigrations, migrate, requireMigrated } from "./migrate.ts";
export { type DatabaseSettings, openDatabase } from "./open.ts";
export { openPostgres } from "./postgres.ts";
