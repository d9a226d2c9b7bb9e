import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import {
  AssumeRoleWithWebIdentityCommand,
  type AssumeRoleWithWebIdentityCommandInput,
  GetCallerIdentityCommand,
  STSClient,
} from "@aws-sdk/client-sts";
import { fromWebToken } from "@aws-sdk/credential-providers";
import { guardLoopbackOnly } from "../shared/loopback-guard.ts";
import { generateTestKey, startTestIssuer, type TestIssuer } from "../shared/test-issuer.ts";
import {
  type AwsEmulator,
  type AwsEmulatorConfigInput,
  DEMO,
  demoAwsConfig,
  oidcProviderArn,
  oidcProviderHostPath,
  type RoleConfig,
  startAwsEmulator,
} from "./index.ts";
import { rejectsWith, s3Client, stsClient } from "./testing.ts";

const WORKSPACE = "ws_3b9e41";
const AUDIENCE = DEMO.webIdentityAudience;
const DENIED = "Not authorized to perform sts:AssumeRoleWithWebIdentity";
const NO_KEY =
  "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements";
const likeRole = "arn:aws:iam::222222222222:role/AnyWorkspaceWriter";
const otherAudienceRole = "arn:aws:iam::222222222222:role/OtherAudienceOnly";
const shortRole = "arn:aws:iam::222222222222:role/ShortWebIdentity";
const foreignAccountRole = "arn:aws:iam::333333333333:role/RecordingWriter";
const deadIssuer = "http://127.0.0.1:9";
const deadRole = "arn:aws:iam::222222222222:role/DeadIssuer";
const missingRole = "arn:aws:iam::222222222222:role/NoDiscoveryIssuer";

const guard = guardLoopbackOnly();
let issuer: TestIssuer;
let foreign: TestIssuer;
let emulator: AwsEmulator;
/** The issuer's provider in the customer account, and the role trusting it for one workspace. */
let providerArn: string;

/** A role trusting the provider of `issuerUrl` with the given conditions. */
function federatedRole(
  arn: string,
  issuerUrl: string,
  condition: Record<string, Record<string, string>>,
  maxSessionDurationSeconds = 3600,
): RoleConfig {
  return {
    arn,
    maxSessionDurationSeconds,
    trustPolicy: {
      Statement: [
        {
          Effect: "Allow",
          Principal: { Federated: oidcProviderArn("222222222222", issuerUrl) },
          Action: "sts:AssumeRoleWithWebIdentity",
          Condition: condition,
        },
      ],
    },
    permissions: [{ bucket: DEMO.bucket, actions: ["s3:PutObject"] }],
  };
}

before(async () => {
  issuer = await startTestIssuer({ audience: AUDIENCE });
  foreign = await startTestIssuer({ audience: AUDIENCE });
  const config = demoAwsConfig({
    webIdentity: { issuerUrl: issuer.url, workspaceId: WORKSPACE },
  }) as AwsEmulatorConfigInput & { roles: RoleConfig[] };
  const host = oidcProviderHostPath(issuer.url);
  config.oidcProviders!.push(
    { accountId: "222222222222", url: deadIssuer, clientIds: [AUDIENCE] },
    // The issuer's host serves no discovery document under this path.
    { accountId: "222222222222", url: `${issuer.url}/tenant`, clientIds: [AUDIENCE] },
  );
  config.oidcProviders![0]!.clientIds.push("other-audience");
  config.roles.push(
    federatedRole(likeRole, issuer.url, {
      StringEquals: { [`${host}:aud`]: AUDIENCE },
      StringLike: { [`${host}:sub`]: "ws_*" },
    }),
    federatedRole(otherAudienceRole, issuer.url, {
      StringEquals: { [`${host}:aud`]: "other-audience" },
    }),
    federatedRole(shortRole, issuer.url, { StringEquals: { [`${host}:sub`]: WORKSPACE } }),
    federatedRole(deadRole, deadIssuer, {}),
    federatedRole(foreignAccountRole, issuer.url, {}),
    federatedRole(missingRole, `${issuer.url}/tenant`, {}),
  );
  emulator = await startAwsEmulator(config);
  providerArn = oidcProviderArn(DEMO.customerAccountId, issuer.url);
});

after(async () => {
  await emulator.stop();
  await Promise.all([issuer.stop(), foreign.stop()]);
  guard.assertLoopbackOnly();
});

/** An STS client with no credentials at all: the web-identity call is unsigned. */
const anonymousSts = () =>
  new STSClient({ region: "us-east-1", endpoint: emulator.endpoint, maxAttempts: 1 });

const assumeWith = async (
  token: string | Promise<string>,
  input: Partial<AssumeRoleWithWebIdentityCommandInput> = {},
) =>
  anonymousSts().send(
    new AssumeRoleWithWebIdentityCommand({
      RoleArn: DEMO.webIdentityRoleArn,
      RoleSessionName: "relay-upload",
      WebIdentityToken: await token,
      ...input,
    }),
  );

