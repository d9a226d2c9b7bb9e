import assert from "node:assert/strict";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { after, before, describe, it } from "node:test";
import { decodeJwt } from "jose";
import { generateTestKey } from "../shared/test-issuer.ts";
import { type Harness, ids, postToken, startHarness, tokenForm } from "./test-support.ts";

describe("Entra emulator", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ federatedCredentialPropagationMs: 60_000 });
  });
  after(() => h.stop());

  const writerForm = async (claims?: Record<string, unknown>) =>
    tokenForm(ids.writer.clientId, await h.issuer.mint(ids.writer.subject, { claims }));

  function assertAadsts(
    result: { status: number; body: Record<string, unknown> },
    status: number,
    error: string,
    code: number,
  ) {
    assert.equal(result.status, status, JSON.stringify(result.body));
    assert.equal(result.body.error, error);
    assert.deepEqual(result.body.error_codes, [code]);
    assert.match(String(result.body.error_description), new RegExp(`^AADSTS${code}: `));
    assert.match(
      String(result.body.error_description),
      /Trace ID: \S+ Correlation ID: \S+ Timestamp: /,
    );
    assert.match(String(result.body.timestamp), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
  }

  describe("metadata", () => {
    it("serves the tenant's OpenID configuration with the fields MSAL requires", async () => {
      const response = await h.fetch(
        `${h.emulator.authorityHost}/${ids.tenantId}/v2.0/.well-known/openid-configuration`,
      );
      assert.equal(response.status, 200);
      const doc = (await response.json()) as Record<string, string>;
      assert.equal(doc.issuer, `${h.emulator.authorityHost}/${ids.tenantId}/v2.0`);
      assert.equal(
        doc.token_endpoint,
        `${h.emulator.authorityHost}/${ids.tenantId}/oauth2/v2.0/token`,
      );
      assert.ok(doc.authorization_endpoint?.startsWith(h.emulator.authorityHost));
      const keys = (await (await h.fetch(String(doc.jwks_uri))).json()) as {
        keys: { kid: string }[];
      };
      assert.equal(keys.keys.length, 1);
    });

    it("answers AADSTS90002 invalid_tenant for an unknown tenant", async () => {
      const response = await h.fetch(
        `${h.emulator.authorityHost}/00000000-0000-4000-8000-000000000000/v2.0/.well-known/openid-configuration`,
      );
      assertAadsts(
        { status: response.status, body: (await response.json()) as Record<string, unknown> },
        400,
        "invalid_tenant",
        90002,
      );
    });

    it("answers AADSTS90002 from the token endpoint too", async () => {
      const result = await postToken(h, await writerForm(), "unknown.onmicrosoft.com");
      assertAadsts(result, 400, "invalid_tenant", 90002);
    });
  });

  describe("with @azure/identity ClientAssertionCredential", () => {
    it("issues a Storage access token shaped like Entra's, over loopback only", async () => {
      const hosts: string[] = [];
      const onRequest = (message: unknown) => {
        const { request } = message as { request: { host: string } };
        hosts.push(request.host);
      };
      subscribe("http.client.request.start", onRequest);
      try {
        const token = await h.credential("writer").getToken("https://storage.azure.com/.default");
        const claims = decodeJwt(token.token);
        assert.equal(claims.iss, `https://sts.windows.net/${ids.tenantId}/`);
        assert.equal(claims.aud, "https://storage.azure.com");
        assert.equal(claims.tid, ids.tenantId);
        assert.equal(claims.oid, ids.writer.oid);
        assert.equal(claims.appid, ids.writer.clientId);
        assert.equal(claims.ver, "1.0");
        assert.ok(typeof claims.iat === "number" && typeof claims.nbf === "number");
        assert.ok(Math.abs(token.expiresOnTimestamp - (Date.now() + 3599_000)) < 60_000);
      } finally {
        unsubscribe("http.client.request.start", onRequest);
      }
      assert.ok(hosts.length > 0);
      // Discovery, token, and the emulator's own fetch of the issuer: nothing else.
      for (const host of hosts) assert.equal(host, "127.0.0.1");
    });

    it("accepts a verified domain as the tenant", async () => {
      const token = await h
        .credential("writer", { tenantId: "contoso.onmicrosoft.com" })
        .getToken("https://storage.azure.com/.default");
      assert.equal(decodeJwt(token.token).tid, ids.tenantId);
    });

    it("surfaces the AADSTS code of a refusal (subject case differs: 700213)", async () => {
      await assert.rejects(
        h
          .credential("writer", { subject: ids.writer.subject.toUpperCase() })
          .getToken("https://storage.azure.com/.default"),
        /AADSTS700213/,
      );
    });

    it("fails at metadata resolution for an unknown tenant, as MSAL does against real Entra", async () => {
      // MSAL reports the 400 AADSTS90002 metadata answer (tested raw above) as this error.
      await assert.rejects(
        h
          .credential("writer", { tenantId: "00000000-0000-4000-8000-00000000abcd" })
          .getToken("https://storage.azure.com/.default"),
        /endpoints_resolution_error/,
      );
    });
  });

  describe("request checks", () => {
    it("requires grant_type (AADSTS900144) and client_credentials (AADSTS70003)", async () => {
      const form = await writerForm();
      const { grant_type: _omit, ...withoutGrant } = form;
      assertAadsts(await postToken(h, withoutGrant), 400, "invalid_request", 900144);
      assertAadsts(
        await postToken(h, { ...form, grant_type: "password" }),
        400,
        "unsupported_grant_type",
        70003,
      );
    });

    it("answers AADSTS700016 for an unknown client id", async () => {
      const form = await writerForm();
      const result = await postToken(h, {
        ...form,
        client_id: "aaaaaaaa-0000-4000-8000-0000000000ff",
      });
      assertAadsts(result, 400, "unauthorized_client", 700016);
      assert.match(
        String(result.body.error_description),
        /Application with identifier 'aaaaaaaa-0000-4000-8000-0000000000ff' was not found in the directory/,
      );
    });

    it("checks the scope (AADSTS70011, 1002012, 500011)", async () => {
      const form = await writerForm();
      assertAadsts(
        await postToken(h, { ...form, scope: "https://storage.azure.com/.default openid" }),
        400,
        "invalid_scope",
        70011,
      );
      assertAadsts(
        await postToken(h, { ...form, scope: "https://storage.azure.com/user_impersonation" }),
        400,
        "invalid_scope",
        1002012,
      );
      assertAadsts(
        await postToken(h, { ...form, scope: "https://vault.azure.net/.default" }),
        400,
        "invalid_resource",
        500011,
      );
      const ok = await postToken(h, { ...form, scope: "https://storage.azure.com//.default" });
      assert.equal(ok.status, 200);
    });

    it("requires a client assertion (AADSTS7000218) of the jwt-bearer type", async () => {
      const form = await writerForm();
      const { client_assertion: _omit, ...withoutAssertion } = form;
      assertAadsts(await postToken(h, withoutAssertion), 401, "invalid_client", 7000218);
      assertAadsts(
        await postToken(h, { ...form, client_assertion_type: "urn:other" }),
        400,
        "invalid_request",
        900144,
      );
    });

    it("answers AADSTS50027 for an assertion that is not a JWT", async () => {
      const form = await writerForm();
      assertAadsts(
        await postToken(h, { ...form, client_assertion: "not-a-jwt" }),
        400,
        "invalid_request",
        50027,
      );
    });
  });

  describe("federated credential matching", () => {
    it("answers AADSTS700211 when no credential names the issuer (exact match, trailing slash counts)", async () => {
      const result = await postToken(h, await writerForm({ iss: `${h.issuer.url}/` }));
      assertAadsts(result, 401, "invalid_client", 700211);
      assert.match(
        String(result.body.error_description),
        /presented assertion issuer 'http:\/\/127\.0\.0\.1:\d+\/'/,
      );
    });

    it("answers AADSTS700213 for a subject that differs only in case", async () => {
      const form = tokenForm(ids.writer.clientId, await h.issuer.mint("WS_WRITER"));
      const result = await postToken(h, form);
      assertAadsts(result, 401, "invalid_client", 700213);
      assert.match(
        String(result.body.error_description),
        /presented assertion subject 'WS_WRITER'/,
      );
    });

    it("answers AADSTS700212 for a wrong audience", async () => {
      const result = await postToken(h, await writerForm({ aud: "api://SomethingElse" }));
      assertAadsts(result, 401, "invalid_client", 700212);
    });

    it("answers AADSTS700024 for an expired or not-yet-valid assertion", async () => {
      const now = Math.floor(Date.now() / 1000);
      const expired = await postToken(
        h,
        await writerForm({ iat: now - 7200, nbf: now - 7200, exp: now - 3600 }),
      );
      assertAadsts(expired, 401, "invalid_client", 700024);
      assert.match(
        String(expired.body.error_description),
        /Client assertion is not within its valid time range\. Current time: \d{4}-\d\d-\d\dT[\d:.]+Z/,
      );
      const early = await postToken(h, await writerForm({ nbf: now + 3600, exp: now + 4200 }));
      assertAadsts(early, 401, "invalid_client", 700024);
    });

    it("answers AADSTS70021 until a newly added credential has propagated", async () => {
      const subject = "ws_new_trust";
      h.emulator.addFederatedCredential(ids.tenantId, ids.writer.clientId, {
        name: "new-trust",
        issuer: h.issuer.url,
        subject,
      });
      const form = async () => tokenForm(ids.writer.clientId, await h.issuer.mint(subject));
      const early = await postToken(h, await form());
      assertAadsts(early, 400, "invalid_request", 70021);
      assert.match(
        String(early.body.error_description),
        new RegExp(`Assertion Subject: '${subject}'`),
      );
      h.clock.offsetMs = 61_000;
      try {
        // The assertion is minted on the real clock; 61 s of skew is inside its 10 min window.
        assert.equal((await postToken(h, await form())).status, 200);
      } finally {
        h.clock.offsetMs = 0;
      }
    });
  });

  describe("assertion signature", () => {
    it("answers AADSTS5002738 for a non-RS256 assertion", async () => {
      const form = tokenForm(
        ids.writer.clientId,
        await h.issuer.mint(ids.writer.subject, { key: await generateTestKey("ES256") }),
      );
      assertAadsts(await postToken(h, form), 401, "invalid_client", 5002738);
    });

    it("answers AADSTS50013 for a forged signature", async () => {
      const token = await h.issuer.mint(ids.writer.subject);
      const [header, payload, signature = ""] = token.split(".");
      const flipped = (signature.startsWith("A") ? "B" : "A") + signature.slice(1);
      const result = await postToken(
        h,
        tokenForm(ids.writer.clientId, `${header}.${payload}.${flipped}`),
      );
      assertAadsts(result, 401, "invalid_client", 50013);
      assert.match(
        String(result.body.error_description),
        /did not match the expected signature value/,
      );
    });

    it("caches the JWKS, refetches it for an unknown kid, and answers AADSTS50013 when still unknown", async () => {
      h.emulator.clearIssuerKeyCache();
      const before = h.emulator.stats();
      assert.equal((await postToken(h, await writerForm())).status, 200);
      assert.equal((await postToken(h, await writerForm())).status, 200);
      const cached = h.emulator.stats();
      assert.equal(cached.jwksFetches - before.jwksFetches, 1);
      assert.equal(cached.discoveryFetches - before.discoveryFetches, 1);

      const { kid } = await h.issuer.addKey({ publish: false, makeCurrent: false });
      const unpublished = await postToken(
        h,
        tokenForm(ids.writer.clientId, await h.issuer.mint(ids.writer.subject, { kid })),
      );
      assertAadsts(unpublished, 401, "invalid_client", 50013);
      assert.match(String(unpublished.body.error_description), /The key was not found/);

      h.issuer.publish(kid);
      const rotated = await postToken(
        h,
        tokenForm(ids.writer.clientId, await h.issuer.mint(ids.writer.subject, { kid })),
      );
      assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
      assert.ok(h.emulator.stats().jwksFetches - cached.jwksFetches >= 2);
    });

    it("answers AADSTS50166 when the issuer's metadata cannot be fetched", async () => {
      const deadIssuer = "http://127.0.0.1:9";
      h.emulator.addFederatedCredential(ids.tenantId, ids.reader.clientId, {
        name: "dead-issuer",
        issuer: deadIssuer,
        subject: ids.reader.subject,
      });
      const form = tokenForm(
        ids.reader.clientId,
        await h.issuer.mint(ids.reader.subject, { claims: { iss: deadIssuer } }),
      );
      assertAadsts(await postToken(h, form), 401, "invalid_client", 50166);
    });
  });

  it("uses the client-request-id as the correlation id", async () => {
    const response = await h.fetch(
      `${h.emulator.authorityHost}/${ids.tenantId}/oauth2/v2.0/token?client-request-id=corr-123`,
      {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "client_credentials" }).toString(),
      },
    );
    const body = (await response.json()) as Record<string, string>;
    assert.equal(body.correlation_id, "corr-123");
    assert.equal(body.error_uri, "https://login.microsoftonline.com/error?code=900144");
  });

  it("returns the token response fields MSAL reads", async () => {
    const result = await postToken(h, await writerForm());
    assert.equal(result.status, 200);
    assert.equal(result.body.token_type, "Bearer");
    assert.equal(result.body.expires_in, 3599);
    assert.equal(result.body.ext_expires_in, 3599);
    assert.equal(typeof result.body.access_token, "string");
  });
});
