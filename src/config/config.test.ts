import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { AppError } from "../errors/index.ts";
import { loadConfig, renderConfigurationDoc, settings } from "./index.ts";

describe("loadConfig", () => {
  it("applies the documented defaults", () => {
    const config = loadConfig({ env: {} });
    assert.equal(config.dataDir, ".relay");
    assert.equal(config.port, 8080);
    assert.equal(config.host, "127.0.0.1");
    assert.equal(config.bodyLimitBytes, 1_048_576);
    assert.equal(config.databaseUrl, undefined);
    assert.equal(config.operatorToken, undefined);
    assert.ok(Object.isFrozen(config));
  });

  it("takes a flag over the environment over the default, and ignores empty variables", () => {
    assert.equal(loadConfig({ env: { RELAY_PORT: "9000" } }).port, 9000);
    assert.equal(loadConfig({ env: { RELAY_PORT: "9000" }, flags: { port: "9001" } }).port, 9001);
    assert.equal(loadConfig({ env: { RELAY_PORT: "" } }).port, 8080);
  });

  it("lists every problem at once, naming the variable or flag and the rule", () => {
    assert.throws(
      () =>
        loadConfig({
          env: { RELAY_PORT: "http", RELAY_LOG_LEVEL: "loud", DATABASE_URL: "mysql://x" },
          flags: { bodyLimitBytes: "-5" },
        }),
      (error: unknown) => {
        assert.ok(error instanceof AppError);
        assert.equal(error.code, "INVALID_CONFIG");
        assert.match(error.message, /RELAY_PORT="http": must be a whole number/);
        assert.match(error.message, /RELAY_LOG_LEVEL="loud"/);
        assert.match(error.message, /--body-limit-bytes="-5": must be a whole number/);
        assert.match(error.message, /DATABASE_URL=\(secret value\): must be a postgres/);
        return true;
      },
    );
  });

  it("never echoes a secret value in its errors", () => {
    const token = "short-secret-token";
    assert.throws(
      () => loadConfig({ env: { RELAY_OPERATOR_TOKEN: token } }),
      (error: unknown) =>
        error instanceof AppError &&
        /at least 32/.test(error.message) &&
        !error.message.includes(token),
    );
  });

  it("takes the staging bucket's own credentials as a whole key pair or a profile, never echoing the secret", () => {
    const bucket = { RELAY_STAGING_S3_BUCKET: "relay-staging" };
    const secret = "staging-secret-not-to-be-echoed";
    const config = loadConfig({
      env: {
        ...bucket,
        RELAY_STAGING_S3_ACCESS_KEY_ID: "STAGINGKEY",
        RELAY_STAGING_S3_SECRET_ACCESS_KEY: secret,
      },
    });
    assert.equal(config.stagingS3AccessKeyId, "STAGINGKEY");
    assert.equal(config.stagingS3SecretAccessKey, secret);
    assert.equal(
      loadConfig({ env: { ...bucket, RELAY_STAGING_S3_PROFILE: "staging" } }).stagingS3Profile,
      "staging",
    );
    const refused = (env: Record<string, string>, pattern: RegExp) =>
      assert.throws(
        () => loadConfig({ env }),
        (error: unknown) =>
          error instanceof AppError &&
          error.code === "INVALID_CONFIG" &&
          pattern.test(error.message) &&
          !error.message.includes(secret),
      );
    refused({ ...bucket, RELAY_STAGING_S3_SECRET_ACCESS_KEY: secret }, /go together/);
    refused({ ...bucket, RELAY_STAGING_S3_ACCESS_KEY_ID: "STAGINGKEY" }, /go together/);
    refused(
      {
        ...bucket,
        RELAY_STAGING_S3_PROFILE: "staging",
        RELAY_STAGING_S3_ACCESS_KEY_ID: "STAGINGKEY",
        RELAY_STAGING_S3_SECRET_ACCESS_KEY: secret,
      },
      /set one/,
    );
    refused(
      { RELAY_STAGING_S3_ACCESS_KEY_ID: "STAGINGKEY", RELAY_STAGING_S3_SECRET_ACCESS_KEY: secret },
      /need RELAY_STAGING_S3_BUCKET/,
    );
    refused(
      {
        ...bucket,
        RELAY_STAGING_S3_ACCESS_KEY_ID: "A B",
        RELAY_STAGING_S3_SECRET_ACCESS_KEY: secret,
      },
      /RELAY_STAGING_S3_ACCESS_KEY_ID=\(secret value\)/,
    );
  });

  it("requires the fixed ExternalId in fixed mode, and checks the issuer URL's shape", () => {
    assert.throws(
      () => loadConfig({ env: { RELAY_AWS_EXTERNAL_ID_MODE: "fixed" } }),
      /RELAY_AWS_EXTERNAL_ID is required/,
    );
    assert.equal(
      loadConfig({ env: { RELAY_AWS_EXTERNAL_ID_MODE: "fixed", RELAY_AWS_EXTERNAL_ID: "tavus" } })
        .awsExternalId,
      "tavus",
    );
    for (const bad of [
      "https://relay.example.com/",
      "relay.example.com",
      "ftp://relay.example.com",
      "https://r.example.com?x=1",
    ]) {
      assert.throws(() => loadConfig({ env: { RELAY_ISSUER_URL: bad } }), /RELAY_ISSUER_URL/, bad);
    }
    assert.equal(
      loadConfig({ env: { RELAY_ISSUER_URL: "https://recording-copy.example.com" } }).issuerUrl,
      "https://recording-copy.example.com",
    );
  });

  it("rejects ports outside 0-65535", () => {
    assert.throws(() => loadConfig({ env: { RELAY_PORT: "70000" } }), /RELAY_PORT/);
  });

  it("has a flag for every non-secret setting and none for secrets", () => {
    for (const [name, spec] of Object.entries(settings)) {
      const secret = "secret" in spec && spec.secret;
      assert.equal("flag" in spec, !secret, `${name}`);
    }
  });
});

describe("docs/configuration.md", () => {
  it("is what `npm run docs:config` generates from the settings", async () => {
    const committed = await readFile(
      new URL("../../docs/configuration.md", import.meta.url),
      "utf8",
    );
    assert.equal(
      committed,
      renderConfigurationDoc(),
      "stale: run `npm run docs:config` and commit",
    );
  });
});
