/**
 * Start-up: time from starting `recording-relay serve` on the embedded database to the first 200
 * from /healthz, with a fresh data directory (initdb, the PostgreSQL server's start, migrations,
 * operator token, master key, first RSA-2048 signing key) and on restart of the same directory.
 *
 * The embedded database is a PostgreSQL server the relay starts as its child, so memory is
 * counted over the whole process tree (the relay, initdb while it runs, the postmaster and its
 * children): peak = the sum of every process's own peak (VmHWM, each process's maximum as last
 * seen while sampling), an upper bound, since those peaks need not coincide and pages shared
 * between PostgreSQL processes count once per process; beside it the largest sum of RSS seen at
 * one sampling instant (what was resident at once, give or take peaks between two samples);
 * idle = the sum of proportional set sizes
 * (PSS, /proc/<pid>/smaps_rollup: a page shared by n processes counts 1/n in each), and the plain
 * sum of RSS beside it.
 */
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runRelay } from "../../test/helpers/relay-process.ts";
import { MiB, percentile } from "../rig.ts";
import type { SectionResult } from "../section.ts";

/** How long an idle `serve` is left alone before its resident set is read. */
const IDLE_SETTLE_MS = 3_000;
/** How often the process tree's peaks are read during start-up. */
const SAMPLE_MS = 20;

interface StartSample {
  ms: number;
  /** Sum over the process tree of each process's VmHWM. */
  peakRssBytes: number;
  /** The largest sum of VmRSS over the tree at one sampling instant. */
  peakConcurrentRssBytes: number;
  /** Each process's VmHWM, by command name (the relay is `node`), largest first. */
  peaks: { command: string; bytes: number }[];
  /** Sum over the process tree of PSS after IDLE_SETTLE_MS with nothing to do. */
  idlePssBytes: number;
  /** Sum over the process tree of VmRSS at the same moment. */
  idleRssBytes: number;
  /** How many processes the tree had when idle (the relay and PostgreSQL's). */
  idleProcesses: number;
}

async function timeToHealthy(dataDir: string): Promise<StartSample> {
  const startedAt = performance.now();
  const relay = runRelay(["serve", "--port", "0", "--log-level", "warn", "--data-dir", dataDir]);
  const root = relay.child.pid!;
  const peaks = new Map<number, { command: string; bytes: number }>();
  let peakConcurrentRssBytes = 0;
  const sample = async () => {
    let resident = 0;
    for (const pid of await treeOf(root)) {
      const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
      const hwm = field(status, "VmHWM");
      if (hwm === undefined) continue;
      const command = /^Name:\s+(.*)$/m.exec(status)?.[1] ?? "?";
      peaks.set(pid, { command, bytes: Math.max(peaks.get(pid)?.bytes ?? 0, hwm) });
      resident += field(status, "VmRSS") ?? 0;
    }
    peakConcurrentRssBytes = Math.max(peakConcurrentRssBytes, resident);
  };
  try {
    let url: string | undefined;
    while (!url) {
      if (relay.child.exitCode !== null) throw new Error(`relay exited:\n${relay.output()}`);
      url = /listening on (http:\/\/[^\s]+)/.exec(relay.output())?.[1];
      await sample();
      if (!url) await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
    }
    for (;;) {
      const response = await fetch(`${url}/healthz`).catch(() => undefined);
      if (response?.status === 200) break;
      await sample();
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
    }
    const ms = performance.now() - startedAt;
    await new Promise((resolve) => setTimeout(resolve, IDLE_SETTLE_MS));
    await sample();
    const tree = await treeOf(root);
    let idlePssBytes = 0;
    let idleRssBytes = 0;
    for (const pid of tree) {
      idlePssBytes += (await pssOf(pid)) ?? 0;
      const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
      idleRssBytes += field(status, "VmRSS") ?? 0;
    }
    const all = [...peaks.values()].sort((a, b) => b.bytes - a.bytes);
    return {
      ms,
      peakRssBytes: all.reduce((sum, peak) => sum + peak.bytes, 0),
      peakConcurrentRssBytes,
      peaks: all,
      idlePssBytes,
      idleRssBytes,
      idleProcesses: tree.length,
    };
  } finally {
    relay.child.kill("SIGTERM");
    await relay.exited;
  }
}

/** `root` and every process below it (by parent pid, from /proc). */
async function treeOf(root: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, "utf8").catch(() => "");
    // Field 4 (ppid) follows the command name, which may hold spaces, in parentheses.
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (ppid) parents.set(Number(name), ppid);
  }
  const tree = [root];
  for (let index = 0; index < tree.length; index++) {
    for (const [pid, ppid] of parents) if (ppid === tree[index]) tree.push(pid);
  }
  return tree;
}

function field(status: string, name: "VmHWM" | "VmRSS"): number | undefined {
  const kib = new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(status)?.[1];
  return kib === undefined ? undefined : Number(kib) * 1024;
}

async function pssOf(pid: number): Promise<number | undefined> {
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, "utf8").catch(() => "");
  const kib = /^Pss:\s+(\d+) kB$/m.exec(rollup)?.[1];
  return kib === undefined ? undefined : Number(kib) * 1024;
}

export async function startup(): Promise<SectionResult> {
  const runs = Number(process.env.BENCH_STARTUP_RUNS ?? 3);
  const samples = { fresh: [] as StartSample[], restart: [] as StartSample[] };
  for (let run = 0; run < runs; run++) {
    const dir = await mkdtemp(join(tmpdir(), "relay-bench-startup-"));
    try {
      samples.fresh.push(await timeToHealthy(dir));
      samples.restart.push(await timeToHealthy(dir));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  return {
    name: "startup",
    title: `Start-up of \`serve\` on the embedded database: time to the first /healthz 200; memory of the relay and its PostgreSQL processes together — peak = sum of each process's VmHWM (an upper bound) and the largest sum of RSS sampled at one instant (every ${SAMPLE_MS} ms), idle = sum of PSS (and of RSS) after ${IDLE_SETTLE_MS / 1000} s idle; ${runs} runs`,
    table: {
      columns: [
        "start",
        "median (ms)",
        "max (ms)",
        "peak, Σ VmHWM, median (MiB)",
        "peak, max Σ RSS at once, median (MiB)",
        "idle, Σ PSS, median (MiB)",
        "idle, Σ RSS, median (MiB)",
        "processes",
      ],
      rows: (["fresh", "restart"] as const).map((kind) => {
        const of = (key: Exclude<keyof StartSample, "peaks">) =>
          samples[kind].map((sample) => sample[key]);
        return [
          kind === "fresh" ? "fresh data directory" : "restart on the same directory",
          ...[50, 100].map((p) => percentile(of("ms"), p).toFixed(0)),
          (percentile(of("peakRssBytes"), 50) / MiB).toFixed(0),
          (percentile(of("peakConcurrentRssBytes"), 50) / MiB).toFixed(0),
          (percentile(of("idlePssBytes"), 50) / MiB).toFixed(0),
          (percentile(of("idleRssBytes"), 50) / MiB).toFixed(0),
          percentile(of("idleProcesses"), 50).toFixed(0),
        ];
      }),
    },
    data: samples,
  };
}
