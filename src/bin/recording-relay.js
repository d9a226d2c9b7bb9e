#!/usr/bin/env node
/**
 * The `recording-relay` executable. Plain JavaScript on purpose: before loading the relay's
 * TypeScript modules it turns on Node's module compile cache, which keeps each module's
 * type-stripped source (and V8's code cache) on disk. A start that finds every module there never
 * loads Node's type stripper (amaro, a WebAssembly build of swc): about 20 MiB less resident
 * memory for the life of the process (docs/performance.md, Idle footprint), and a faster start.
 * The first start after an install or an upgrade fills the cache.
 */
import { lstatSync, mkdirSync } from "node:fs";
import { enableCompileCache, flushCompileCache } from "node:module";
import { homedir } from "node:os";
import { join } from "node:path";

/**
 * The cache holds code this process runs, so it must be a directory only this user can write:
 * `$XDG_CACHE_HOME/recording-relay/compile-cache` (default `~/.cache`), created owner-only,
 * and used only if it is a real directory owned by this user that nobody else can write to. An
 * operator's NODE_COMPILE_CACHE (already on when this runs) or NODE_DISABLE_COMPILE_CACHE=1 win.
 * Anything unusual (no home, a read-only file system) leaves the cache off: it only saves memory.
 */
function privateCompileCache() {
  if (process.env.NODE_COMPILE_CACHE || process.env.NODE_DISABLE_COMPILE_CACHE) return;
  try {
    const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
    const directory = join(base, "recording-relay", "compile-cache");
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    const info = lstatSync(directory);
    const ownedByUs = process.getuid === undefined || info.uid === process.getuid();
    if (!info.isDirectory() || !ownedByUs || (info.mode & 0o022) !== 0) return;
    enableCompileCache(directory);
  } catch {
    // No cache: the modules are type-stripped at every start, as without one.
  }
}

privateCompileCache();
await import("./run.ts");
// Modules loaded at start are written now, not only at a clean exit (`serve` and `worker` may be
// killed instead); modules loaded later are added when the process exits.
flushCompileCache();
