/**
 * Parts in flight against the three emulators: several uploads per provider at once, sharing one
 * small part budget, while the emulators fail and reset requests. Every object arrives whole with
 * the checksums the relay computed, and the pool never held more than its budget.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { crc32 } from "node:zlib";
import { crc32c } from "@node-rs/crc32";
import { DEMO as AWS_DEMO } from "../../emulators/aws/index.ts";
import { uploadStream } from "../../src/destinations/index.ts";
import { MiB, partPoolFor } from "../../src/destinations/parts.ts";
import { uint32Base64 } from "../../src/destinations/staged-checksums.ts";
import { sha256Hex, testBytes, testSignal } from "../helpers/bytes.ts";
import {
  awsRig,
  azureRig,
  factoryFor,
  gcpRig,
  newWorkspaceId,
  type RelayIssuer,
  startRelayIssuer,
} from "../helpers/destinations.ts";

let issuer: RelayIssuer;
before(async () => {
  issuer = await startRelayIssuer();
});
after(async () => await issuer?.stop());

describe("parts in flight", () => {
  it("concurrent uploads to all three clouds with faults: whole, checksummed, within the budget", async () => {
    // A budget of three 8 MiB parts (plus one byte, so this test has a pool of its own) shared by
    // nine uploads of three parts each: uploads must wait for one another's buffers.
    const budget = 24 * MiB + 1;
    const pool = partPoolFor(budget);
    const workspaceId = newWorkspaceId();
    const [aws, gcp, azure] = await Promise.all([
      awsRig(issuer.url, workspaceId),
      gcpRig(issuer.url, workspaceId),
      azureRig(issuer.url, workspaceId),
    ]);
    try {
      aws.aws.faults.set({
        seed: 7,
        rules: [
          { bucket: AWS_DEMO.bucket, operations: ["UploadPart"], errorRate: 0.2, resetRate: 0.1 },
        ],
      });
      gcp.gcp.setFaults({
        seed: 5,
        errorRate: 0.15,
        errorStatuses: [500, 503],
        resetRate: 0.1,
        apis: ["gcs"],
      });
      azure.azure.setFaults({ errorRate: 0.2, resetRate: 0.1, surfaces: ["blob"] });
      const runs = [aws, gcp, azure].flatMap((rig, providerIndex) => {
        const settings = {
          ...rig.settings,
          maxAttempts: 8,
          memoryBudgetBytes: budget,
          partsInFlight: 4,
        };
        const destination = factoryFor({ issuer, settings })(rig.storage, { workspaceId });
        return [0, 1, 2].map(async (index) => {
          const data = testBytes(20 * MiB + 4321 * index, 10 * providerIndex + index);
          const key = `tavus/in-flight/${index}.mp4`;
          // Staging reads arrive in 64 KiB chunks.
          const chunks = Array.from({ length: Math.ceil(data.length / 65_536) }, (_, i) =>
            data.subarray(i * 65_536, (i + 1) * 65_536),
          );
          const result = await uploadStream(destination, key, Readable.from(chunks), {
            expectedSizeBytes: data.length,
            signal: testSignal(),
          });
          assert.equal(result.sizeBytes, data.length);
          assert.deepEqual(await rig.stored(key), { size: data.length, sha256: sha256Hex(data) });
          const md5 = createHash("md5").update(data).digest("base64");
          if (destination.provider === "s3") {
            assert.equal(result.checksums.crc32Base64, uint32Base64(crc32(data)));
          } else if (destination.provider === "gcs") {
            assert.equal(result.checksums.md5Base64, md5);
            assert.equal(result.checksums.crc32cBase64, uint32Base64(crc32c(data)));
          } else {
            assert.equal(result.checksums.md5Base64, md5);
          }
        });
      });
      await Promise.all(runs);
      assert.ok(
        aws.aws.requests().some((r) => r.fault !== undefined),
        "S3 faults were injected",
      );
      // Requests failed by an injected fault before authentication carry no payload mode.
      const partPayloads = new Set(
        aws.aws
          .requests()
          .filter((r) => r.operation === "UploadPart" && r.payload !== undefined)
          .map((r) => r.payload),
      );
      assert.deepEqual(
        [...partPayloads],
        ["UNSIGNED-PAYLOAD"],
        "S3 parts are not hashed for SigV4: their CRC32 protects them",
      );
      assert.ok(
        gcp.gcp.requests.some((r) => r.injected),
        "GCS faults were injected",
      );
      assert.ok(azure.azure.stats().faultsInjected > 0, "Azure faults were injected");
      const stats = pool.stats();
      assert.ok(
        stats.maxOutstandingBytes <= budget,
        `max ${stats.maxOutstandingBytes} bytes outstanding > budget ${budget}`,
      );
      assert.ok(stats.waits > 0, "uploads waited for budget");
      assert.equal(stats.outstandingBytes, 0, "every part buffer went back to the pool");
    } finally {
      await Promise.all([aws.stop(), gcp.stop(), azure.stop()]);
    }
  });
});
