import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AppError } from "../errors/index.ts";
import {
  closeSharedAgents,
  integrityError,
  sharedDispatcher,
  sharedHttpsAgent,
  withFreshCredentialRetry,
} from "./adapter.ts";
import { DestinationError, isDestinationError } from "./contract.ts";

const failure = (cloudCode: string, transient = false) =>
  new DestinationError("could not write", {
    code: transient ? "DESTINATION_UNAVAILABLE" : "DESTINATION_AUTH_FAILED",
    transient,
    cloudCode,
    cloudMessage: `${cloudCode} said no`,
    hint: "fix it",
    stage: "storage",
  });

describe("integrityError", () => {
  it("is a transient INTEGRITY_CHECK_FAILED AppError naming what the cloud stored", () => {
    const error = integrityError("the object S3 stored", "CRC32 differs");
    assert.ok(error instanceof AppError);
    assert.ok(isDestinationError(error));
    assert.equal(error.code, "INTEGRITY_CHECK_FAILED");
    assert.equal(error.transient, true);
    assert.match(error.message, /^the object S3 stored does not match the bytes sent/);
    assert.equal(error.details?.cloud_message, "CRC32 differs");
  });
});

describe("withFreshCredentialRetry", () => {
  const classify = (error: unknown) =>
    error instanceof DestinationError ? error : failure(String((error as Error).message));

  it("renews a refused credential once and runs again", async () => {
    let runs = 0;
    let refreshes = 0;
    const result = await withFreshCredentialRetry(
      async () => {
        runs++;
        if (runs === 1) throw new Error("ExpiredToken");
        return "ok";
      },
      {
        classify,
        isStale: (classified) => classified.cloudCode === "ExpiredToken",
        refresh: () => {
          refreshes++;
        },
      },
    );
    assert.equal(result, "ok");
    assert.deepEqual([runs, refreshes], [2, 1]);
  });

  it("throws other failures classified, without renewing", async () => {
    let refreshes = 0;
    await assert.rejects(
      withFreshCredentialRetry(
        async () => {
          throw new Error("AccessDenied");
        },
        {
          classify,
          isStale: (classified) => classified.cloudCode === "ExpiredToken",
          refresh: () => {
            refreshes++;
          },
        },
      ),
      (error: unknown) => isDestinationError(error) && error.cloudCode === "AccessDenied",
    );
    assert.equal(refreshes, 0);
  });

  it("renews only once: a second refusal leaves classified", async () => {
    let runs = 0;
    await assert.rejects(
      withFreshCredentialRetry(
        async () => {
          runs++;
          throw new Error("ExpiredToken");
        },
        { classify, isStale: () => true, refresh: () => {} },
      ),
      (error: unknown) => isDestinationError(error) && error.cloudCode === "ExpiredToken",
    );
    assert.equal(runs, 2);
  });

  it("lets a failed renewal's own error through", async () => {
    const identity = failure("invalid_grant");
    await assert.rejects(
      withFreshCredentialRetry(
        async () => {
          throw new Error("ExpiredToken");
        },
        {
          classify,
          isStale: () => true,
          refresh: () => {
            throw identity;
          },
        },
      ),
      (error: unknown) => error === identity,
    );
  });
});

describe("shared TLS agents", () => {
  const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

  it("keeps one undici dispatcher per endpoint origin and CA, none without an extra CA", async () => {
    assert.equal(sharedDispatcher("https://storage.googleapis.com", undefined), undefined);
    const a = sharedDispatcher("https://storage.example:8443/base", pem);
    assert.ok(a);
    assert.equal(sharedDispatcher("https://storage.example:8443/other/path", pem), a);
    assert.notEqual(sharedDispatcher("https://iam.example:8443", pem), a);
    await closeSharedAgents();
    assert.notEqual(sharedDispatcher("https://storage.example:8443/base", pem), a);
    await closeSharedAgents();
  });

  it("keeps one keep-alive https.Agent per endpoint and CA", async () => {
    const a = sharedHttpsAgent("", undefined);
    assert.equal(sharedHttpsAgent("", undefined), a);
    assert.notEqual(sharedHttpsAgent("", pem), a);
    await closeSharedAgents();
  });
});
