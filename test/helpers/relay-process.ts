/**
 * Runs the real `recording-relay` executable as a child process, the way an operator does, and
 * finds its URL in what it prints.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";

const executable = new URL("../../src/bin/recording-relay.js", import.meta.url).pathname;
/** The development entry: the same CLI plus `demo` and `emulators`. */
export const developmentEntry = new URL("../../emulators/dev/cli.ts", import.meta.url).pathname;

/** A child relay process and everything it printed so far. */
export interface RelayProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or signal) once the process ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<ChildProcess>();

/** Kills every relay this test process started that is still running (call it in `after`). */
export function killAllRelays(): void {
  for (const child of running) child.kill("SIGKILL");
}

/** Starts `recording-relay <args>` (or `entry`) with exactly the given environment (plus PATH). */
export function runRelay(
  args: string[],
  env: Record<string, string> = {},
  entry = executable,
): RelayProcess {
  const child = spawn(process.execPath, [entry, ...args], {
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  child.once("exit", () => running.delete(child));
  let output = "";
  child.stdout?.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    output += chunk;
  });
  const exited = once(child, "exit").then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  return { child, output: () => output, exited };
}

/** Starts `serve` and waits until it prints its URL; fails with its output if it exits first. */
export async function startRelay(
  args: string[],
  env: Record<string, string> = {},
  // Generous: a cold embedded start is seconds alone, but much slower on a loaded 2-core CI machine.
  timeoutMs = 90_000,
): Promise<RelayProcess & { url: string; stop: () => Promise<number | null> }> {
  const relay = runRelay(["serve", "--port", "0", "--log-level", "warn", ...args], env);
  const deadline = Date.now() + timeoutMs;
  let exitedEarly = false;
  relay.exited.then(() => {
    exitedEarly = true;
  });
  for (;;) {
    const match = /listening on (http:\/\/[^\s]+)/.exec(relay.output());
    if (match) {
      return {
        ...relay,
        url: match[1]!,
        async stop() {
          relay.child.kill("SIGTERM");
          return (await relay.exited).code;
        },
      };
    }
    if (exitedEarly) throw new Error(`relay exited before listening:\n${relay.output()}`);
    if (Date.now() > deadline) {
      relay.child.kill("SIGKILL");
      throw new Error(`relay did not listen within ${timeoutMs} ms:\n${relay.output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
