/**
 * The embedded database's PostgreSQL server: a real `postgres` process (binaries from npm, see
 * embedded-binaries.ts) that this process creates on first start (initdb), starts as its child,
 * reaches only through a unix socket inside the data directory, and stops when it closes or exits.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { AppError } from "../errors/index.ts";
import { restrictToOwner } from "../lib/owner-only.ts";
import { type EmbeddedBinaries, findEmbeddedBinaries } from "./embedded-binaries.ts";

/** Options of {@link startEmbeddedServer}. */
export interface EmbeddedServerOptions {
  /** The PostgreSQL data directory; its parent (the relay's data directory) must be ours. */
  pgdata: string;
  /** `max_connections`: the pool and the listener of one process, with a little room. */
  maxConnections: number;
  /** The system user the server runs as when this process is root (PostgreSQL refuses root). */
  rootServerUser?: string;
  /**
   * Whether writes reach the disk before they count (fsync). Always for the relay's data;
   * only throwaway test servers turn it off.
   */
  durable?: boolean;
}

/** A running embedded server. */
export interface EmbeddedServer {
  /** Connection URL of `database` (default `postgres`) over the unix socket. */
  url(database?: string): string;
  /** The postmaster's process id. */
  readonly pid: number;
  /** Fast shutdown (open transactions roll back, everything committed is kept), then waits. */
  stop(): Promise<void>;
}

const SUPERUSER = "postgres";
const PORT = 5432;
/** How long a start (crash recovery included) or a stop may take before it is called failed. */
const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 60_000;
/** The server log beside the data directory is started anew past this size (one old copy kept). */
const LOG_ROTATE_BYTES = 10 * 1024 * 1024;

/**
 * Settings for one relay process's own small database: a few MB of buffers instead of a server's
 * defaults, and no background processes it does not need (PostgreSQL 18's I/O workers, the
 * logical replication launcher). Autovacuum stays: the data lives for years.
 */
const SMALL_SERVER_SETTINGS = {
  shared_buffers: "16MB",
  work_mem: "2MB",
  maintenance_work_mem: "16MB",
  io_method: "sync",
  max_logical_replication_workers: "0",
  max_worker_processes: "2",
};

/** Without durability (test servers only): nothing waits for the disk. */
const NOT_DURABLE_SETTINGS = { fsync: "off", synchronous_commit: "off", full_page_writes: "off" };

const execFileAsync = promisify(execFile);

/** Creates the data directory on first use, recovers a server left running, and starts one. */
export async function startEmbeddedServer(options: EmbeddedServerOptions): Promise<EmbeddedServer> {
  const { pgdata, maxConnections, durable = true } = options;
  const socketPath = join(pgdata, `.s.PGSQL.${PORT}`);
  // sun_path is 108 bytes on Linux, 104 on macOS, the terminating NUL included.
  if (Buffer.byteLength(socketPath) >= (process.platform === "darwin" ? 104 : 108)) {
    throw new AppError(
      "EMBEDDED_DATABASE_FAILED",
      `the embedded database's socket path ${socketPath} is longer than the system allows for a unix socket: choose a shorter --data-dir (RELAY_DATA_DIR)`,
    );
  }
  const binaries = await findEmbeddedBinaries();
  const account = serverAccount(options.rootServerUser ?? SUPERUSER);
  const dataDir = dirname(pgdata);
  prepareDataDir(dataDir, account, binaries);
  await ensureCluster(pgdata, binaries, account, durable);
  const url = (database = "postgres") =>
    `postgresql://${SUPERUSER}@${encodeURIComponent(pgdata)}:${PORT}/${database}?sslmode=disable`;
  await stopLeftoverServer(pgdata, url());

  const logPath = `${pgdata}.log`;
  rotateLog(logPath);
  const logFd = openSync(logPath, "a", 0o600);
  const settings: Record<string, string> = {
    listen_addresses: "",
    unix_socket_directories: pgdata,
    unix_socket_permissions: "0700",
    port: String(PORT),
    max_connections: String(maxConnections),
    ...SMALL_SERVER_SETTINGS,
    ...(durable ? {} : NOT_DURABLE_SETTINGS),
  };
  let child: ChildProcess;
  try {
    child = spawn(
      binaries.postgres,
      [
        "-D",
        pgdata,
        ...Object.entries(settings).flatMap(([name, value]) => ["-c", `${name}=${value}`]),
      ],
      {
        // Its own process group: a Ctrl-C in the terminal reaches the relay, which drains its
        // work before stopping the server, instead of both at once.
        detached: true,
        stdio: ["ignore", logFd, logFd],
        env: serverEnv(),
        ...(account ? { uid: account.uid, gid: account.gid } : {}),
      },
    );
  } finally {
    closeSync(logFd);
  }
  let spawnError: Error | undefined;
  // A spawn that fails (binary not executable) emits "error" and maybe never "exit".
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.once("error", (error) => {
      spawnError = error;
      resolve();
    });
  });
  // The server must not keep a process alive that has nothing else to do (a test file's).
  child.unref();
  track(child, exited);
  try {
    await waitReady(pgdata, child, exited, logPath);
  } catch (error) {
    if (spawnError) {
      throw new AppError(
        "EMBEDDED_DATABASE_FAILED",
        `could not run ${binaries.postgres}: ${spawnError.message}`,
        { cause: spawnError },
      );
    }
    await stopChild(child, exited);
    throw error;
  }
  const pid = child.pid ?? 0;
  return { url, pid, stop: () => stopChild(child, exited) };
}

