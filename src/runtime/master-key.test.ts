import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isAppError } from "../errors/index.ts";
import { resolveMasterKey } from "./master-key.ts";

describe("resolveMasterKey", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "relay-master-key-"));
  });
  after(async () => await rm(dir, { recursive: true, force: true }));

  it("generates a 0600 key file once for the embedded default, then reads it back", async () => {
    const dataDir = join(dir, "fresh");
    const config = { masterKey: undefined, databaseUrl: undefined, dataDir };
    const generated = resolveMasterKey(config, 0);
    assert.equal(generated.generated, true);
    assert.equal(generated.key.byteLength, 32);
    assert.equal((await stat(join(dataDir, "master-key"))).mode & 0o777, 0o600);
    const again = resolveMasterKey(config, 1);
    assert.equal(again.generated, false);
    assert.deepEqual(again.key, generated.key);
  });

  it("prefers the configured key, and requires one with DATABASE_URL", () => {
    const key = new Uint8Array(32).fill(9);
    const dataDir = join(dir, "configured");
    assert.deepEqual(
      resolveMasterKey({ masterKey: key, databaseUrl: "postgres://x", dataDir }, 3),
      {
        key,
        generated: false,
      },
    );
    assert.throws(
      () => resolveMasterKey({ masterKey: undefined, databaseUrl: "postgres://x", dataDir }, 0),
      (error) =>
        isAppError(error, "INVALID_CONFIG") && /RELAY_MASTER_KEY is required/.test(error.message),
    );
  });

  it("refuses to generate a new key when the database already holds keys, and rejects a damaged file", async () => {
    const dataDir = join(dir, "lost");
    const config = { masterKey: undefined, databaseUrl: undefined, dataDir };
    assert.throws(
      () => resolveMasterKey(config, 2),
      (error) => isAppError(error, "MASTER_KEY_MISMATCH") && /is missing/.test(error.message),
    );
    await assert.rejects(readFile(join(dataDir, "master-key")), { code: "ENOENT" });
    const damaged = join(dir, "damaged");
    resolveMasterKey({ ...config, dataDir: damaged }, 0);
    await writeFile(join(damaged, "master-key"), "not a key\n");
    assert.throws(
      () => resolveMasterKey({ ...config, dataDir: damaged }, 1),
      (error) => isAppError(error, "INVALID_CONFIG") && !/not a key/.test(error.message),
    );
  });
});