describe("STS AssumeRoleWithWebIdentity", () => {
  it("exchanges the relay's token for 12 h role credentials with no AWS credentials at all", async () => {
    const before = Date.now();
    const out = await assumeWith(issuer.mint(WORKSPACE), { DurationSeconds: 43_200 });
    assert.match(out.Credentials!.AccessKeyId!, /^ASIA/);
    const ms = out.Credentials!.Expiration!.getTime() - before;
    assert.ok(ms > 43_190_000 && ms <= 43_201_000, `expiration ${ms} ms away`);
    assert.equal(out.SubjectFromWebIdentityToken, WORKSPACE);
    assert.equal(out.Audience, AUDIENCE);
    assert.equal(out.Provider, providerArn);
    assert.equal(
      out.AssumedRoleUser!.Arn,
      "arn:aws:sts::222222222222:assumed-role/RecordingWriterWebIdentity/relay-upload",
    );
    assert.match(out.AssumedRoleUser!.AssumedRoleId!, /^AROA[A-Z2-7]{17}:relay-upload$/);
    const creds = {
      accessKeyId: out.Credentials!.AccessKeyId!,
      secretAccessKey: out.Credentials!.SecretAccessKey!,
      sessionToken: out.Credentials!.SessionToken!,
    };
    const me = await stsClient(emulator, creds).send(new GetCallerIdentityCommand({}));
    assert.equal(me.Arn, out.AssumedRoleUser!.Arn);
    assert.equal(emulator.sessions().at(-1)?.roleArn, DEMO.webIdentityRoleArn);
  });

  it("fromWebToken credentials feed an S3 client that uploads", async () => {
    const credentials = fromWebToken({
      roleArn: DEMO.webIdentityRoleArn,
      roleSessionName: "relay-s3",
      webIdentityToken: await issuer.mint(WORKSPACE),
      clientConfig: { region: "us-east-1", endpoint: emulator.endpoint },
    });
    await s3Client(emulator, credentials, DEMO.region).send(
      new PutObjectCommand({ Bucket: DEMO.bucket, Key: "tavus/web-identity/1", Body: "hello" }),
    );
    assert.equal(emulator.objectInfo(DEMO.bucket, "tavus/web-identity/1")?.size, 5);
    assert.equal(emulator.sessions().at(-1)?.sessionArn.endsWith("/relay-s3"), true);
  });

  it("answers the query protocol's XML with code InvalidIdentityToken on the wire", async () => {
    const response = await fetch(emulator.endpoint, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        Action: "AssumeRoleWithWebIdentity",
        Version: "2011-06-15",
        RoleArn: DEMO.webIdentityRoleArn,
        RoleSessionName: "raw",
        WebIdentityToken: "not-a-jwt",
      }),
    });
    assert.equal(response.status, 400);
    const xml = await response.text();
    assert.match(xml, /<Code>InvalidIdentityToken<\/Code>/);
    assert.match(xml, /<Type>Sender<\/Type>/);
    assert.match(xml, /The ID Token provided is not a valid JWT/);
  });

  it("caches the issuer's JWKS and refetches it for a rotated key", async () => {
    emulator.clearIssuerKeyCache();
    const before = { ...issuer.fetches };
    await assumeWith(issuer.mint(WORKSPACE));
    await assumeWith(issuer.mint(WORKSPACE));
    assert.equal(issuer.fetches.jwks - before.jwks, 1);
    assert.equal(issuer.fetches.discovery - before.discovery, 1);
    await issuer.rotate();
    await assumeWith(issuer.mint(WORKSPACE));
    assert.equal(issuer.fetches.jwks - before.jwks, 2);
  });

  it("StringLike on :sub and StringEquals on :aud select the role", async () => {
    const out = await assumeWith(issuer.mint("ws_another"), { RoleArn: likeRole });
    assert.equal(out.SubjectFromWebIdentityToken, "ws_another");
    await rejectsWith(
      assumeWith(issuer.mint("tenant_x"), { RoleArn: likeRole }),
      "AccessDenied",
      403,
      DENIED,
    );
    // The provider accepts both client ids; the role wants the other one.
    await rejectsWith(
      assumeWith(issuer.mint(WORKSPACE), { RoleArn: otherAudienceRole }),
      "AccessDenied",
      403,
      DENIED,
    );
    const other = await assumeWith(issuer.mint(WORKSPACE, { audience: "other-audience" }), {
      RoleArn: otherAudienceRole,
    });
    assert.equal(other.Audience, "other-audience");
  });
});