/** The account the server runs as: none (this process's own) unless this process is root. */
interface ServerAccount {
  user: string;
  uid: number;
  gid: number;
}

function serverAccount(user: string): ServerAccount | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => spawnSync("id", [flag, user], { encoding: "utf8" });
  const uid = id("-u");
  const gid = id("-g");
  if (uid.status !== 0 || gid.status !== 0) {
    throw new AppError(
      "EMBEDDED_DATABASE_AS_ROOT",
      `the relay runs as root and PostgreSQL refuses to, and there is no \`${user}\` system user to run the embedded database as: run the relay as an unprivileged user, create a \`${user}\` system user (e.g. \`useradd --system ${user}\`, or install your distribution's postgresql package), or use a PostgreSQL server (DATABASE_URL)`,
    );
  }
  return { user, uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/**
 * The relay's data directory stays owner-only; as root, the server's user needs to pass through
 * it to its own `pgdata`, so its group becomes that user's and gets search permission only
 * (0710: no listing, and every file in it stays 0600). Whatever lies above it is not ours to
 * change: when the server's user cannot reach it, say so.
 */
function prepareDataDir(
  dataDir: string,
  account: ServerAccount | undefined,
  binaries: EmbeddedBinaries,
): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  restrictToOwner(dataDir);
  if (!account) return;
  chownSync(dataDir, 0, account.gid);
  chmodSync(dataDir, 0o710);
  const probe = spawnSync(
    "/bin/sh",
    ["-c", 'cd -- "$1" && test -x "$2"', "sh", dataDir, binaries.postgres],
    {
      uid: account.uid,
      gid: account.gid,
    },
  );
  if (probe.status !== 0) {
    throw new AppError(
      "EMBEDDED_DATABASE_AS_ROOT",
      `the relay runs as root, so the embedded database runs as the \`${account.user}\` user, who cannot reach ${dataDir} or ${binaries.postgres} (a directory on the way is closed to other users, e.g. a home directory): choose a data directory and install location that user can pass through, run the relay as an unprivileged user, or use a PostgreSQL server (DATABASE_URL)`,
    );
  }
}

/** Runs initdb on first start (atomically: into a side directory renamed when complete). */
async function ensureCluster(
  pgdata: string,
  binaries: EmbeddedBinaries,
  account: ServerAccount | undefined,
  durable: boolean,
): Promise<void> {
  const versionFile = join(pgdata, "PG_VERSION");
  if (existsSync(versionFile)) {
    const found = readFileSync(versionFile, "utf8").trim();
    if (Number.parseInt(found, 10) !== binaries.majorVersion) {
      throw new AppError(
        "EMBEDDED_DATABASE_FAILED",
        `${pgdata} holds a PostgreSQL ${found} database and the embedded server is PostgreSQL ${binaries.majorVersion}, which cannot open it: upgrade it with that version's pg_upgrade or a dump and restore, or move it aside to start with an empty database`,
      );
    }
    if (account && statSync(pgdata).uid !== account.uid) chownTree(pgdata, account);
    return;
  }
  if (existsSync(pgdata)) {
    if (readdirSync(pgdata).length > 0) {
      throw new AppError(
        "EMBEDDED_DATABASE_FAILED",
        `${pgdata} is not empty and holds no PostgreSQL database: move it aside`,
      );
    }
    rmSync(pgdata, { recursive: true });
  }
  const staging = `${pgdata}.init`;
  rmSync(staging, { recursive: true, force: true }); // What an interrupted first start left.
  mkdirSync(staging, { mode: 0o700 });
  if (account) chownSync(staging, account.uid, account.gid);
  try {
    await execFileAsync(
      binaries.initdb,
      [
        "-D",
        staging,
        "-U",
        SUPERUSER,
        // Only this process reaches the socket: it lies in the owner-only data directory.
        "--auth=trust",
        "--encoding=UTF8",
        // Byte-order collation: the same on every machine, whatever locales it has installed.
        "--locale=C",
        // The small settings in postgresql.conf too, and for initdb's own server runs (less memory).
        ...Object.entries(SMALL_SERVER_SETTINGS).flatMap(([name, value]) => [
          "-c",
          `${name}=${value}`,
        ]),
        ...(durable ? [] : ["--no-sync"]),
      ],
      { env: serverEnv(), ...(account ? { uid: account.uid, gid: account.gid } : {}) },
    );
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new AppError(
      "EMBEDDED_DATABASE_FAILED",
      `initdb could not create the embedded database in ${pgdata}: ${stderr || (error as Error).message}`,
      { cause: error },
    );
  }
  renameSync(staging, pgdata);
  if (durable) syncDirectory(dirname(pgdata));
}

