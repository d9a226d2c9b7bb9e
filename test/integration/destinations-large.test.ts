/**
 * A 1 GiB recording streamed to each of the three emulators through the destination contract,
 * with a sampler proving the relay's memory stays bounded (about one part in flight), and the
 * stored object's SHA-256 compared with what was generated.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { uploadStream } from "../../src/destinations/index.ts";
import {
  awsRig,
  azureRig,
  factoryFor,
  gcpRig,
  newWorkspaceId,
  type RelayIssuer,
  startRelayIssuer,
} from "../helpers/destinations.ts";

const MiB = 1_048_576;
const TOTAL_BYTES = 1024 * MiB;
const LIMIT_BYTES = 200 * MiB;

/** 1 GiB in 1 MiB chunks, each different (chunk index stamped in), hashed as generated. */
function generated(): { stream: Readable; digest: () => string } {
  const base = Buffer.alloc(MiB);
  for (let i = 0; i < MiB; i++) base[i] = (i * 131 + (i >> 8)) & 0xff;
  const hash = createHash("sha256");
  let index = 0;
  const stream = new Readable({
    read() {
      if (index * MiB >= TOTAL_BYTES) return void this.push(null);
      const chunk = Buffer.from(base);
      chunk.writeUInt32BE(index++, 0);
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, digest: () => hash.digest("hex") };
}

/** Samples RSS and heap (JS heap + external buffers) every 25 ms; reports growth over the start. */
function memorySampler() {
  globalThis.gc?.();
  const start = process.memoryUsage();
  let peakRss = start.rss;
  let peakHeap = start.heapUsed + start.external;
  const timer = setInterval(() => {
    const now = process.memoryUsage();
    peakRss = Math.max(peakRss, now.rss);
    peakHeap = Math.max(peakHeap, now.heapUsed + now.external);
  }, 25);
  return {
    stop() {
      clearInterval(timer);
      return {
        rssGrowth: peakRss - start.rss,
        heapGrowth: peakHeap - (start.heapUsed + start.external),
        peakRss,
      };
    },
  };
}

const rigs = { s3: awsRig, gcs: gcpRig, azure_blob: azureRig } as const;

describe("1 GiB streamed uploads with bounded memory", () => {
  let issuer: RelayIssuer;
  before(async () => {
    issuer = await startRelayIssuer();
  });
  after(async () => await issuer?.stop());

  for (const [provider, startRig] of Object.entries(rigs)) {
    it(`${provider}: 1 GiB lands intact; the process grows by less than 200 MiB`, async () => {
      const workspaceId = newWorkspaceId();
      const rig = await startRig(issuer.url, workspaceId);
      try {
        const destination = factoryFor({ issuer, settings: rig.settings })(rig.storage, {
          workspaceId,
        });
        const source = generated();
        const sampler = memorySampler();
        const result = await uploadStream(destination, "tavus/large/1", source.stream, {
          signal: AbortSignal.timeout(240_000),
        });
        const memory = sampler.stop();
        assert.equal(result.sizeBytes, TOTAL_BYTES);
        assert.deepEqual(await rig.stored("tavus/large/1"), {
          size: TOTAL_BYTES,
          sha256: source.digest(),
        });
        process.stdout.write(
          `# ${provider}: peak RSS growth ${(memory.rssGrowth / MiB).toFixed(1)} MiB, heap+buffers growth ${(memory.heapGrowth / MiB).toFixed(1)} MiB, peak RSS ${(memory.peakRss / MiB).toFixed(0)} MiB\n`,
        );
        assert.ok(memory.rssGrowth < LIMIT_BYTES, `RSS grew ${memory.rssGrowth} bytes`);
        assert.ok(memory.heapGrowth < LIMIT_BYTES, `heap grew ${memory.heapGrowth} bytes`);
      } finally {
        await rig.stop();
      }
    });
  }
});