describe("AssumeRoleWithWebIdentity rejections", () => {
  it("an issuer with no OIDC provider in the role's account → InvalidIdentityToken, never contacted", async () => {
    await rejectsWith(
      assumeWith(foreign.mint(WORKSPACE)),
      "InvalidIdentityTokenException",
      400,
      `No OpenIDConnect provider found in your account for ${foreign.url}`,
    );
    assert.deepEqual(foreign.fetches, { discovery: 0, jwks: 0 });
    await rejectsWith(
      assumeWith(issuer.mint(WORKSPACE), { RoleArn: foreignAccountRole }),
      "InvalidIdentityTokenException",
      400,
      `No OpenIDConnect provider found in your account for ${issuer.url}`,
    );
  });

  it("a token that is not a JWT → InvalidIdentityToken", async () => {
    await rejectsWith(
      assumeWith("abcd.efgh"),
      "InvalidIdentityTokenException",
      400,
      /not a valid JWT/,
    );
  });

  it("an audience not in the provider's client ids → InvalidIdentityToken 'Incorrect token audience'", async () => {
    await rejectsWith(
      assumeWith(issuer.mint(WORKSPACE, { audience: "api://AzureADTokenExchange" })),
      "InvalidIdentityTokenException",
      400,
      "Incorrect token audience",
    );
  });

  it("a forged signature, an unpublished kid and a non-RS256 token → InvalidIdentityToken", async () => {
    const forged = await generateTestKey();
    await rejectsWith(
      assumeWith(issuer.mint(WORKSPACE, { key: { ...forged, kid: issuer.active.kid } })),
      "InvalidIdentityTokenException",
      400,
      /signature/,
    );
    const unpublished = await issuer.addKey({ publish: false, makeCurrent: false });
    const jwksBefore = issuer.fetches.jwks;
    await rejectsWith(
      assumeWith(issuer.mint(WORKSPACE, { key: unpublished })),
      "InvalidIdentityTokenException",
      400,
      NO_KEY,
    );
    assert.equal(issuer.fetches.jwks, jwksBefore + 1, "an unknown kid is refetched once");
    await rejectsWith(
      assumeWith(issuer.mint(WORKSPACE, { key: await generateTestKey("ES256") })),
      "InvalidIdentityTokenException",
      400,
      /only RS256/,
    );
  });

  it("an expired token → ExpiredTokenException with AWS's text", async () => {
    const now = Math.floor(Date.now() / 1000);
    await rejectsWith(
      assumeWith(issuer.mint(WORKSPACE, { claims: { iat: now - 700, exp: now - 100 } })),
      "ExpiredTokenException",
      400,
      new RegExp(
        `^Token expired: current date/time \\d+ must be before the expiration date/time${now - 100}$`,
      ),
    );
  });

  it("missing exp, iat or sub, and iat in the future → InvalidIdentityToken", async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const [claims, text] of [
      [{ exp: undefined }, /exp/],
      [{ iat: undefined }, /iat/],
      [{ sub: undefined }, /sub/],
      [{ iat: now + 3600, exp: now + 4000 }, /future/],
    ] as const) {
      await rejectsWith(
        assumeWith(issuer.mint(WORKSPACE, { claims })),
        "InvalidIdentityTokenException",
        400,
        text,
      );
    }
  });

  it("another workspace's token, an unknown role and an AssumeRole-only role → one AccessDenied text", async () => {
    await rejectsWith(assumeWith(issuer.mint("ws_someone_else")), "AccessDenied", 403, DENIED);
    await rejectsWith(
      assumeWith(issuer.mint(WORKSPACE), { RoleArn: "arn:aws:iam::222222222222:role/Nope" }),
      "AccessDenied",
      403,
      DENIED,
    );
    await rejectsWith(
      assumeWith(issuer.mint(WORKSPACE), { RoleArn: DEMO.roleArn }),
      "AccessDenied",
      403,
      DENIED,
    );
  });

  it("DurationSeconds beyond MaxSessionDuration or the model's range → ValidationError", async () => {
    await rejectsWith(
      assumeWith(issuer.mint(WORKSPACE), { RoleArn: shortRole, DurationSeconds: 7200 }),
      "ValidationError",
      400,
      "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    );
    await rejectsWith(
      assumeWith(issuer.mint(WORKSPACE), { DurationSeconds: 600 }),
      "ValidationError",
      400,
      "1 validation error detected: Value '600' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900",
    );
    await rejectsWith(
      assumeWith(issuer.mint(WORKSPACE), { RoleSessionName: "a:b" }),
      "ValidationError",
      400,
      /roleSessionName.*regular expression pattern/,
    );
  });

  it("an unreachable issuer → IDPCommunicationError; a missing discovery document → InvalidIdentityToken", async () => {
    await rejectsWith(
      assumeWith(issuer.mint(WORKSPACE, { claims: { iss: deadIssuer } }), { RoleArn: deadRole }),
      "IDPCommunicationErrorException",
      400,
      /could not be reached/,
    );
    await rejectsWith(
      assumeWith(issuer.mint(WORKSPACE, { claims: { iss: `${issuer.url}/tenant` } }), {
        RoleArn: missingRole,
      }),
      "InvalidIdentityTokenException",
      400,
      NO_KEY,
    );
  });
});

describe("OIDC provider configuration", () => {
  it("refuses http issuers that are not loopback, and loopback http when not allowed", async () => {
    const provider = (url: string) => ({
      oidcProviders: [{ accountId: "222222222222", url, clientIds: [AUDIENCE] }],
    });
    await assert.rejects(startAwsEmulator(provider("http://issuer.example.com")), /must use https/);
    await assert.rejects(
      startAwsEmulator({ ...provider(issuer.url), allowHttpIssuers: false }),
      /must use https/,
    );
    await assert.rejects(startAwsEmulator(provider(`${issuer.url}/`)), /trailing slash/);
  });
});
