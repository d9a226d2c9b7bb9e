import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  createServerDatabase,
  databaseKinds,
  openTestDatabase,
} from "../../test/helpers/databases.ts";
import { isAppError } from "../errors/index.ts";
import { openEmbedded } from "./embedded.ts";
import { type Db, loadMigrations, migrate, openPostgres } from "./index.ts";

for (const kind of databaseKinds) {
  describe(`database (${kind})`, () => {
    let db: Db;
    before(async () => {
      db = await openTestDatabase(kind);
    });
    after(async () => await db.close());

    it("is migrated to the newest migration, and migrating again changes nothing", async () => {
      const known = await loadMigrations();
      const { rows } = await db.query<{ version: number }>(
        "SELECT version FROM schema_migrations ORDER BY version",
      );
      assert.deepEqual(
        rows.map((row) => row.version),
        known.map((migration) => migration.version),
      );
      assert.deepEqual(await migrate(db), { applied: [] });
    });

    it("creates the tables the relay needs", async () => {
      const { rows } = await db.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
      );
      const tables = rows.map((row) => row.table_name);
      for (const table of [
        "workspaces",
        "api_keys",
        "conversations",
        "recordings",
        "deliveries",
        "events",
        "signing_keys",
      ]) {
        assert.ok(tables.includes(table), `missing table ${table}`);
      }
    });

    it("returns bigint, timestamptz, jsonb and bytea values as the same JS types", async () => {
      const { rows } = await db.query<{ big: number; at: Date; doc: unknown; bytes: Uint8Array }>(
        "SELECT $1::int8 AS big, now() AS at, $2::jsonb AS doc, $3::bytea AS bytes",
        [1_700_000_000_123, JSON.stringify({ a: [1, "x"] }), Buffer.from([1, 2, 3])],
      );
      assert.equal(rows[0]!.big, 1_700_000_000_123);
      assert.ok(rows[0]!.at instanceof Date);
      assert.deepEqual(rows[0]!.doc, { a: [1, "x"] });
      assert.deepEqual([...rows[0]!.bytes], [1, 2, 3]);
    });

    it("commits a transaction that resolves and rolls back one that throws", async () => {
      const id = crypto.randomUUID();
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.query("INSERT INTO workspaces (id, name) VALUES ($1, 'rolled back')", [id]);
          throw new Error("boom");
        }),
        /boom/,
      );
      assert.equal((await db.query("SELECT 1 FROM workspaces WHERE id = $1", [id])).rowCount, 0);
      await db.transaction(async (tx) => {
        await tx.query("INSERT INTO workspaces (id, name) VALUES ($1, 'kept')", [id]);
      });
      assert.equal((await db.query("SELECT 1 FROM workspaces WHERE id = $1", [id])).rows.length, 1);
    });

    it("refuses to run against a database with migrations it does not know", async () => {
      await db.query(
        "INSERT INTO schema_migrations (version, name) VALUES (9999, 'from_the_future')",
      );
      try {
        await assert.rejects(migrate(db), (error) => isAppError(error, "DATABASE_NEWER_THAN_CODE"));
      } finally {
        await db.query("DELETE FROM schema_migrations WHERE version = 9999");
      }
    });
  });
}

describe("migrations on a PostgreSQL server", () => {
  it("serialise when many processes migrate one empty database at once", async () => {
    const { url, drop } = await createServerDatabase({ migrated: false });
    const pools = Array.from({ length: 8 }, () =>
      openPostgres({ connectionString: url, poolSize: 1 }),
    );
    try {
      const results = await Promise.all(pools.map((pool) => migrate(pool)));
      const known = await loadMigrations();
      // Exactly one migrator applied each migration; the others found nothing left to do.
      assert.equal(results.flatMap((result) => result.applied).length, known.length);
      const { rows } = await pools[0]!.query("SELECT version FROM schema_migrations");
      assert.equal(rows.length, known.length);
    } finally {
      await Promise.all(pools.map((pool) => pool.close()));
      await drop();
    }
  });
});

const asRoot = process.getuid?.() === 0;

