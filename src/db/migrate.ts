import { readdir, readFile } from "node:fs/promises";
import { AppError } from "../errors/index.ts";
import type { Db } from "./db.ts";

/** One numbered migration file. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const migrationsDir = new URL("./migrations/", import.meta.url);
const fileName = /^(\d{4})_([a-z0-9_]+)\.sql$/;
// Any constant works; this one spells "relaymig" so it is recognisable in pg_locks.
const MIGRATION_LOCK = 0x72656c61796d6967n;

/** Reads `migrations/NNNN_name.sql` in version order; a gap or duplicate is a packaging bug. */
export async function loadMigrations(): Promise<Migration[]> {
  const files = (await readdir(migrationsDir)).filter((file) => file.endsWith(".sql")).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = fileName.exec(file);
    if (!match) throw new Error(`migration file name ${file} does not match NNNN_name.sql`);
    const version = Number(match[1]);
    if (version !== migrations.length + 1) throw new Error(`migration ${file} is out of sequence`);
    migrations.push({
      version,
      name: match[2]!,
      sql: await readFile(new URL(file, migrationsDir), "utf8"),
    });
  }
  return migrations;
}

/**
 * Applies pending migrations in one transaction under an advisory lock, so several processes
 * starting together serialise: the first applies, the others find nothing left to do. Refuses a
 * database that already has migrations this code does not know (an older relay after an upgrade).
 */
export async function migrate(db: Db, migrations?: Migration[]): Promise<{ applied: string[] }> {
  const known = migrations ?? (await loadMigrations());
  return await db.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK.toString()]);
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await tx.query<{ version: number }>("SELECT version FROM schema_migrations");
    const done = new Set(rows.map((row) => row.version));
    const newest = Math.max(0, ...done);
    if (newest > known.length) {
      throw new AppError(
        "DATABASE_NEWER_THAN_CODE",
        `the database is at migration ${newest} but this relay knows only ${known.length}: run the newer relay version, or restore a matching backup`,
      );
    }
    const applied: string[] = [];
    for (const migration of known) {
      if (done.has(migration.version)) continue;
      await tx.exec(migration.sql);
      await tx.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [
        migration.version,
        migration.name,
      ]);
      applied.push(`${String(migration.version).padStart(4, "0")}_${migration.name}`);
    }
    return { applied };
  });
}

/**
 * Refuses a database whose schema is not exactly what this code knows, without changing it: for
 * commands that only read, which must never migrate as a side effect.
 */
export async function requireMigrated(db: Db, migrations?: Migration[]): Promise<void> {
  const known = migrations ?? (await loadMigrations());
  const { rows } = await db.query<{ newest: number | null }>(
    `SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN NULL
       ELSE (SELECT coalesce(max(version), 0) FROM schema_migrations) END AS newest`,
  );
  const newest = Number(rows[0]?.newest ?? 0);
  if (newest > known.length) {
    throw new AppError(
      "DATABASE_NEWER_THAN_CODE",
      `the database is at migration ${newest} but this relay knows only ${known.length}: run the newer relay version, or restore a matching backup`,
    );
  }
  if (newest < known.length) {
    throw new AppError(
      "DATABASE_NOT_MIGRATED",
      `the database is at migration ${newest} of ${known.length}: run \`recording-relay migrate\` first (this command only reads and never changes the schema)`,
    );
  }
}
