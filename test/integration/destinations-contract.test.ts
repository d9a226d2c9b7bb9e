/**
 * The shared destination contract, run against all three emulators with the official SDKs: parts
 * as they arrive, whole streams, empty objects, stat for idempotent redelivery, probes, abort,
 * and one identity exchange per credential lifetime, never shared across workspaces.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { CredentialCache, uploadStream } from "../../src/destinations/index.ts";
import {
  awsRig,
  azureRig,
  factoryFor,
  gcpRig,
  newWorkspaceId,
  type ProviderRig,
  type RelayIssuer,
  startRelayIssuer,
} from "../helpers/destinations.ts";

const MiB = 1_048_576;

/** Deterministic bytes (no RNG cost): a counter pattern. */
function bytes(size: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed * 7 + (i >> 10)) & 0xff;
  return out;
}

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
const signal = () => AbortSignal.timeout(60_000);

const rigs = {
  s3: awsRig,
  gcs: gcpRig,
  azure_blob: azureRig,
} as const;

for (const [provider, startRig] of Object.entries(rigs)) {
  describe(`destination contract: ${provider}`, () => {
    let issuer: RelayIssuer;
    let rig: ProviderRig;
    const workspaceId = newWorkspaceId();
    const cache = new CredentialCache();
    const create = () =>
      factoryFor({ issuer, settings: rig.settings, cache })(rig.storage, { workspaceId });

    before(async () => {
      issuer = await startRelayIssuer();
      rig = await startRig(issuer.url, workspaceId);
    });
    after(async () => {
      await rig?.stop();
      await issuer?.stop();
    });

    it("uploads parts as they arrive, in odd chunk sizes, and checks the cloud's checksums", async () => {
      const data = bytes(13 * MiB + 12_345);
      const destination = create();
      const upload = await destination.openUpload("rec/parts.mp4", { signal: signal() });
      for (let offset = 0; offset < data.length; offset += 777_777) {
        await upload.write(data.subarray(offset, offset + 777_777), signal());
      }
      // Past the first part the cloud has an upload in progress, which a crash would leave.
      assert.equal(upload.handle?.provider, provider);
      const result = await upload.complete(signal());
      assert.equal(result.sizeBytes, data.length);
      assert.deepEqual(await rig.stored("rec/parts.mp4"), {
        size: data.length,
        sha256: sha256(data),
      });
      const stat = await destination.stat("rec/parts.mp4", signal());
      assert.ok(stat.exists);
      assert.equal(stat.sizeBytes, data.length);
      // The checksum redelivery compares: the same one complete() reported.
      const reported = result.checksums.md5Base64 ?? result.checksums.crc32Base64;
      assert.ok(reported);
      assert.ok([stat.checksums.md5Base64, stat.checksums.crc32Base64].includes(reported));
    });

    it("uploads a whole stream with an expected size, and an empty object", async () => {
      const data = bytes(3 * MiB + 1, 2);
      const destination = create();
      const result = await uploadStream(
        destination,
        "rec/staged.mp4",
        Readable.from([data.subarray(0, 1000), data.subarray(1000)]),
        {
          expectedSizeBytes: data.length,
          signal: signal(),
        },
      );
      assert.equal(result.sizeBytes, data.length);
      assert.deepEqual(await rig.stored("rec/staged.mp4"), {
        size: data.length,
        sha256: sha256(data),
      });
      const empty = await uploadStream(destination, "rec/empty.mp4", Readable.from([]), {
        signal: signal(),
      });
      assert.equal(empty.sizeBytes, 0);
      assert.equal((await rig.stored("rec/empty.mp4"))?.size, 0);
    });

    it("reports a missing key as absent; writes and deletes a probe", async () => {
      const destination = create();
      assert.deepEqual(await destination.stat("rec/missing.mp4", signal()), { exists: false });
      await destination.putSmallObject("probe/.x", Buffer.from("probe"), signal());
      assert.equal((await rig.stored("probe/.x"))?.size, 5);
      await destination.deleteObject("probe/.x", signal());
      assert.equal(await rig.stored("probe/.x"), undefined);
      await destination.deleteObject("probe/.x", signal()); // already gone: not an error
    });

    it("aborts an upload: nothing lands at the key", async () => {
      const destination = create();
      const upload = await destination.openUpload("rec/aborted.mp4", { signal: signal() });
      await upload.write(bytes(9 * MiB, 3), signal());
      await upload.abort(signal());
      assert.equal(await rig.stored("rec/aborted.mp4"), undefined);
      await assert.rejects(upload.write(bytes(10), signal()));
    });

    it("made one identity exchange for all of the above; another workspace gets its own", async () => {
      assert.equal(rig.exchanges(), 1, "one exchange per credential lifetime");
      const other = newWorkspaceId();
      const destination = factoryFor({ issuer, settings: rig.settings, cache })(rig.storage, {
        workspaceId: other,
      });
      // The emulated customer trusts only `workspaceId`: the other workspace's own exchange is refused,
      // which proves it did not reuse the first workspace's credential.
      await assert.rejects(destination.checkIdentity(signal()), {
        code: "DESTINATION_AUTH_FAILED",
      });
      assert.equal(rig.exchanges(), 2);
    });
  });
}
