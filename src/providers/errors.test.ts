/**
 * Table tests of the three classifiers: every cloud failure maps to exactly one docs/errors.md code and
 * a transient flag, keeps the cloud's code and text, and carries a hint. (The same mappings are
 * proven against the emulators in test/destinations-*.test.ts.)
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { DestinationErrorCode, DestinationStage } from "../destinations/contract.ts";
import { classifyAzureFailure } from "./azure-blob/errors.ts";
import { classifyGcpFailure } from "./gcs/errors.ts";
import { classifyAwsFailure, observeAwsError } from "./s3/errors.ts";

type Row = [DestinationStage, string, number | undefined, DestinationErrorCode, boolean, string?];

const awsHints = {
  bucketRegion: "us-west-2",
  roleArn: "arn:aws:iam::222222222222:role/W",
  externalId: "ws-1",
  durationSeconds: 43_200,
  trustedAccountId: "111111111111",
};

const awsRows: Row[] = [
  ["identity", "AccessDenied", 403, "DESTINATION_AUTH_FAILED", false, "ExternalId"],
  [
    "identity",
    "ValidationError",
    400,
    "DESTINATION_AUTH_FAILED",
    false,
    "maximum session duration",
  ],
  ["identity", "InvalidIdentityToken", 400, "DESTINATION_AUTH_FAILED", false, "OIDC provider"],
  ["identity", "IDPRejectedClaim", 403, "DESTINATION_AUTH_FAILED", false],
  ["identity", "ExpiredTokenException", 400, "DESTINATION_UNAVAILABLE", true],
  ["identity", "IDPCommunicationError", 400, "DESTINATION_UNAVAILABLE", true],
  ["identity", "InvalidClientTokenId", 403, "DESTINATION_AUTH_FAILED", false, "operator"],
  ["identity", "Throttling", 400, "DESTINATION_UNAVAILABLE", true],
  ["identity", "InternalFailure", 500, "DESTINATION_UNAVAILABLE", true],
  ["identity", "ECONNRESET", undefined, "DESTINATION_UNAVAILABLE", true],
  // The operator's own AWS credentials are missing: NOT_CONFIGURED, naming the settings.
  ["identity", "CredentialsProviderError", undefined, "NOT_CONFIGURED", true, "AWS_ACCESS_KEY_ID"],
  ["identity", "ENOTFOUND", undefined, "DESTINATION_UNAVAILABLE", true, "does not resolve"],
  ["storage", "ENOTFOUND", undefined, "DESTINATION_UNAVAILABLE", true, "does not resolve"],
  ["storage", "AccessDenied", 403, "DESTINATION_AUTH_FAILED", false, "s3:PutObject"],
  ["storage", "NoSuchBucket", 404, "DESTINATION_NOT_FOUND", false, "bucket_name"],
  ["storage", "PermanentRedirect", 301, "DESTINATION_REGION_MISMATCH", false, "eu-west-1"],
  [
    "storage",
    "AuthorizationHeaderMalformed",
    400,
    "DESTINATION_REGION_MISMATCH",
    false,
    "us-west-2",
  ],
  ["storage", "BadDigest", 400, "INTEGRITY_CHECK_FAILED", true],
  ["storage", "SlowDown", 503, "DESTINATION_UNAVAILABLE", true],
  ["storage", "InternalError", 500, "DESTINATION_UNAVAILABLE", true],
  ["storage", "ExpiredToken", 400, "DESTINATION_UNAVAILABLE", true],
  ["storage", "EntityTooLarge", 400, "DESTINATION_REJECTED", false],
  ["storage", "InvalidObjectState", 403, "DESTINATION_REJECTED", false],
  ["storage", "ETIMEDOUT", undefined, "DESTINATION_UNAVAILABLE", true],
];

const gcpHints = {
  bucket: "b",
  serviceAccountEmail: "w@p.iam.gserviceaccount.com",
  audience: "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/r",
  issuerUrl: "https://relay.example.com",
  workspaceId: "ws-1",
};

const gcpRows: Row[] = [
  ["identity", "invalid_grant", 400, "DESTINATION_AUTH_FAILED", false, "https://relay.example.com"],
  ["identity", "unauthorized_client", 400, "DESTINATION_AUTH_FAILED", false, "ws-1"],
  [
    "identity",
    "invalid_target",
    400,
    "DESTINATION_AUTH_FAILED",
    false,
    "workload_identity_pool_id",
  ],
  ["identity", "invalid_request", 400, "DESTINATION_AUTH_FAILED", false],
  ["identity", "temporarily_unavailable", 503, "DESTINATION_UNAVAILABLE", true],
  ["identity", "ECONNRESET", undefined, "DESTINATION_UNAVAILABLE", true],
  ["identity", "ENOTFOUND", undefined, "DESTINATION_UNAVAILABLE", true, "does not resolve"],
  ["impersonation", "ENOTFOUND", undefined, "DESTINATION_UNAVAILABLE", true, "does not resolve"],
  ["storage", "ENOTFOUND", undefined, "DESTINATION_UNAVAILABLE", true, "does not resolve"],
  [
    "impersonation",
    "PERMISSION_DENIED",
    403,
    "DESTINATION_AUTH_FAILED",
    false,
    "workloadIdentityUser",
  ],
  ["impersonation", "UNAUTHENTICATED", 401, "DESTINATION_UNAVAILABLE", true],
  ["impersonation", "INVALID_ARGUMENT", 400, "DESTINATION_REJECTED", false],
  ["impersonation", "UNAVAILABLE", 503, "DESTINATION_UNAVAILABLE", true],
  ["storage", "forbidden", 403, "DESTINATION_AUTH_FAILED", false, "storage.objectUser"],
  ["storage", "notFound", 404, "DESTINATION_NOT_FOUND", false, "bucket_name"],
  ["storage", "session_not_found", 404, "DESTINATION_UNAVAILABLE", true],
  ["storage", "required", 401, "DESTINATION_UNAVAILABLE", true],
  ["storage", "rateLimitExceeded", 429, "DESTINATION_UNAVAILABLE", true],
  ["storage", "backendError", 503, "DESTINATION_UNAVAILABLE", true],
  ["storage", "conditionNotMet", 412, "DESTINATION_REJECTED", false],
  ["storage", "TimeoutError", undefined, "DESTINATION_UNAVAILABLE", true],
];

const azureHints = {
  tenantId: "t",
  clientId: "c",
  storageAccount: "acct",
  container: "recs",
  issuerUrl: "https://relay.example.com",
  workspaceId: "ws-1",
};

const azureRows: Row[] = [
  ["identity", "AADSTS700211", 401, "DESTINATION_AUTH_FAILED", false, "https://relay.example.com"],
  ["identity", "AADSTS700212", 401, "DESTINATION_AUTH_FAILED", false, "api://AzureADTokenExchange"],
  ["identity", "AADSTS700213", 401, "DESTINATION_AUTH_FAILED", false, "ws-1"],
  ["identity", "AADSTS7002138", 401, "DESTINATION_AUTH_FAILED", false],
  ["identity", "AADSTS70021", 400, "DESTINATION_AUTH_FAILED", false],
  ["identity", "AADSTS700016", 400, "DESTINATION_AUTH_FAILED", false, "client_id"],
  ["identity", "AADSTS90002", 400, "DESTINATION_AUTH_FAILED", false, "tenant_id"],
  ["identity", "AADSTS700024", 401, "DESTINATION_UNAVAILABLE", true],
  ["identity", "AADSTS50013", 401, "DESTINATION_AUTH_FAILED", false],
  ["identity", "AADSTS90033", 503, "DESTINATION_UNAVAILABLE", true],
  ["identity", "ECONNREFUSED", undefined, "DESTINATION_UNAVAILABLE", true],
  ["identity", "ENOTFOUND", undefined, "DESTINATION_UNAVAILABLE", true, "does not resolve"],
  [
    "storage",
    "AuthorizationPermissionMismatch",
    403,
    "DESTINATION_AUTH_FAILED",
    false,
    "Storage Blob Data Contributor",
  ],
  ["storage", "AuthorizationFailure", 403, "DESTINATION_AUTH_FAILED", false],
  ["storage", "ContainerNotFound", 404, "DESTINATION_NOT_FOUND", false, "container"],
  ["storage", "ENOTFOUND", undefined, "DESTINATION_NOT_FOUND", false, "storage_account: acct"],
  ["storage", "InvalidAuthenticationInfo", 401, "DESTINATION_UNAVAILABLE", true],
  ["storage", "Md5Mismatch", 400, "INTEGRITY_CHECK_FAILED", true],
  ["storage", "ServerBusy", 503, "DESTINATION_UNAVAILABLE", true],
  ["storage", "InternalError", 500, "DESTINATION_UNAVAILABLE", true],
  ["storage", "BlockCountExceedsLimit", 409, "DESTINATION_REJECTED", false],
  ["storage", "ECONNRESET", undefined, "DESTINATION_UNAVAILABLE", true],
];

function check(
  rows: Row[],
  classify: (failure: {
    stage: DestinationStage;
    code: string;
    message: string;
    httpStatus: number | undefined;
  }) => ReturnType<typeof classifyAwsFailure>,
) {
  for (const [stage, code, httpStatus, expected, transient, hintPart] of rows) {
    it(`${stage} ${code} (${httpStatus ?? "no answer"}) → ${expected}${transient ? ", transient" : ""}`, () => {
      const message =
        code === "ValidationError"
          ? "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
          : `cloud text of ${code}`;
      const result = classify({ stage, code, message, httpStatus });
      assert.equal(result.code, expected);
      assert.equal(result.transient, transient);
      assert.equal(result.cloudCode, code);
      assert.equal(result.cloudMessage, message);
      assert.equal(result.stage, stage);
      assert.ok(result.hint.length > 20);
      if (hintPart)
        assert.ok(result.hint.includes(hintPart), `${result.hint} mentions ${hintPart}`);
    });
  }
}

describe("AWS classifier", () => {
  check(awsRows, (failure) =>
    classifyAwsFailure(
      { ...failure, actualRegion: failure.code === "PermanentRedirect" ? "eu-west-1" : undefined },
      awsHints,
    ),
  );
  it("role chaining is the operator's fault, not the customer's", () => {
    const result = classifyAwsFailure(
      {
        stage: "identity",
        code: "ValidationError",
        message:
          "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
        httpStatus: 400,
        actualRegion: undefined,
      },
      awsHints,
    );
    assert.equal(result.code, "DESTINATION_AUTH_FAILED");
    assert.match(result.hint, /RELAY_AWS_ROLE_SESSION_SECONDS=3600/);
  });
});

/** What the AWS SDK throws for a bodiless answer (HEAD): name `Unknown`, message `UnknownError`. */
function bodilessSdkError(status: number, headers: Record<string, string>) {
  const error = Object.assign(new Error("UnknownError"), {
    name: "Unknown",
    $metadata: { httpStatusCode: status },
  });
  Object.defineProperty(error, "$response", {
    enumerable: false,
    value: { statusCode: status, headers },
  });
  return error;
}

