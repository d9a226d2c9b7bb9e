/**
 * Fresh, migrated databases for tests, of both kinds the relay runs on: the embedded PGlite and a
 * real PostgreSQL server (the throwaway one `npm test` starts; each test clones a template
 * database, which takes milliseconds instead of re-running migrations).
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { openEmbedded } from "../../src/db/embedded.ts";
import { type Db, migrate, openPostgres } from "../../src/db/index.ts";

/** The two database kinds every database-touching suite runs on. */
export const databaseKinds = ["embedded", "postgres"] as const;
export type DatabaseKind = (typeof databaseKinds)[number];

const TEMPLATE = "relay_template";

/** Creates the migrated template database (run once by `npm test` before the suites). */
export async function prepareTemplateDatabase(serverUrl: string): Promise<void> {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE}`);
    await admin.query(`CREATE DATABASE ${TEMPLATE}`);
  } finally {
    await admin.end();
  }
  const db = openPostgres({ connectionString: withDatabase(serverUrl, TEMPLATE), poolSize: 1 });
  try {
    await migrate(db);
  } finally {
    await db.close();
  }
}

function serverUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) {
    throw new Error(
      "TEST_DATABASE_URL is not set: run the suite with `npm test`, which starts PostgreSQL",
    );
  }
  return url;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** A database on the test server, cloned from the migrated template, and how to drop it. */
export async function createServerDatabase(
  options: { migrated?: boolean } = {},
): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `t_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: serverUrl() });
  await admin.connect();
  try {
    await admin.query(
      options.migrated === false
        ? `CREATE DATABASE ${name}`
        : `CREATE DATABASE ${name} TEMPLATE ${TEMPLATE}`,
    );
  } finally {
    await admin.end();
  }
  return {
    url: withDatabase(serverUrl(), name),
    async drop() {
      const client = new pg.Client({ connectionString: serverUrl() });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

let migratedEmbedded: Promise<Blob> | undefined;

/** A snapshot of a migrated embedded database: loading it is several times faster than initdb. */
function migratedEmbeddedSnapshot(): Promise<Blob> {
  migratedEmbedded ??= (async () => {
    const db = await openEmbedded();
    await migrate(db);
    const snapshot = await db.snapshot();
    await db.close();
    return snapshot;
  })();
  return migratedEmbedded;
}

/** Opens a fresh migrated database of `kind`; `close()` also drops it. */
export async function openTestDatabase(kind: DatabaseKind): Promise<Db> {
  if (kind === "embedded") {
    return await openEmbedded({ loadDataDir: await migratedEmbeddedSnapshot() });
  }
  const { url, drop } = await createServerDatabase();
  const db = openPostgres({ connectionString: url, poolSize: 5 });
  return {
    ...db,
    async close() {
      await db.close();
      await drop();
    },
  };
}
