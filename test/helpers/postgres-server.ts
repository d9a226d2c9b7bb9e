/**
 * A throwaway PostgreSQL server for the test suite, started from the machine's own binaries
 * (`initdb`, `pg_ctl`) in a temporary directory on a free loopback port.
 */
import { spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A running throwaway server. */
export interface PostgresServer {
  /** Connection string for the `postgres` superuser's maintenance database. */
  readonly url: string;
  stop(): void;
}

/** Finds `initdb` and `pg_ctl`: on PATH, or in Debian's versioned directory. */
function findBinDir(): string {
  const onPath = spawnSync("sh", ["-c", "command -v pg_ctl"], { encoding: "utf8" }).stdout.trim();
  if (onPath) return join(onPath, "..");
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const version of versions) {
    const dir = join(root, version, "bin");
    if (existsSync(join(dir, "pg_ctl"))) return dir;
  }
  throw new Error(
    "PostgreSQL server binaries (initdb, pg_ctl) not found: install Debian's `postgresql` package",
  );
}

/** Asks the kernel for a free loopback port. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** Starts a server; PostgreSQL refuses to run as root, so as root it runs as the `postgres` user. */
export async function startPostgresServer(): Promise<PostgresServer> {
  const binDir = findBinDir();
  const dir = mkdtempSync(join(tmpdir(), "relay-pg-"));
  const dataDir = join(dir, "data");
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const ids = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
    const gid = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
    if (ids.status !== 0) throw new Error("running as root needs a `postgres` system user");
    chownSync(dir, Number(ids.stdout.trim()), Number(gid.stdout.trim()));
  }
  const run = (tool: string, args: string[]) => {
    const command = asRoot ? "runuser" : join(binDir, tool);
    const argv = asRoot ? ["-u", "postgres", "--", join(binDir, tool), ...args] : args;
    const result = spawnSync(command, argv, { encoding: "utf8" });
    if (result.status !== 0) {
      throw new Error(`${tool} failed (${result.status}): ${result.stderr || result.stdout}`);
    }
  };
  run("initdb", ["-D", dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]);
  const options = [
    `-p ${port}`,
    "-c listen_addresses=127.0.0.1",
    `-c unix_socket_directories=${dir}`,
    "-c max_connections=300",
    // Durability is irrelevant for a throwaway server; speed is not.
    "-c fsync=off",
    "-c synchronous_commit=off",
    "-c full_page_writes=off",
  ].join(" ");
  run("pg_ctl", ["-D", dataDir, "-o", options, "-l", join(dir, "server.log"), "-w", "start"]);
  let stopped = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        run("pg_ctl", ["-D", dataDir, "-m", "immediate", "-w", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