describe("AWS classifier: a bucket in another region, whatever the operation", () => {
  for (const [status, label] of [
    [301, "HEAD through a regional endpoint (301)"],
    [400, "HEAD signed for us-east-1 (400)"],
  ] as const) {
    it(`${label} → DESTINATION_REGION_MISMATCH naming the bucket's region`, () => {
      const observed = observeAwsError(
        bodilessSdkError(status, { "x-amz-bucket-region": "eu-west-1" }),
        "storage",
      );
      const result = classifyAwsFailure(observed, awsHints);
      assert.equal(result.code, "DESTINATION_REGION_MISMATCH");
      assert.equal(result.transient, false);
      assert.notEqual(result.cloudCode, "Unknown");
      assert.doesNotMatch(result.cloudMessage, /UnknownError/);
      assert.match(result.hint, /set bucket_region to eu-west-1/);
    });
  }
  it("a refusal naming the configured region is not a mismatch", () => {
    const observed = observeAwsError(
      bodilessSdkError(403, { "x-amz-bucket-region": "us-west-2" }),
      "storage",
    );
    assert.equal(classifyAwsFailure(observed, awsHints).code, "DESTINATION_AUTH_FAILED");
  });
  it("a bodiless 400 without a region stays a rejection", () => {
    const observed = observeAwsError(bodilessSdkError(400, {}), "storage");
    assert.equal(classifyAwsFailure(observed, awsHints).code, "DESTINATION_REJECTED");
  });
});

describe("GCP classifier", () => {
  check(gcpRows, (failure) => classifyGcpFailure(failure, gcpHints));
});

describe("Azure classifier", () => {
  check(azureRows, (failure) => classifyAzureFailure(failure, azureHints));
});
