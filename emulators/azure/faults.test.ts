import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { FaultInjector } from "./faults.ts";
import { type Harness, ids, postToken, startHarness, tokenForm } from "./test-support.ts";

const xmsVersion = "2026-04-06";

describe("fault injection", () => {
  it("replays the same decisions for the same seed, and others for another seed", () => {
    const settings = { errorRate: 0.3, resetRate: 0.2, earlyExpiryRate: 0.1, latencyJitterMs: 50 };
    const run = (seed: number) => {
      const injector = new FaultInjector(seed, settings);
      return Array.from({ length: 200 }, (_, i) => injector.decide(i % 3 ? "blob" : "entra"));
    };
    assert.deepEqual(run(42), run(42));
    assert.notDeepEqual(run(42), run(43));
    const decisions = run(42);
    const errors = decisions.filter((d) => d.errorStatus).length;
    assert.ok(errors > 30 && errors < 90, `about 30% errors, got ${errors}/200`);
    assert.ok(
      decisions.some((d) => d.errorStatus === 500) && decisions.some((d) => d.errorStatus === 503),
    );
  });

  it("keeps the random sequence stable when settings change", () => {
    const a = new FaultInjector(7, {});
    const b = new FaultInjector(7, {});
    a.decide("blob");
    a.update({ errorRate: 1 });
    b.decide("blob");
    assert.deepEqual(
      { ...a.decide("blob"), errorStatus: undefined },
      { ...b.decide("blob"), errorStatus: undefined },
    );
    assert.throws(() => a.update({ errorRate: 2 }), /errorRate/);
  });

  describe("on the wire", () => {
    let h: Harness;
    let token: string;
    before(async () => {
      h = await startHarness({ seed: 2024 });
      token = (await h.credential("writer").getToken("https://storage.azure.com/.default")).token;
    });
    after(() => h.stop());

    const url = (name: string, query = "") =>
      `${h.emulator.blobEndpoint(ids.account)}/${ids.container}/${name}${query}`;
    const get = (name: string, bearer = token) =>
      h.fetch(url(name), {
        headers: { "x-ms-version": xmsVersion, authorization: `Bearer ${bearer}` },
      });

    it("answers ServerBusy / InternalError at errorRate 1, and stops when set back to 0", async () => {
      h.emulator.setFaults({ errorRate: 1, surfaces: ["blob"] });
      try {
        const codes = new Set<string>();
        for (let i = 0; i < 12; i++) {
          const response = await get("tavus/none");
          assert.ok(response.status === 500 || response.status === 503);
          codes.add(String(response.headers.get("x-ms-error-code")));
          await response.text();
        }
        assert.deepEqual([...codes].sort(), ["InternalError", "ServerBusy"]);
      } finally {
        h.emulator.setFaults({ errorRate: 0 });
      }
      assert.equal((await get("tavus/none")).status, 404);
    });

    it("answers 503 temporarily_unavailable (AADSTS90033) on the Entra surface", async () => {
      h.emulator.setFaults({ errorRate: 1, surfaces: ["entra"] });
      try {
        const result = await postToken(
          h,
          tokenForm(ids.writer.clientId, await h.issuer.mint(ids.writer.subject)),
        );
        assert.equal(result.status, 503);
        assert.equal(result.body.error, "temporarily_unavailable");
        assert.deepEqual(result.body.error_codes, [90033]);
      } finally {
        h.emulator.setFaults({ errorRate: 0, surfaces: ["entra", "blob"] });
      }
    });

    it("adds latency", async () => {
      h.emulator.setFaults({ latencyMs: 150 });
      try {
        const started = performance.now();
        await (await get("tavus/none")).text();
        assert.ok(performance.now() - started >= 145);
      } finally {
        h.emulator.setFaults({ latencyMs: 0 });
      }
    });

    it("resets the connection part-way through a body and keeps nothing of it", async () => {
      h.emulator.setFaults({ resetRate: 1, surfaces: ["blob"] });
      try {
        await assert.rejects(
          h.fetch(url("tavus/reset/1"), {
            method: "PUT",
            headers: {
              "x-ms-version": xmsVersion,
              authorization: `Bearer ${token}`,
              "x-ms-blob-type": "BlockBlob",
            },
            body: randomBytes(4 * 1024 * 1024),
          }),
        );
      } finally {
        h.emulator.setFaults({ resetRate: 0 });
      }
      assert.deepEqual(h.emulator.blobNames(ids.account, ids.container), []);
    });

    it("lets the SDK's retries carry an upload through errors and resets, intact", async () => {
      h.emulator.setFaults({ errorRate: 0.2, resetRate: 0.2, surfaces: ["blob"] });
      const before = h.emulator.stats().faultsInjected;
      const data = randomBytes(24 * 1024 * 1024);
      try {
        const client = h.blobClient("writer", "tavus/retried/1", { maxTries: 20 });
        await client.uploadData(data, { blockSize: 1024 * 1024, concurrency: 4 });
      } finally {
        h.emulator.setFaults({ errorRate: 0, resetRate: 0 });
      }
      assert.ok(h.emulator.stats().faultsInjected > before);
      const stored = await h.emulator.blobDigest(ids.account, ids.container, "tavus/retried/1");
      assert.equal(stored?.sha256, createHash("sha256").update(data).digest("hex"));
    });

    it("expires a token early and keeps refusing it, so only a new token works", async () => {
      const early = (await h.credential("writer").getToken("https://storage.azure.com/.default"))
        .token;
      h.emulator.setFaults({ earlyExpiryRate: 1 });
      const first = await get("tavus/none", early);
      h.emulator.setFaults({ earlyExpiryRate: 0 });
      assert.equal(first.status, 401);
      assert.equal(first.headers.get("x-ms-error-code"), "InvalidAuthenticationInfo");
      assert.match(await first.text(), /Lifetime validation failed\. The token is expired\./);
      assert.equal((await get("tavus/none", early)).status, 401);
      const fresh = (await h.credential("writer").getToken("https://storage.azure.com/.default"))
        .token;
      assert.equal((await get("tavus/none", fresh)).status, 404);
    });

    it("issues tokens with the lifetime set at runtime", async () => {
      h.emulator.setAccessTokenLifetimeSeconds(120);
      try {
        const result = await postToken(
          h,
          tokenForm(ids.writer.clientId, await h.issuer.mint(ids.writer.subject)),
        );
        assert.equal(result.body.expires_in, 120);
      } finally {
        h.emulator.setAccessTokenLifetimeSeconds(3599);
      }
    });
  });
});