describe("embedded database directory", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "relay-embedded-"));
    // Under root the server runs as `postgres`, which must pass through to the data directories.
    await chmod(dir, 0o711);
  });
  after(async () => await rm(dir, { recursive: true, force: true }));

  it("keeps data across reopen and refuses a second opener while open", async () => {
    const pgdata = join(dir, "pgdata");
    const first = await openEmbedded({ pgdata });
    await migrate(first);
    await first.query("INSERT INTO workspaces (id, name) VALUES ($1, 'persisted')", [
      crypto.randomUUID(),
    ]);
    await assert.rejects(openEmbedded({ pgdata }), (error) => isAppError(error, "DATA_DIR_LOCKED"));
    const serverPid = postmasterPid(pgdata);
    await first.close();
    // Closing stops the server: nothing keeps running on the directory.
    assert.equal(existsSync(join(pgdata, "postmaster.pid")), false);
    assert.equal(isRunning(serverPid), false);
    const second = await openEmbedded({ pgdata });
    try {
      const { rows } = await second.query<{ name: string }>("SELECT name FROM workspaces");
      assert.deepEqual(
        rows.map((row) => row.name),
        ["persisted"],
      );
    } finally {
      await second.close();
    }
  });

  it("takes over a lock left behind by a dead process", async () => {
    const pgdata = join(dir, "stale");
    // PID 2^22+ is above Linux's pid_max default, so no live process has it.
    await writeFile(`${pgdata}.lock`, "4194999");
    const db = await openEmbedded({ pgdata });
    await db.close();
  });

  it("stops the server a killed process left running, and keeps its committed data", async () => {
    const pgdata = join(dir, "orphan");
    // A process that opens the database, commits a row and is then killed with SIGKILL: it
    // cannot stop its server, which keeps running on the directory.
    const script = `
      import { openEmbedded } from ${JSON.stringify(new URL("./embedded.ts", import.meta.url).href)};
      import { migrate } from ${JSON.stringify(new URL("./migrate.ts", import.meta.url).href)};
      const db = await openEmbedded({ pgdata: ${JSON.stringify(pgdata)} });
      await migrate(db);
      await db.query("INSERT INTO workspaces (id, name) VALUES ($1, 'before the kill')", [crypto.randomUUID()]);
      process.kill(process.pid, "SIGKILL");
    `;
    const killed = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
    });
    assert.equal(killed.signal, "SIGKILL", killed.stderr);
    const orphan = postmasterPid(pgdata);
    assert.ok(isRunning(orphan), "the killed process's server is still running");

    const db = await openEmbedded({ pgdata });
    try {
      assert.equal(isRunning(orphan), false, "the leftover server was stopped");
      assert.notEqual(postmasterPid(pgdata), orphan);
      const { rows } = await db.query<{ name: string }>("SELECT name FROM workspaces");
      assert.deepEqual(
        rows.map((row) => row.name),
        ["before the kill"],
      );
    } finally {
      await db.close();
    }
  });

  it("stops the server when a process without its own signal handling gets SIGTERM", async () => {
    const pgdata = join(dir, "terminated");
    // Like a one-shot command: opens the database and has no SIGTERM handler of its own.
    const script = `
      import { openEmbedded } from ${JSON.stringify(new URL("./embedded.ts", import.meta.url).href)};
      await openEmbedded({ pgdata: ${JSON.stringify(pgdata)} });
      console.log("open");
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const [line] = (await once(child.stdout!, "data")) as [Buffer];
    assert.equal(line.toString().trim(), "open");
    const server = postmasterPid(pgdata);
    child.kill("SIGTERM");
    const [code, signal] = await once(child, "exit");
    // The signal keeps its default effect: the process ends by it.
    assert.deepEqual([code, signal], [null, "SIGTERM"]);
    const deadline = Date.now() + 30_000;
    while (isRunning(server) && Date.now() < deadline) await sleep(50);
    assert.equal(isRunning(server), false, "the server stopped with the process");
  });

  it("keeps every file owner-only, whatever the umask and the modes found", async () => {
    const dataRoot = join(dir, "world-readable");
    await mkdir(dataRoot, { mode: 0o755 });
    await chmod(dataRoot, 0o755);
    const previousUmask = process.umask(0);
    try {
      for (let round = 0; round < 2; round++) {
        const db = await openEmbedded({ pgdata: join(dataRoot, "pgdata") });
        await migrate(db);
        await db.close();
      }
    } finally {
      process.umask(previousUmask);
    }
    const open: string[] = [];
    const walk = async (path: string) => {
      const info = await stat(path);
      // As root, the data directory lets the server's group pass through (0710), no more.
      const allowed = asRoot && path === dataRoot ? 0o010 : 0;
      if ((info.mode & 0o077 & ~allowed) !== 0) {
        open.push(`${path} ${(info.mode & 0o777).toString(8)}`);
      }
      if (info.isDirectory()) {
        for (const name of await readdir(path)) await walk(join(path, name));
      }
    };
    await walk(dataRoot);
    assert.deepEqual(open.slice(0, 5), [], `${open.length} paths readable by others`);
  });

  describe("as root", { skip: !asRoot && "runs only as root" }, () => {
    it("runs the server as the `postgres` system user", async () => {
      const pgdata = join(dir, "as-root");
      const db = await openEmbedded({ pgdata });
      try {
        const postgresUid = Number(
          spawnSync("id", ["-u", "postgres"], { encoding: "utf8" }).stdout.trim(),
        );
        const status = await readFile(`/proc/${postmasterPid(pgdata)}/status`, "utf8");
        assert.equal(Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]), postgresUid);
        assert.equal((await stat(pgdata)).uid, postgresUid);
        assert.equal((await stat(pgdata)).mode & 0o777, 0o700);
      } finally {
        await db.close();
      }
    });

    it("refuses with a clear error when there is no such user", async () => {
      await assert.rejects(
        openEmbedded({ pgdata: join(dir, "no-user"), rootServerUser: "relay-no-such-user" }),
        (error) =>
          isAppError(error, "EMBEDDED_DATABASE_AS_ROOT") &&
          /relay-no-such-user/.test(error.message) &&
          /unprivileged user/.test(error.message) &&
          /DATABASE_URL/.test(error.message),
      );
      // The lock was released: the directory opens once the cause is fixed.
      const db = await openEmbedded({ pgdata: join(dir, "no-user") });
      await db.close();
    });
  });
});

function postmasterPid(pgdata: string): number {
  return Number(readFileSync(join(pgdata, "postmaster.pid"), "utf8").split("\n")[0]);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A process that has exited but was not yet reaped by its parent still answers kill(0).
  const stat = (() => {
    try {
      return readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      return "";
    }
  })();
  return !/^\d+ \(.*\) Z/.test(stat);
}
