import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { guardLoopbackOnly } from "../shared/loopback-guard.ts";
import { generateTestKey, startTestIssuer, type TestIssuer } from "../shared/test-issuer.ts";
import { STS_TEXT } from "./google-errors.ts";
import { demoGcpSetup, type GcpEmulator, startGcpEmulator } from "./index.ts";
import { identityPoolClientV10 } from "./test-clients.ts";

const WORKSPACE = "ws_8f2c1a";
const guard = guardLoopbackOnly();
let issuer: TestIssuer;
let foreign: TestIssuer;
let ecIssuer: TestIssuer;
let emulator: GcpEmulator;
let audience: string;

const JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt";
const base = (subjectToken: string, aud = audience): Record<string, string> => ({
  grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
  audience: aud,
  scope: "https://www.googleapis.com/auth/cloud-platform",
  requested_token_type: "urn:ietf:params:oauth:token-type:access_token",
  subject_token: subjectToken,
  subject_token_type: JWT_TYPE,
});

async function exchangeForm(fields: Record<string, string>) {
  const response = await fetch(emulator.stsTokenUrl, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

before(async () => {
  issuer = await startTestIssuer();
  foreign = await startTestIssuer();
  ecIssuer = await startTestIssuer({ alg: "ES256" });
  const setup = demoGcpSetup({ issuerUrl: issuer.url, workspaceId: WORKSPACE });
  audience = setup.audience;
  const pool = setup.customers.projects![0]!.workloadIdentityPools![0]!;
  pool.providers!.push(
    {
      providerId: "custom-aud",
      issuerUri: issuer.url,
      allowedAudiences: ["https://relay.example.com/gcp"],
      attributeMapping: { "google.subject": "assertion.sub" },
    },
    {
      providerId: "switched-off",
      disabled: true,
      issuerUri: issuer.url,
      attributeMapping: { "google.subject": "assertion.sub" },
    },
    {
      providerId: "ec-provider",
      issuerUri: ecIssuer.url,
      attributeMapping: {
        "google.subject": "assertion.sub",
        "attribute.customer_id": "assertion.customer_id",
      },
      attributeCondition: '(assertion.customer_id in ["ws_a", "ws_b"]) && assertion.sub != "ws_b"',
    },
  );
  emulator = await startGcpEmulator({ customers: setup.customers });
});

after(async () => {
  await emulator.stop();
  await Promise.all([issuer.stop(), foreign.stop(), ecIssuer.stop()]);
  guard.assertLoopbackOnly();
});

describe("STS token exchange", () => {
  test("form request with a valid token returns a federated access token", async () => {
    const token = await issuer.mint(WORKSPACE, { audience });
    const { status, body } = await exchangeForm(base(token));
    assert.equal(status, 200);
    assert.equal(body.issued_token_type, "urn:ietf:params:oauth:token-type:access_token");
    assert.equal(body.token_type, "Bearer");
    assert.match(String(body.access_token), /^ya29\./);
    // Capped by the subject token's remaining lifetime (600 s).
    assert.ok(
      typeof body.expires_in === "number" && body.expires_in <= 600 && body.expires_in >= 590,
    );
  });

  test("JSON request with camelCase fields is accepted; id_token type too; https: audience form too", async () => {
    const token = await issuer.mint(WORKSPACE, { audience: `https:${audience}` });
    const response = await fetch(emulator.stsTokenUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        grantType: "urn:ietf:params:oauth:grant-type:token-exchange",
        audience,
        scope: "https://www.googleapis.com/auth/cloud-platform",
        requestedTokenType: "urn:ietf:params:oauth:token-type:access_token",
        subjectToken: token,
        subjectTokenType: "urn:ietf:params:oauth:token-type:id_token",
      }),
    });
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { token_type: string }).token_type, "Bearer");
  });

  test("JWKS is cached between exchanges and refetched when a new kid appears", async () => {
    emulator.clearIssuerKeys();
    const before = issuer.fetches.jwks;
    assert.equal(
      (await exchangeForm(base(await issuer.mint(WORKSPACE, { audience })))).status,
      200,
    );
    assert.equal(
      (await exchangeForm(base(await issuer.mint(WORKSPACE, { audience })))).status,
      200,
    );
    assert.equal(issuer.fetches.jwks, before + 1);
    await issuer.rotate();
    assert.equal(
      (await exchangeForm(base(await issuer.mint(WORKSPACE, { audience })))).status,
      200,
    );
    assert.equal(issuer.fetches.jwks, before + 2);
  });

  test("ES256 issuers, `in` lists and parenthesised conditions work", async () => {
    const ecAudience = emulator.audience("123456789012", "recording-relay-pool", "ec-provider");
    assert.equal(
      (await exchangeForm(base(await ecIssuer.mint("ws_a", { audience: ecAudience }), ecAudience)))
        .status,
      200,
    );
    const refused = await exchangeForm(
      base(await ecIssuer.mint("ws_b", { audience: ecAudience }), ecAudience),
    );
    assert.deepEqual(refused, {
      status: 400,
      body: { error: "unauthorized_client", error_description: STS_TEXT.conditionRejected },
    });
  });

  test("allowedAudiences replace the default resource-name audience", async () => {
    const custom = emulator.audience("123456789012", "recording-relay-pool", "custom-aud");
    const ok = await exchangeForm(
      base(await issuer.mint(WORKSPACE, { audience: "https://relay.example.com/gcp" }), custom),
    );
    assert.equal(ok.status, 200);
    const wrong = await exchangeForm(
      base(await issuer.mint(WORKSPACE, { audience: custom }), custom),
    );
    assert.deepEqual(wrong.body, {
      error: "invalid_grant",
      error_description: STS_TEXT.audienceMismatch(custom),
    });
  });
});

