/**
 * The executable keeps Node's module compile cache in a directory only its user can write
 * (src/bin/recording-relay.js): the type-stripped modules are read from there on the next start,
 * and a cache directory others could write to (and so plant code in) is never used.
 */
import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import packageJson from "../../package.json" with { type: "json" };
import { runRelay } from "../helpers/relay-process.ts";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "relay-compile-cache-"));
});
after(async () => await rm(dir, { recursive: true, force: true }));

/** Every file below `path` (the cache keeps one directory per Node version). */
async function filesBelow(path: string): Promise<string[]> {
  return (await readdir(path, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

async function version(env: Record<string, string>): Promise<void> {
  const relay = runRelay(["--version"], env);
  assert.equal((await relay.exited).code, 0, relay.output());
  assert.equal(relay.output().trim(), packageJson.version);
}

describe("the executable's compile cache", () => {
  it("is created owner-only under XDG_CACHE_HOME and filled with the modules loaded", async () => {
    const home = join(dir, "fresh");
    await version({ XDG_CACHE_HOME: home });
    const cache = join(home, "recording-relay", "compile-cache");
    assert.equal((await stat(cache)).mode & 0o777, 0o700);
    const entries = await filesBelow(cache);
    // More entries than modules of the CLI's entry point: the cache really holds them.
    assert.ok(entries.length > 10, `${entries.length} entries`);
    for (const entry of entries) assert.equal((await stat(entry)).mode & 0o077, 0, entry);
    // A second start reuses the entries (same files, none added for the same modules).
    await version({ XDG_CACHE_HOME: home });
    assert.deepEqual((await filesBelow(cache)).sort(), entries.sort());
  });

  it("is not used when others may write to the directory, and the relay still runs", async () => {
    const home = join(dir, "shared");
    const cache = join(home, "recording-relay", "compile-cache");
    await mkdir(cache, { recursive: true });
    await chmod(cache, 0o777);
    await version({ XDG_CACHE_HOME: home });
    assert.deepEqual(await filesBelow(cache), []);
  });

  it("NODE_DISABLE_COMPILE_CACHE=1 leaves it off", async () => {
    const home = join(dir, "disabled");
    await version({ XDG_CACHE_HOME: home, NODE_DISABLE_COMPILE_CACHE: "1" });
    await assert.rejects(stat(join(home, "recording-relay")), { code: "ENOENT" });
  });
});
