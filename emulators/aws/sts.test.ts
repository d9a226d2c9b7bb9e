import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { AssumeRoleCommand, GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { fromTemporaryCredentials } from "@aws-sdk/credential-providers";
import { type AwsEmulator, DEMO, demoAwsConfig, startAwsEmulator } from "./index.ts";
import { assume, rejectsWith, s3Client, stsClient, T, testConfig } from "./testing.ts";

const DENIED = (caller: string, role: string, action = "sts:AssumeRole") =>
  `User: ${caller} is not authorized to perform: ${action} on resource: ${role}`;

describe("STS AssumeRole", () => {
  let emulator: AwsEmulator;
  before(async () => {
    emulator = await startAwsEmulator(testConfig());
  });
  after(() => emulator.stop());

  const assumeAs = (
    credentials: Parameters<typeof stsClient>[1],
    input: Partial<ConstructorParameters<typeof AssumeRoleCommand>[0]> = {},
  ) =>
    stsClient(emulator, credentials).send(
      new AssumeRoleCommand({
        RoleArn: T.writerRole,
        RoleSessionName: "relay",
        ExternalId: T.externalId,
        ...input,
      }),
    );

  it("issues 12 h credentials with the role's session ARN and remembers them", async () => {
    const before = Date.now();
    const out = await assumeAs(T.operator, {
      DurationSeconds: 43_200,
      RoleSessionName: "rec-upload-1",
    });
    assert.match(out.Credentials!.AccessKeyId!, /^ASIA/);
    assert.ok(out.Credentials!.SessionToken!.length > 100);
    const ms = out.Credentials!.Expiration!.getTime() - before;
    assert.ok(ms > 43_190_000 && ms <= 43_201_000, `expiration ${ms} ms away`);
    assert.equal(
      out.AssumedRoleUser!.Arn,
      "arn:aws:sts::222222222222:assumed-role/RecordingWriter/rec-upload-1",
    );
    assert.match(out.AssumedRoleUser!.AssumedRoleId!, /^AROA[A-Z2-7]{17}:rec-upload-1$/);
    const session = emulator.sessions().find((s) => s.accessKeyId === out.Credentials!.AccessKeyId);
    assert.equal(session?.roleArn, T.writerRole);
    assert.equal(session?.expiresAt.getTime(), out.Credentials!.Expiration!.getTime());
  });

  it("GetCallerIdentity answers for a user and for an assumed-role session", async () => {
    const me = await stsClient(emulator, T.operator).send(new GetCallerIdentityCommand({}));
    assert.equal(me.Arn, T.operatorArn);
    assert.equal(me.Account, T.operatorAccount);
    const creds = await assume(emulator);
    const session = await stsClient(emulator, creds).send(new GetCallerIdentityCommand({}));
    assert.equal(
      session.Arn,
      "arn:aws:sts::222222222222:assumed-role/RecordingWriter/test-session",
    );
    assert.equal(session.Account, "222222222222");
  });

  it("wrong, missing and differently-cased ExternalId, unknown role and untrusted account all get the one AccessDenied text", async () => {
    await rejectsWith(
      assumeAs(T.operator, { ExternalId: "wrong-id" }),
      "AccessDenied",
      403,
      DENIED(T.operatorArn, T.writerRole),
    );
    await rejectsWith(
      assumeAs(T.operator, { ExternalId: undefined }),
      "AccessDenied",
      403,
      DENIED(T.operatorArn, T.writerRole),
    );
    await rejectsWith(assumeAs(T.operator, { ExternalId: "EXT-123" }), "AccessDenied", 403);
    const missing = "arn:aws:iam::222222222222:role/DoesNotExist";
    await rejectsWith(
      assumeAs(T.operator, { RoleArn: missing }),
      "AccessDenied",
      403,
      DENIED(T.operatorArn, missing),
    );
    await rejectsWith(
      assumeAs(T.stranger),
      "AccessDenied",
      403,
      DENIED("arn:aws:iam::999999999999:user/stranger", T.writerRole),
    );
  });

  it("DurationSeconds above the role's MaxSessionDuration is a ValidationError", async () => {
    await rejectsWith(
      assumeAs(T.operator, { RoleArn: T.shortRole, DurationSeconds: 43_200 }),
      "ValidationError",
      400,
      "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    );
    const ok = await assumeAs(T.operator, { RoleArn: T.shortRole, DurationSeconds: 3600 });
    assert.ok(ok.Credentials?.AccessKeyId);
  });

  it("role chaining is capped at one hour, from a configured task session and from an assumed session", async () => {
    const chainText =
      "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.";
    await rejectsWith(
      assumeAs(T.taskSession, { DurationSeconds: 43_200 }),
      "ValidationError",
      400,
      chainText,
    );
    await rejectsWith(
      assumeAs(T.taskSession, { DurationSeconds: 3601 }),
      "ValidationError",
      400,
      chainText,
    );
    const chained = await assumeAs(T.taskSession, { DurationSeconds: 3600 });
    assert.ok(chained.Credentials?.AccessKeyId);
    // A session the emulator issued chains too: operator → relay-hop (12 h) → customer role.
    const hop = await assumeAs(T.operator, {
      RoleArn: T.hopRole,
      ExternalId: undefined,
      DurationSeconds: 43_200,
    });
    const hopCreds = {
      accessKeyId: hop.Credentials!.AccessKeyId!,
      secretAccessKey: hop.Credentials!.SecretAccessKey!,
      sessionToken: hop.Credentials!.SessionToken!,
    };
    await rejectsWith(
      assumeAs(hopCreds, { DurationSeconds: 7200 }),
      "ValidationError",
      400,
      chainText,
    );
    const second = await assumeAs(hopCreds, { DurationSeconds: 3600 });
    assert.ok(second.Credentials?.AccessKeyId);
    // The hop role trusts only the operator user, not the customer's sessions.
    const customer = await assume(emulator);
    await rejectsWith(
      assumeAs(customer, { RoleArn: T.hopRole, DurationSeconds: 900 }),
      "AccessDenied",
      403,
      DENIED("arn:aws:sts::222222222222:assumed-role/RecordingWriter/test-session", T.hopRole),
    );
  });

  it("validates parameters with AWS's ValidationError texts", async () => {
    await rejectsWith(
      assumeAs(T.operator, { RoleSessionName: "a:b" }),
      "ValidationError",
      400,
      "1 validation error detected: Value 'a:b' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*",
    );
    await rejectsWith(
      assumeAs(T.operator, { RoleSessionName: "x".repeat(65) }),
      "ValidationError",
      400,
      `1 validation error detected: Value '${"x".repeat(65)}' at 'roleSessionName' failed to satisfy constraint: Member must have length less than or equal to 64`,
    );
    await rejectsWith(
      assumeAs(T.operator, { DurationSeconds: 600, ExternalId: "a" }),
      "ValidationError",
      400,
      "2 validation errors detected: Value 'a' at 'externalId' failed to satisfy constraint: Member must have length greater than or equal to 2; Value '600' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900",
    );
    await rejectsWith(
      assumeAs(T.operator, { DurationSeconds: 43_201 }),
      "ValidationError",
      400,
      /Member must have value less than or equal to 43200/,
    );
  });

  it("SourceIdentity needs sts:SetSourceIdentity in the trust policy", async () => {
    await rejectsWith(
      assumeAs(T.operator, { SourceIdentity: "workspace-1" }),
      "AccessDenied",
      403,
      DENIED(T.operatorArn, T.writerRole, "sts:SetSourceIdentity"),
    );
  });

  it("rejects unknown keys, bad signatures and expired sessions", async () => {
    await rejectsWith(
      assumeAs({ accessKeyId: "UNKNOWN-ACCESS-KEY-0000", secretAccessKey: "x" }),
      "InvalidClientTokenId",
      403,
      "The security token included in the request is invalid.",
    );
    await rejectsWith(
      assumeAs({ ...T.operator, secretAccessKey: "not-the-secret" }),
      "SignatureDoesNotMatch",
      403,
    );
    const creds = await assume(emulator);
    emulator.expireSessions(creds.accessKeyId);
    await rejectsWith(
      stsClient(emulator, creds).send(new GetCallerIdentityCommand({})),
      "ExpiredToken",
      403,
      "The security token included in the request is expired",
    );
    await rejectsWith(
      stsClient(emulator, { ...creds, sessionToken: "forged" }).send(
        new GetCallerIdentityCommand({}),
      ),
      "InvalidClientTokenId",
      403,
    );
  });

  it("fromTemporaryCredentials works end to end into S3", async () => {
    const credentials = fromTemporaryCredentials({
      masterCredentials: T.operator,
      params: {
        RoleArn: T.writerRole,
        RoleSessionName: "rec-upload-1",
        ExternalId: T.externalId,
        DurationSeconds: 43_200,
      },
      clientConfig: { region: "us-east-1", endpoint: emulator.endpoint },
    });
    const s3 = s3Client(emulator, credentials);
    await s3.send(new PutObjectCommand({ Bucket: T.bucket, Key: "tavus/c1/1", Body: "recording" }));
    const got = await s3.send(new GetObjectCommand({ Bucket: T.bucket, Key: "tavus/c1/1" }));
    assert.equal(await got.Body!.transformToString(), "recording");
  });
});

describe("demo config", () => {
  it("is a ready customer setup: operator key, 12 h role with ExternalId, one bucket", async () => {
    const emulator = await startAwsEmulator(demoAwsConfig());
    try {
      const operator = {
        accessKeyId: DEMO.operatorAccessKeyId,
        secretAccessKey: DEMO.operatorSecretAccessKey,
      };
      const out = await stsClient(emulator, operator).send(
        new AssumeRoleCommand({
          RoleArn: DEMO.roleArn,
          RoleSessionName: "demo",
          ExternalId: DEMO.externalId,
          DurationSeconds: 43_200,
        }),
      );
      const s3 = s3Client(
        emulator,
        {
          accessKeyId: out.Credentials!.AccessKeyId!,
          secretAccessKey: out.Credentials!.SecretAccessKey!,
          sessionToken: out.Credentials!.SessionToken!,
        },
        DEMO.region,
      );
      await s3.send(new PutObjectCommand({ Bucket: DEMO.bucket, Key: "tavus/demo/1", Body: "x" }));
      assert.equal(emulator.objectInfo(DEMO.bucket, "tavus/demo/1")?.size, 1);
    } finally {
      await emulator.stop();
    }
  });
});