/**
 * A relay killed with SIGKILL leaves its server running. It holds the data directory, so it is
 * asked to stop (fast shutdown) before a new one starts with this process's settings. Only a
 * server answering on the socket inside this pgdata counts: a pid file alone may name a pid that
 * was reused after a reboot.
 */
async function stopLeftoverServer(pgdata: string, url: string): Promise<void> {
  const pidFile = join(pgdata, "postmaster.pid");
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
  if (!pid || !(await answers(url))) return;
  try {
    process.kill(pid, "SIGINT");
  } catch {
    return;
  }
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (existsSync(pidFile)) {
    if (Date.now() > deadline) {
      throw new AppError(
        "EMBEDDED_DATABASE_FAILED",
        `a PostgreSQL server left running on ${pgdata} (pid ${pid}) did not stop within ${STOP_TIMEOUT_MS / 1000} s`,
      );
    }
    await sleep(25);
  }
}

/** Whether a server answers on the socket (an error it sends, such as "starting up", counts). */
async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => {});
  try {
    await client.connect();
    return true;
  } catch (error) {
    return typeof (error as { severity?: unknown }).severity === "string";
  } finally {
    await client.end().catch(() => {});
  }
}

/** Waits until the postmaster says it accepts connections (line 8 of postmaster.pid). */
async function waitReady(
  pgdata: string,
  child: ChildProcess,
  exited: Promise<void>,
  logPath: string,
): Promise<void> {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (gone || child.exitCode !== null) {
      const tail = logTail(logPath);
      // pg_control records how the server that made the files was built; PGlite (the embedded
      // database of earlier relay versions, PostgreSQL compiled to WebAssembly) differs.
      const foreign = /incompatible with server/.test(tail)
        ? `: ${pgdata} was made by another build of PostgreSQL, such as the PGlite database of earlier relay versions, which this server cannot open; move it aside to start with an empty database, or keep the earlier relay version for this data directory`
        : "";
      throw new AppError(
        "EMBEDDED_DATABASE_FAILED",
        `the embedded PostgreSQL server did not start${foreign} (its log, ${logPath}, ends with: ${tail})`,
      );
    }
    const lines = readIfExists(join(pgdata, "postmaster.pid")).split("\n");
    if (Number(lines[0]) === child.pid && lines[7]?.trim() === "ready") return;
    if (Date.now() > deadline) {
      throw new AppError(
        "EMBEDDED_DATABASE_FAILED",
        `the embedded PostgreSQL server was not ready within ${START_TIMEOUT_MS / 1000} s (see ${logPath})`,
      );
    }
    await sleep(10);
  }
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    child.kill("SIGINT");
    const timer = setTimeout(() => child.kill("SIGQUIT"), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
  await exited;
}

/**
 * Servers of this process, stopped if it ends without closing them: on exit (the server is
 * told to shut down fast and finishes on its own), and on SIGINT/SIGTERM when nothing else in
 * the process handles them (a one-shot command; `serve` and `worker` close the database
 * themselves), after which the signal takes its default course.
 */
const running = new Set<ChildProcess>();

const stopAllNow = () => {
  for (const child of running) child.kill("SIGINT");
};

const onSignal = (signal: NodeJS.Signals) => {
  if (process.listenerCount(signal) > 1) return;
  stopAllNow();
  removeSignalHooks();
  process.kill(process.pid, signal);
};

function removeSignalHooks(): void {
  process.removeListener("SIGINT", onSignal);
  process.removeListener("SIGTERM", onSignal);
}

let exitHooked = false;

function track(child: ChildProcess, exited: Promise<void>): void {
  if (!exitHooked) {
    exitHooked = true;
    process.on("exit", stopAllNow);
  }
  if (running.size === 0) {
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  }
  running.add(child);
  void exited.then(() => {
    running.delete(child);
    if (running.size === 0) removeSignalHooks();
  });
}

/** The environment of initdb and postgres: none of the libpq variables meant for clients. */
function serverEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("PG")) env[name] = value;
  }
  env.LC_ALL = "C";
  return env;
}

function chownTree(path: string, account: ServerAccount): void {
  const info = lstatSync(path);
  if (info.isSymbolicLink()) return;
  chownSync(path, account.uid, account.gid);
  if (info.isDirectory()) {
    for (const name of readdirSync(path)) chownTree(join(path, name), account);
  }
}

function syncDirectory(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function rotateLog(path: string): void {
  try {
    if (statSync(path).size > LOG_ROTATE_BYTES) renameSync(path, `${path}.1`);
  } catch {
    // No log yet.
  }
}

function logTail(path: string): string {
  const lines = readIfExists(path).trim().split("\n");
  return lines.slice(-5).join(" | ") || "nothing";
}

function readIfExists(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
