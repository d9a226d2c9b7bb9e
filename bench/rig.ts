/**
 * What the benchmarks measure against: a throwaway PostgreSQL server, the three cloud emulators
 * (in this process) trusting one workspace, a relay API process (`serve`, a child, as deployed)
 * and `recording-relay worker` processes started per measurement, plus a webhook receiver.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import type { RunningEmulators } from "../emulators/main.ts";
import {
  startWebhookReceiver,
  type WebhookReceiver,
} from "../emulators/shared/webhook-receiver.ts";
import type { Db } from "../src/db/index.ts";
import { openPostgres } from "../src/db/postgres.ts";
import { prepareTemplateDatabase } from "../test/helpers/databases.ts";
import {
  connectReceiver,
  createRecordedConversation,
  prepareRig,
  type RigEnvironment,
  relayClient,
} from "../test/helpers/delivery-rig.ts";
import { type PostgresServer, startPostgresServer } from "../test/helpers/postgres-server.ts";

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
export type Provider = "s3" | "gcs" | "azure_blob";
export const providers: Provider[] = ["s3", "gcs", "azure_blob"];

const executable = new URL("../src/bin/recording-relay.js", import.meta.url).pathname;

/** A relay process (`serve` or `worker`) started by the bench. */
export interface RelayChild {
  child: ChildProcess;
  /** Peak resident set size so far (VmHWM), in bytes. */
  peakRssBytes(): Promise<number>;
  /** Resident set size now (VmRSS), in bytes. */
  rssBytes(): Promise<number>;
  /** CPU time used so far (utime + stime of /proc/<pid>/stat), in milliseconds. */
  cpuMs(): Promise<number>;
  stop(): Promise<void>;
}

/** Starts `recording-relay <args>` with `env` and waits until it prints `ready`. */
export async function startRelayChild(
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
): Promise<RelayChild> {
  const child = spawn(process.execPath, [executable, ...args], {
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = once(child, "exit");
  const deadline = Date.now() + 90_000;
  while (!ready.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`relay ${args.join(" ")} did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    child,
    peakRssBytes: () => statusBytes(child.pid, "VmHWM"),
    rssBytes: () => statusBytes(child.pid, "VmRSS"),
    cpuMs: () => cpuMsOf(child.pid),
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** A `kB` field of /proc/<pid>/status, in bytes. */
export async function statusBytes(pid: number | undefined, field: "VmHWM" | "VmRSS") {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(status)?.[1];
  if (!kib) throw new Error(`no ${field} in /proc status`);
  return Number(kib) * 1024;
}

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ: 100 on Linux). */
const ticksPerSecond = Number(
  spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim() || 100,
);

/** utime + stime of a process, in milliseconds. */
export async function cpuMsOf(pid: number | undefined): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) in parentheses: utime and stime are 14, 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
}

/** The running bench environment. */
export interface BenchRig {
  rig: RigEnvironment;
  emulators: RunningEmulators;
  api: RelayChild;
  call: ReturnType<typeof relayClient>;
  receiver: WebhookReceiver;
  /** The relay's database, for reading states and timings. */
  db: Db;
  /** A conversation per provider, delivering to the emulated customer. */
  conversations: Record<Provider, string>;
  startWorker(env?: Record<string, string>): Promise<RelayChild>;
  stop(): Promise<void>;
}

let server: PostgresServer | undefined;

/** Starts PostgreSQL (once per bench run), the emulators and a relay API process. */
export async function startBenchRig(
  options: { apiArgs?: string[]; env?: Record<string, string> } = {},
): Promise<BenchRig> {
  if (!server) {
    server = await startPostgresServer();
    process.env.TEST_DATABASE_URL = server.url;
    await prepareTemplateDatabase(server.url);
  }
  const rig = await prepareRig("postgres", {
    RELAY_LOG_LEVEL: "error",
    RELAY_DESTINATION_MAX_ATTEMPTS: "5",
    ...options.env,
  });
  const api = await startRelayChild(
    ["serve", ...(options.apiArgs ?? [])],
    rig.env,
    /listening on http/,
  );
  const call = relayClient(`http://127.0.0.1:${rig.port}`, rig.workspace.apiKey);
  const receiver = await startWebhookReceiver();
  await connectReceiver(call, receiver);
  const conversations = {} as Record<Provider, string>;
  for (const provider of providers) {
    conversations[provider] = await createRecordedConversation(
      call,
      receiver,
      rig.emulators.destinations[provider],
    );
  }
  const db = openPostgres({ connectionString: rig.env.DATABASE_URL!, poolSize: 2 });
  const workers = new Set<RelayChild>();
  return {
    rig,
    emulators: rig.emulators,
    api,
    call,
    receiver,
    db,
    conversations,
    async startWorker(env = {}) {
      // BENCH_CPU_PROF_DIR: every worker writes a V8 CPU profile there when it stops.
      const profileDir = process.env.BENCH_CPU_PROF_DIR;
      const profiling: Record<string, string> = profileDir
        ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profileDir}` }
        : {};
      const worker = await startRelayChild(
        ["worker"],
        { ...rig.env, ...profiling, ...env },
        /recording-relay worker delivering/,
      );
      workers.add(worker);
      return worker;
    },
    async stop() {
      await Promise.allSettled([...workers].map((w) => w.stop()));
      await api.stop();
      await receiver.close();
      await db.close();
      await rig.stop();
    },
  };
}

/** Stops the PostgreSQL server the rigs shared. */
export async function stopBenchServer(): Promise<void> {
  await server?.stop();
  server = undefined;
}

/** `totalBytes` of incompressible bytes, without holding more than one MiB. */
export async function* generatedBytes(totalBytes: number, seed = 1): AsyncGenerator<Buffer> {
  // One random MiB, varied per chunk by its first bytes: cheap to make at GiB/s.
  const { randomBytes } = await import("node:crypto");
  const block = randomBytes(MiB);
  for (let sent = 0, n = 0; sent < totalBytes; n++) {
    const size = Math.min(MiB, totalBytes - sent);
    const chunk = Buffer.from(block.subarray(0, size));
    chunk.writeUInt32BE(n ^ seed, 0);
    sent += size;
    yield chunk;
  }
}

/** Ingests a whole recording in one request (the relay stages it); returns its id. */
export async function ingestRecording(
  bench: BenchRig,
  provider: Provider,
  bytes: AsyncIterable<Uint8Array> | Uint8Array,
): Promise<string> {
  const answer = await bench.call(
    "POST",
    `/v2/conversations/${bench.conversations[provider]}/recordings`,
    { operator: true, bytes, headers: { "content-type": "video/mp4" } },
  );
  if (answer.status !== 201 && answer.status !== 202) {
    throw new Error(`ingest answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  }
  return answer.body.recording_id as string;
}

/** Waits until every recording is delivered (fails fast on `failed`). */
export async function waitDelivered(bench: BenchRig, ids: string[], timeoutMs = 600_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await bench.db.query<{ state: string; n: number }>(
      "SELECT state, count(*)::int AS n FROM recordings WHERE id = ANY($1::uuid[]) GROUP BY state",
      [ids],
    );
    const count = (state: string) => rows.find((r) => r.state === state)?.n ?? 0;
    if (count("failed") > 0) throw new Error(`a recording failed: ${JSON.stringify(rows)}`);
    if (count("delivered") === ids.length) return;
    if (Date.now() > deadline) throw new Error(`not delivered in time: ${JSON.stringify(rows)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Percentile (nearest rank) of `values`. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}
