/** Destination settings for test apps: an S3-capable relay with the documented defaults. */
import type { RelayTrust } from "../../src/domain/index.ts";

/** The operator's AWS account in tests (an AWS documentation example id). */
export const testAwsAccountId = "111122223333";

/** The trust of a test relay; override fields per test. */
export function testTrust(overrides: Partial<RelayTrust> = {}): RelayTrust {
  return {
    issuerUrl: "https://relay.example.com",
    awsAccountId: testAwsAccountId,
    awsExternalIdMode: "workspace",
    awsExternalId: undefined,
    awsRoleSessionSeconds: 43_200,
    ...overrides,
  };
}

/** The destination part of `AppDeps`. */
export const testDestinationDeps = {
  trust: testTrust(),
  defaultKeyTemplate: "tavus/{conversation_id}/{epoch_ms}",
  allowHttpCallbacks: false,
};
