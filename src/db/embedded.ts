import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { AppError } from "../errors/index.ts";
import type { Db } from "./db.ts";
import { startEmbeddedServer } from "./embedded-server.ts";
import { openPostgres } from "./postgres.ts";

/** Options of {@link openEmbedded}. */
export interface EmbeddedOptions {
  /** The PostgreSQL data directory (`<data dir>/pgdata`), created on first open. */
  pgdata: string;
  /** The system user the server runs as when this process is root (default `postgres`). */
  rootServerUser?: string;
  /** Called when an idle pooled connection fails; the pool replaces it. */
  onIdleError?: (error: Error) => void;
}

/**
 * Connections of one process: its pool, the delivery worker's LISTEN connection, and room for
 * a look with psql. Each server connection is a process of a few MB, so the pool stays small;
 * one process's database work is short statements.
 */
const POOL_SIZE = 5;
const MAX_CONNECTIONS = POOL_SIZE + 1 + 2;

/**
 * Opens the embedded database: a PostgreSQL server of this process's own (embedded-server.ts)
 * reached with the same `pg` pool as a server given by DATABASE_URL, over a unix socket in the
 * data directory. One process per data directory: a lock file keeps a second one off it.
 */
export async function openEmbedded({
  pgdata,
  rootServerUser,
  onIdleError,
}: EmbeddedOptions): Promise<Db> {
  const unlock = lockDataDir(pgdata);
  let server: Awaited<ReturnType<typeof startEmbeddedServer>>;
  try {
    server = await startEmbeddedServer({
      pgdata,
      maxConnections: MAX_CONNECTIONS,
      ...(rootServerUser ? { rootServerUser } : {}),
    });
  } catch (error) {
    unlock();
    throw error;
  }
  const db = openPostgres({
    connectionString: server.url(),
    poolSize: POOL_SIZE,
    ...(onIdleError ? { onIdleError } : {}),
  });
  return {
    ...db,
    kind: "embedded",
    async close() {
      try {
        await db.close();
      } finally {
        try {
          await server.stop();
        } finally {
          unlock();
        }
      }
    },
  };
}

/**
 * Takes `<pgdata>.lock` for this process, replacing a lock left by a dead process (whose server,
 * if still running, the start then stops).
 */
function lockDataDir(pgdata: string): () => void {
  mkdirSync(dirname(pgdata), { recursive: true, mode: 0o700 });
  const path = `${pgdata}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = Number(readFileSync(path, "utf8").trim());
      if (holder && isAlive(holder)) {
        throw new AppError(
          "DATA_DIR_LOCKED",
          `the embedded database in ${pgdata} is in use by process ${holder}; stop it, or use a PostgreSQL server (DATABASE_URL) to run several processes`,
        );
      }
      rmSync(path, { force: true });
    }
  }
  throw new AppError("DATA_DIR_LOCKED", `could not lock ${path}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
