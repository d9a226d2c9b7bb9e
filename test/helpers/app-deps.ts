/** Dependencies of a test app: an S3-capable relay with the documented defaults. */
import type { Db } from "../../src/db/index.ts";
import type { RelayTrust } from "../../src/domain/index.ts";
import type { AppDeps } from "../../src/http/app.ts";
import { createIssuer } from "../../src/oidc/index.ts";

/** The operator's AWS account in tests (an AWS documentation example id). */
export const testAwsAccountId = "111122223333";

/** The operator token of test apps. */
export const testOperatorToken = "test-operator-token-0123456789abcdef";

/** The trust of a test relay; override fields per test. */
export function testTrust(overrides: Partial<RelayTrust> = {}): RelayTrust {
  return {
    issuerUrl: "https://relay.example.com",
    awsAuthMode: "assume_role",
    awsAccountId: testAwsAccountId,
    awsExternalIdMode: "workspace",
    awsExternalId: undefined,
    awsRoleSessionSeconds: 43_200,
    ...overrides,
  };
}

/** Everything `createApp` needs for a test on `db`; override what a test is about. */
export function testAppDeps(db: Db, overrides: Partial<AppDeps> = {}): AppDeps {
  const trust = overrides.trust ?? testTrust();
  return {
    db,
    issuer: createIssuer({
      db,
      issuerUrl: trust.issuerUrl,
      masterKey: crypto.getRandomValues(new Uint8Array(32)),
    }),
    operatorToken: testOperatorToken,
    bodyLimitBytes: 65_536,
    logger: false,
    version: "test",
    trust,
    defaultKeyTemplate: "tavus/{conversation_id}/{epoch_ms}",
    allowHttpCallbacks: false,
    masterKey: crypto.getRandomValues(new Uint8Array(32)),
    webhookSecretOverlapMs: 24 * 3_600_000,
    ...overrides,
  };
}