describe("STS rejections carry Google's error bodies", () => {
  const expectError = async (
    fields: Record<string, string>,
    error: string,
    description?: string | RegExp,
  ) => {
    const { status, body } = await exchangeForm(fields);
    assert.equal(status, 400);
    assert.equal(body.error, error);
    if (typeof description === "string") assert.equal(body.error_description, description);
    else if (description) assert.match(String(body.error_description), description);
  };

  test("malformed audience → invalid_request", async () => {
    const token = await issuer.mint(WORKSPACE, { audience });
    const poolOnly = audience.replace(/\/providers\/.*$/, "");
    await expectError(base(token, poolOnly), "invalid_request", STS_TEXT.malformedAudience);
  });

  test("unknown or disabled provider → invalid_target", async () => {
    const token = await issuer.mint(WORKSPACE, { audience });
    await expectError(
      base(token, audience.replace("recording-relay-pool", "nope-pool")),
      "invalid_target",
      STS_TEXT.invalidTarget,
    );
    const disabled = emulator.audience("123456789012", "recording-relay-pool", "switched-off");
    await expectError(
      base(await issuer.mint(WORKSPACE, { audience: disabled }), disabled),
      "invalid_target",
      STS_TEXT.invalidTarget,
    );
  });

  test("wrong grant type, requested token type, subject token type and missing fields → invalid_request", async () => {
    const token = await issuer.mint(WORKSPACE, { audience });
    await expectError(
      { ...base(token), grant_type: "client_credentials" },
      "invalid_request",
      /grant_type/,
    );
    await expectError(
      { ...base(token), requested_token_type: "urn:ietf:params:oauth:token-type:id_token" },
      "invalid_request",
      /requested_token_type/,
    );
    await expectError(
      { ...base(token), subject_token_type: "urn:ietf:params:oauth:token-type:saml2" },
      "invalid_request",
      /subject_token_type/,
    );
    const { subject_token: _, ...withoutToken } = base(token);
    await expectError(withoutToken, "invalid_request", /subject_token/);
    await expectError({ ...base(token), scope: "" }, "invalid_request", /scope/);
  });

  test("a token from a foreign issuer is refused without contacting that issuer", async () => {
    const token = await foreign.mint(WORKSPACE, { audience });
    await expectError(base(token), "invalid_grant", /issuer in ID Token/);
    assert.equal(foreign.fetches.discovery, 0);
    assert.equal(foreign.fetches.jwks, 0);
  });

  test("a token claiming our issuer but signed by a foreign key (same kid) → invalid_grant", async () => {
    const forged = await generateTestKey();
    const token = await issuer.mint(WORKSPACE, {
      audience,
      key: { ...forged, kid: issuer.active.kid },
    });
    await expectError(base(token), "invalid_grant", /signature/);
  });

  test("an unknown kid (after a refetch) → invalid_grant", async () => {
    const stranger = await generateTestKey();
    await expectError(
      base(await issuer.mint(WORKSPACE, { audience, key: stranger })),
      "invalid_grant",
      /kid/,
    );
  });

  test("wrong audience → invalid_grant with Google's audience text", async () => {
    const other =
      "//iam.googleapis.com/projects/999/locations/global/workloadIdentityPools/x-pool/providers/x-prov";
    await expectError(
      base(await issuer.mint(WORKSPACE, { audience: other })),
      "invalid_grant",
      STS_TEXT.audienceMismatch(other),
    );
    await expectError(
      base(await issuer.mint(WORKSPACE, { audience: "api://AzureADTokenExchange" })),
      "invalid_grant",
      STS_TEXT.audienceMismatch("api://AzureADTokenExchange"),
    );
  });

  test("a workspace id failing the attribute condition → unauthorized_client", async () => {
    await expectError(
      base(await issuer.mint("ws_someone_else", { audience })),
      "unauthorized_client",
      STS_TEXT.conditionRejected,
    );
    // A token without the customer_id claim makes the condition error, which also rejects.
    await expectError(
      base(await issuer.mint(WORKSPACE, { audience, claims: { customer_id: undefined } })),
      "unauthorized_client",
      STS_TEXT.conditionRejected,
    );
  });

  test("time claims: expired, iat in the future, exp ≥ 48 h after iat, nbf in the future, missing iat/exp/sub", async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectError(
      base(
        await issuer.mint(WORKSPACE, {
          audience,
          claims: {
            iat: now - 1200,
            nbf: now - 1200,
            exp: now - 600,
          },
        }),
      ),
      "invalid_grant",
      /expired/,
    );
    await expectError(
      base(await issuer.mint(WORKSPACE, { audience, claims: { iat: now + 600, exp: now + 1200 } })),
      "invalid_grant",
      /future/,
    );
    await expectError(
      base(
        await issuer.mint(WORKSPACE, {
          audience,
          claims: { iat: now - 10, exp: now - 10 + 48 * 3600 },
        }),
      ),
      "invalid_grant",
      /48 hours/,
    );
    await expectError(
      base(await issuer.mint(WORKSPACE, { audience, claims: { nbf: now + 600 } })),
      "invalid_grant",
      /not valid before/,
    );
    await expectError(
      base(await issuer.mint(WORKSPACE, { audience, claims: { iat: undefined } })),
      "invalid_grant",
      /iat/,
    );
    await expectError(
      base(await issuer.mint(WORKSPACE, { audience, claims: { exp: undefined } })),
      "invalid_grant",
      /exp/,
    );
    await expectError(
      base(await issuer.mint(WORKSPACE, { audience, claims: { sub: undefined } })),
      "invalid_grant",
      /sub/,
    );
    // Just under 48 h is fine.
    const ok = await exchangeForm(
      base(
        await issuer.mint(WORKSPACE, { audience, claims: { iat: now, exp: now + 48 * 3600 - 1 } }),
      ),
    );
    assert.equal(ok.status, 200);
    assert.equal(ok.body.expires_in, 3600);
  });

  test("header checks: alg outside RS256/ES256, missing kid, not a JWT", async () => {
    const hs = `${Buffer.from(JSON.stringify({ alg: "HS256", kid: "k", typ: "JWT" })).toString("base64url")}.${Buffer.from(JSON.stringify({ iss: issuer.url })).toString("base64url")}.c2ln`;
    await expectError(base(hs), "invalid_grant", /RS256 and ES256/);
    await expectError(
      base(await issuer.mint(WORKSPACE, { audience, header: { kid: undefined } })),
      "invalid_grant",
      /kid/,
    );
    await expectError(base("not-a-jwt"), "invalid_grant", /not a valid JWT/);
  });

  test("a subject longer than 127 bytes → invalid_grant with Google's size text", async () => {
    const long = `ws_${"x".repeat(130)}`;
    emulator.customers.projects[0]!.workloadIdentityPools[0]!.providers[0]!.attributeCondition =
      "true";
    try {
      await expectError(
        base(await issuer.mint(long, { audience })),
        "invalid_grant",
        STS_TEXT.subjectTooLong,
      );
    } finally {
      emulator.customers.projects[0]!.workloadIdentityPools[0]!.providers[0]!.attributeCondition =
        `assertion.customer_id == "${WORKSPACE}"`;
    }
  });
});

describe("google-auth-library 10 against the STS", () => {
  test("IdentityPoolClient without impersonation gets the federated token", async () => {
    const client = identityPoolClientV10({
      emulator,
      audience,
      getSubjectToken: () => issuer.mint(WORKSPACE, { audience }),
    });
    const { token } = await client.getAccessToken();
    assert.match(token ?? "", /^ya29\.d\./);
  });

  test("the library surfaces Google's error text for a refused exchange", async () => {
    const client = identityPoolClientV10({
      emulator,
      audience,
      getSubjectToken: () => issuer.mint("ws_intruder", { audience }),
    });
    await assert.rejects(client.getAccessToken(), (error: Error) => {
      assert.equal(error.message, `Error code unauthorized_client: ${STS_TEXT.conditionRejected}`);
      return true;
    });
  });
});
