import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { PGlite, types } from "@electric-sql/pglite";
import { AppError } from "../errors/index.ts";
import { restrictToOwner } from "../lib/owner-only.ts";
import type { Db, Queryable } from "./db.ts";

/** Options of {@link openEmbedded}. */
export interface EmbeddedOptions {
  /** Directory for the database files; absent for an in-memory database (tests). */
  dataDir?: string;
  /** Starts from a snapshot made by {@link EmbeddedDb.snapshot} instead of an empty database. */
  loadDataDir?: Blob;
}

/** The embedded database, which can also snapshot itself. */
export interface EmbeddedDb extends Db {
  /** An uncompressed tarball of the whole database, loadable with `loadDataDir`. */
  snapshot(): Promise<Blob>;
}

// Same JS types as the server implementation (see postgres.ts).
const parsers = { [types.INT8]: (value: string) => Number(value) };

/**
 * PostgreSQL's memory settings for one relay process's own small database, inside PGlite's WASM
 * memory: the defaults (128 MB of shared buffers, 4 MB per sort, 64 MB for maintenance) sized for a
 * server cost the embedded default ~120 MiB of idle RSS (docs/performance.md, start-up).
 */
const SMALL_MEMORY_PARAMS = [
  "-c",
  "shared_buffers=16MB",
  "-c",
  "work_mem=2MB",
  "-c",
  "maintenance_work_mem=16MB",
];

/**
 * Opens the embedded PGlite database. PGlite is single-process: a lock file keeps a second
 * process off the same directory, where it would corrupt the data.
 */
export async function openEmbedded({
  dataDir,
  loadDataDir,
}: EmbeddedOptions = {}): Promise<EmbeddedDb> {
  const locked = dataDir ? lockDataDir(dataDir) : () => {};
  // PGlite writes its files with the process umask: tighten what an earlier run (or a directory
  // made by someone else) left open, now and again when closing, after the files it created.
  const tighten = () => {
    if (!dataDir) return;
    restrictToOwner(dirname(dataDir));
    restrictToOwner(dataDir, { recursive: true });
  };
  const release = () => {
    try {
      tighten();
    } finally {
      locked();
    }
  };
  tighten();
  let pglite: PGlite;
  try {
    pglite = await PGlite.create({
      ...(dataDir ? { dataDir } : {}),
      ...(loadDataDir ? { loadDataDir } : {}),
      parsers,
      startParams: [...PGlite.defaultStartParams, ...SMALL_MEMORY_PARAMS],
    });
  } catch (error) {
    release();
    throw error;
  }

  const wrap = (target: Pick<PGlite, "query" | "exec">): Queryable => ({
    async query<Row>(sql: string, params?: unknown[]) {
      const result = await target.query<Row>(sql, params);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    },
    async exec(sql: string) {
      await target.exec(sql);
    },
  });

  return {
    kind: "embedded",
    ...wrap(pglite),
    transaction: (fn) => pglite.transaction((tx) => fn(wrap(tx))),
    snapshot: async () => await pglite.dumpDataDir("none"),
    // PGlite is one process, so its own LISTEN reaches every listener there is.
    listen: async (channel, onNotify) => await pglite.listen(channel, () => onNotify()),
    async close() {
      try {
        await pglite.close();
      } finally {
        release();
      }
    },
  };
}

/**
 * Takes `<dataDir>.lock` (beside the database files, which PGlite owns) for this process,
 * replacing a lock left by a dead process.
 */
function lockDataDir(dataDir: string): () => void {
  mkdirSync(dirname(dataDir), { recursive: true, mode: 0o700 });
  const path = `${dataDir}.lock`;
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
          `the embedded database in ${dataDir} is in use by process ${holder}; stop it, or use a PostgreSQL server (DATABASE_URL) to run several processes`,
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
