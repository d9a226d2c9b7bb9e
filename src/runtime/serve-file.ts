/**
 * `<data dir>/serve.json`: where a `serve` on the embedded database says it listens, so admin
 * commands reach it through its HTTP API while it holds the database (the embedded server belongs
 * to one process).
 * Owner-only, like everything in the data directory; removed when the server closes, and ignored
 * when the process it names is gone.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** What `serve.json` holds. */
export interface ServeFile {
  pid: number;
  /** A URL that reaches the server from this machine. */
  url: string;
  started_at: string;
}

const fileOf = (dataDir: string) => join(dataDir, "serve.json");

/** A URL this machine can call: a wildcard listen address becomes loopback. */
export function localUrlOf(listenUrl: string): string {
  const url = new URL(listenUrl);
  if (url.hostname === "0.0.0.0") url.hostname = "127.0.0.1";
  if (url.hostname === "[::]") url.hostname = "[::1]";
  return url.toString().replace(/\/$/, "");
}

/** Writes the file for this process (atomically, mode 0600); returns how to remove it. */
export function writeServeFile(dataDir: string, listenUrl: string): () => void {
  const path = fileOf(dataDir);
  const content: ServeFile = {
    pid: process.pid,
    url: localUrlOf(listenUrl),
    started_at: new Date().toISOString(),
  };
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(content)}\n`, { mode: 0o600 });
  renameSync(temporary, path);
  return () => {
    // Only our own: a later serve may have replaced it.
    if (readServeFile(dataDir)?.pid === process.pid) rmSync(path, { force: true });
  };
}

function readServeFile(dataDir: string): ServeFile | undefined {
  try {
    const parsed = JSON.parse(readFileSync(fileOf(dataDir), "utf8")) as Partial<ServeFile>;
    if (typeof parsed.pid === "number" && typeof parsed.url === "string") {
      return parsed as ServeFile;
    }
  } catch {
    // Missing or unreadable: no server to find.
  }
  return undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but is another user's.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The URL of the live `serve` of this data directory, if one runs. */
export function findLiveServe(dataDir: string): string | undefined {
  const found = readServeFile(dataDir);
  return found && found.pid !== process.pid && isAlive(found.pid) ? found.url : undefined;
}
