/**
 * Fresh, migrated databases for tests, of both kinds the relay runs on: the embedded server
 * (one per test process, started by the relay's own code) and a PostgreSQL server (the
 * throwaway one `npm test` starts). Each test clones a migrated template database, which takes
 * milliseconds instead of re-running migrations.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { type EmbeddedServer, startEmbeddedServer } from "../../src/db/embedded-server.ts";
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
  return await createDatabaseOn(serverUrl(), options);
}

/** A new database on the server of `adminUrl` (cloned from its template unless unmigrated). */
async function createDatabaseOn(
  adminUrl: string,
  options: { migrated?: boolean } = {},
): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `t_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
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
    url: withDatabase(adminUrl, name),
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

let embeddedServer: Promise<EmbeddedServer> | undefined;

/**
 * This test process's embedded server, started on first use through the relay's own start-up
 * code (initdb, socket in the data directory, as the `postgres` user under root) with its
 * migrated template; stopped and removed when the process exits. Durability is off: its data
 * dies with the test.
 */
function sharedEmbeddedServer(): Promise<EmbeddedServer> {
  embeddedServer ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), "relay-embedded-test-"));
    const pgdata = join(dir, "pgdata");
    const server = await startEmbeddedServer({ pgdata, maxConnections: 100, durable: false });
    process.on("exit", () => {
      // The relay code's own exit hook told the server to stop; wait for it before removing.
      const deadline = Date.now() + 10_000;
      while (existsSync(join(pgdata, "postmaster.pid")) && Date.now() < deadline) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
      }
      rmSync(dir, { recursive: true, force: true });
    });
    await prepareTemplateDatabase(server.url());
    return server;
  })();
  return embeddedServer;
}

/** Opens a fresh migrated database of `kind`; `close()` also drops it. */
export async function openTestDatabase(kind: DatabaseKind): Promise<Db> {
  const adminUrl = kind === "embedded" ? (await sharedEmbeddedServer()).url() : serverUrl();
  const { url, drop } = await createDatabaseOn(adminUrl);
  const db = openPostgres({ connectionString: url, poolSize: 5 });
  return {
    ...db,
    kind,
    async close() {
      await db.close();
      await drop();
    },
  };
}
