/**
 * `recording-relay demo` as a newcomer runs it (issue 11): a child process that must end, on its
 * own, with three delivered recordings and one explained failure, and leave nothing behind.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, describe, it } from "node:test";
import { developmentEntry, killAllRelays, runRelay } from "../helpers/relay-process.ts";

describe("recording-relay demo", () => {
  after(killAllRelays);

  it("delivers to S3, GCS and Azure Blob, explains the broken destination, and cleans up", {
    timeout: 180_000,
  }, async () => {
    const demo = runRelay(["demo"], {}, developmentEntry);
    const { code } = await demo.exited;
    const output = demo.output();
    assert.equal(code, 0, output);
    assert.equal(output.match(/^recording_ready {2}/gm)?.length, 3, output);
    for (const label of ["Amazon S3", "Google Cloud Storage", "Azure Blob Storage"]) {
      assert.match(output, new RegExp(`^recording_ready {2}${label}$`, "m"));
    }
    assert.equal(
      output.match(/the emulated bucket holds exactly these bytes/g)?.length,
      3,
      "each object compared in its bucket",
    );
    assert.match(output, /^recording_copy_failed {2}Azure Blob Storage, misconfigured$/m);
    assert.match(output, /DESTINATION_AUTH_FAILED after \d+ attempt/);
    assert.match(output, /AADSTS700016.*Hint: check client_id and tenant_id/);
    assert.match(
      output,
      /^3 recordings delivered and verified, 1 failure explained, in [\d.]+ s\.$/m,
    );
    // Its temporary data directory (database, staging, keys) is gone.
    const dataDir = /embedded PostgreSQL in (\S+)\)/.exec(output)?.[1];
    assert.ok(dataDir, output);
    assert.equal(existsSync(dataDir), false, `${dataDir} left behind`);
  });
});
