import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { guardLoopbackOnly } from "../shared/loopback-guard.ts";
import { startTestIssuer, type TestIssuer } from "../shared/test-issuer.ts";
import { AUTH_TEXT, getAccessTokenDenied } from "./google-errors.ts";
import { demoGcpSetup, type GcpEmulator, startGcpEmulator } from "./index.ts";
import { identityPoolClientV10 } from "./test-clients.ts";

const WORKSPACE = "ws_41d9";
const guard = guardLoopbackOnly();
let issuer: TestIssuer;
let emulator: GcpEmulator;
let audience: string;
let writer: string;
const UNBOUND = "someone-else@acme-prod.iam.gserviceaccount.com";
const BY_SUBJECT = "subject-bound@acme-prod.iam.gserviceaccount.com";
const LONG_LIVED = "long-lived-sa@acme-prod.iam.gserviceaccount.com";

before(async () => {
  issuer = await startTestIssuer();
  const setup = demoGcpSetup({ issuerUrl: issuer.url, workspaceId: WORKSPACE });
  audience = setup.audience;
  writer = setup.destination.service_account_email;
  const pool =
    "iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/recording-relay-pool";
  setup.customers.projects![0]!.serviceAccounts!.push(
    {
      email: UNBOUND,
      bindings: [
        {
          role: "roles/iam.workloadIdentityUser",
          members: [`principalSet://${pool}/attribute.customer_id/ws_other`],
        },
      ],
    },
    {
      email: BY_SUBJECT,
      bindings: [
        {
          role: "roles/iam.workloadIdentityUser",
          members: [`principal://${pool}/subject/${WORKSPACE}`],
        },
      ],
    },
    {
      email: LONG_LIVED,
      maxTokenLifetimeSeconds: 7200,
      bindings: [{ role: "roles/iam.workloadIdentityUser", members: [`principalSet://${pool}/*`] }],
    },
  );
  emulator = await startGcpEmulator({ customers: setup.customers });
});

after(async () => {
  await emulator.stop();
  await issuer.stop();
  guard.assertLoopbackOnly();
});

async function federatedToken(
  scope = "https://www.googleapis.com/auth/cloud-platform",
): Promise<string> {
  const response = await fetch(emulator.stsTokenUrl, {
    method: "POST",
    body: new URLSearchParams({
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      audience,
      scope,
      requested_token_type: "urn:ietf:params:oauth:token-type:access_token",
      subject_token: await issuer.mint(WORKSPACE, { audience }),
      subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
    }),
  });
  assert.equal(response.status, 200);
  return ((await response.json()) as { access_token: string }).access_token;
}

async function generate(email: string, bearer: string | undefined, body: unknown, project = "-") {
  const response = await fetch(
    `${emulator.endpoint}/v1/projects/${project}/serviceAccounts/${email}:generateAccessToken`,
    {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
      },
      body: typeof body === "string" ? body : JSON.stringify(body),
    },
  );
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const SCOPE = {
  scope: ["https://www.googleapis.com/auth/devstorage.read_write"],
  lifetime: "3600s",
};

describe("generateAccessToken", () => {
  test("google-auth-library 10 impersonates the bound service account (principalSet by customer_id)", async () => {
    const client = identityPoolClientV10({
      emulator,
      audience,
      serviceAccountEmail: writer,
      getSubjectToken: () => issuer.mint(WORKSPACE, { audience }),
    });
    const started = Date.now();
    const { token, res } = await client.getAccessToken();
    assert.match(token ?? "", /^ya29\.c\./);
    const expiry = client.credentials.expiry_date!;
    assert.ok(Math.abs(expiry - (started + 3_600_000)) < 5_000);
    assert.equal(res?.status, 200);
  });

  test("a principal:// subject binding and a principalSet /* binding also grant access", async () => {
    const bearer = await federatedToken();
    assert.equal((await generate(BY_SUBJECT, bearer, SCOPE)).status, 200);
    const long = await generate(LONG_LIVED, bearer, { ...SCOPE, lifetime: "7200s" });
    assert.equal(long.status, 200);
    assert.match(String(long.body.expireTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  test("an unbound service account → PERMISSION_DENIED, also through the library", async () => {
    const bearer = await federatedToken();
    assert.deepEqual(await generate(UNBOUND, bearer, SCOPE), {
      status: 403,
      body: getAccessTokenDenied(),
    });
    const client = identityPoolClientV10({
      emulator,
      audience,
      serviceAccountEmail: UNBOUND,
      getSubjectToken: () => issuer.mint(WORKSPACE, { audience }),
    });
    await assert.rejects(client.getAccessToken(), (error: { status?: number; message: string }) => {
      assert.equal(error.status, 403);
      assert.match(error.message, /iam\.serviceAccounts\.getAccessToken' denied/);
      return true;
    });
  });

  test("a service account that does not exist gets the same PERMISSION_DENIED", async () => {
    const bearer = await federatedToken();
    assert.deepEqual(
      await generate("ghost-account@acme-prod.iam.gserviceaccount.com", bearer, SCOPE),
      {
        status: 403,
        body: getAccessTokenDenied(),
      },
    );
  });

  test("no bearer, an unknown bearer, and an expired federated token → 401 UNAUTHENTICATED", async () => {
    assert.deepEqual(await generate(writer, undefined, SCOPE), {
      status: 401,
      body: { error: { code: 401, message: AUTH_TEXT.missing, status: "UNAUTHENTICATED" } },
    });
    assert.deepEqual(await generate(writer, "ya29.forged", SCOPE), {
      status: 401,
      body: { error: { code: 401, message: AUTH_TEXT.invalid, status: "UNAUTHENTICATED" } },
    });
    const bearer = await federatedToken();
    emulator.expireTokens();
    assert.equal((await generate(writer, bearer, SCOPE)).status, 401);
  });

  test("an impersonated token cannot impersonate again (no token-creator binding)", async () => {
    const saToken = (
      await generate(writer, await federatedToken(), {
        scope: ["https://www.googleapis.com/auth/cloud-platform"],
      })
    ).body.accessToken as string;
    assert.deepEqual(await generate(writer, saToken, SCOPE), {
      status: 403,
      body: getAccessTokenDenied(),
    });
  });

  test("lifetime above the service account's maximum, missing scope, bad JSON, bad project → INVALID_ARGUMENT", async () => {
    const bearer = await federatedToken();
    for (const [body, project] of [
      [{ ...SCOPE, lifetime: "3601s" }, "-"],
      [{ lifetime: "600s" }, "-"],
      [{ scope: [] }, "-"],
      ["{not json", "-"],
      [SCOPE, "acme-prod"],
    ] as const) {
      const result = await generate(writer, bearer, body, project);
      assert.equal(result.status, 400);
      assert.equal((result.body.error as { status: string }).status, "INVALID_ARGUMENT");
      assert.equal(
        (result.body.error as { message: string }).message,
        "Request contains an invalid argument.",
      );
    }
  });

  test("a federated token without cloud-platform/iam scope → insufficient scopes", async () => {
    const bearer = await federatedToken("https://www.googleapis.com/auth/devstorage.read_write");
    const result = await generate(writer, bearer, SCOPE);
    assert.equal(result.status, 403);
    assert.equal((result.body.error as { message: string }).message, AUTH_TEXT.insufficientScopes);
  });
});
