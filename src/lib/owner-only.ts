/**
 * Owner-only files: what the relay keeps on disk (database files with API-key hashes and sealed
 * keys, tokens, staged recordings) must not be readable by other local users, whatever the umask
 * the process was started with or the modes of a directory that already existed.
 */
import { chmodSync, lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** The process-wide umask that makes every file and directory created from now on owner-only. */
export const OWNER_ONLY_UMASK = 0o077;

/**
 * Removes group and other permissions from `path` and, with `recursive`, from everything below
 * it (symbolic links are left alone: they are not ours to follow). A missing path is fine.
 */
export function restrictToOwner(path: string, { recursive = false } = {}): void {
  let info: ReturnType<typeof lstatSync>;
  try {
    info = lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  if (info.isSymbolicLink()) return;
  if ((info.mode & 0o077) !== 0) chmodSync(path, info.mode & 0o700);
  if (recursive && info.isDirectory()) {
    for (const name of readdirSync(path)) restrictToOwner(join(path, name), { recursive });
  }
}
