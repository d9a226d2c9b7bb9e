/**
 * GCP failures (STS token exchange, IAM Credentials impersonation, Cloud Storage) → one docs/errors.md
 * code each, matched on Google's error codes (`invalid_grant`, `PERMISSION_DENIED`, HTTP status),
 * never on its texts, which are kept for the customer.
 */
import {
  type DestinationFailure,
  type ObservedFailure,
  verdictOf,
} from "../../destinations/contract.ts";
import { networkFailureHint } from "../../destinations/network.ts";

/**
 * What a GCP failure looked like on the wire; `code` is the OAuth `error`, Google's `status`
 * (`PERMISSION_DENIED`), the GCS `reason`, or a network code.
 */
export type GcpObservedFailure = ObservedFailure;

/** Facts of the destination that make hints concrete. */
export interface GcpHintContext {
  bucket: string;
  serviceAccountEmail: string;
  audience: string;
  issuerUrl: string;
  workspaceId: string;
}

/** Classifies one GCP failure. */
export function classifyGcpFailure(
  failure: GcpObservedFailure,
  context: GcpHintContext,
): DestinationFailure {
  const result = verdictOf(failure);
  if (
    failure.httpStatus === undefined &&
    /^(E[A-Z]+|UND_ERR_\w+|TimeoutError)$/.test(failure.code)
  ) {
    const service =
      failure.stage === "identity"
        ? "Google's STS"
        : failure.stage === "impersonation"
          ? "Google's IAM Credentials"
          : "Cloud Storage";
    return result("DESTINATION_UNAVAILABLE", true, networkFailureHint(failure.code, service));
  }
  const status = failure.httpStatus ?? 0;
  if (
    status === 429 ||
    status === 408 ||
    status >= 500 ||
    failure.code === "temporarily_unavailable"
  ) {
    return result(
      "DESTINATION_UNAVAILABLE",
      true,
      "Google is throttling or failing transiently; the relay retries",
    );
  }
  switch (failure.stage) {
    case "identity":
      switch (failure.code) {
        case "invalid_grant":
          return result(
            "DESTINATION_AUTH_FAILED",
            false,
            `check the pool provider: issuer URI must be exactly ${context.issuerUrl}, and the allowed audience the provider's resource name ${context.audience} (or leave allowed audiences empty)`,
          );
        case "unauthorized_client":
          return result(
            "DESTINATION_AUTH_FAILED",
            false,
            `the provider's attribute condition rejected the relay's token: it must accept customer_id / sub "${context.workspaceId}" (your Workspace ID)`,
          );
        case "invalid_target":
        case "invalid_request":
          return result(
            "DESTINATION_AUTH_FAILED",
            false,
            "check project_number, workload_identity_pool_id and workload_identity_provider_id: the pool or provider does not exist or is disabled",
          );
      }
      return result(
        "DESTINATION_AUTH_FAILED",
        false,
        "the Workload Identity Federation token exchange failed: check the pool provider's issuer, audience and attribute condition",
      );
    case "impersonation":
      if (status === 401) {
        return result(
          "DESTINATION_UNAVAILABLE",
          true,
          "the federated token expired on the way; the relay exchanges a new one",
        );
      }
      if (status === 400) {
        return result(
          "DESTINATION_REJECTED",
          false,
          "IAM refused the impersonation request (lifetime or scope); check org policy constraints on token lifetime",
        );
      }
      return result(
        "DESTINATION_AUTH_FAILED",
        false,
        `grant roles/iam.workloadIdentityUser on ${context.serviceAccountEmail} to principalSet://iam.googleapis.com/${context.audience.replace(/^\/\/iam\.googleapis\.com\//, "").replace(/\/providers\/[^/]+$/, "")}/attribute.customer_id/${context.workspaceId} (and check service_account_email exists)`,
      );
    case "storage":
      if (status === 401) {
        return result(
          "DESTINATION_UNAVAILABLE",
          true,
          "the access token expired or was refused; the relay gets a new one and retries",
        );
      }
      if (status === 403) {
        return result(
          "DESTINATION_AUTH_FAILED",
          false,
          `grant ${context.serviceAccountEmail} roles/storage.objectUser (storage.objects.create, and .delete for overwrites) on gs://${context.bucket}, with any IAM condition covering the key template's prefix`,
        );
      }
      if (status === 404 && failure.code === "session_not_found") {
        return result(
          "DESTINATION_UNAVAILABLE",
          true,
          "the resumable upload session expired or was cancelled; the relay starts a new upload",
        );
      }
      if (status === 404) {
        return result(
          "DESTINATION_NOT_FOUND",
          false,
          `check bucket_name: gs://${context.bucket} does not exist`,
        );
      }
      return result(
        "DESTINATION_REJECTED",
        false,
        "Cloud Storage refused the object (retention policy, KMS, quota or size); check the bucket's settings",
      );
  }
}
