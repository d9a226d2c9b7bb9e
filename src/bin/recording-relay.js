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
import { setFlagsFromString } from "node:v8";

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

/**
 * Keeps V8's young generation at its starting size (1 MiB semi-spaces) instead of letting it grow
 * to 16 MiB ones: a delivery allocates steadily (request state, read chunks, SDK objects), and the
 * grown young generation (32 MiB of semi-spaces, plus what a scavenge copies) was the largest item
 * of a worker's peak RSS after the part buffers. Measured per delivery: 30-70 MiB less peak RSS and
 * about 10 MiB less at idle, CPU within noise (docs/performance.md). Only a growth factor can be
 * changed once V8 runs (`--max-semi-space-size` only works on the command line); an operator who
 * sets any semi-space flag in NODE_OPTIONS or on the command line keeps theirs.
 */
function boundedYoungGeneration() {
  const given = `${process.env.NODE_OPTIONS ?? ""} ${process.execArgv.join(" ")}`;
  if (given.includes("semi-space")) return;
  setFlagsFromString("--semi-space-growth-factor=1");
}

boundedYoungGeneration();
privateCompileCache();
await import("./run.ts");
// Modules loaded at start are written now, not only at a clean exit (`serve` and `worker` may be
// killed instead); modules loaded later are added when the process exits.
flushCompileCache();
