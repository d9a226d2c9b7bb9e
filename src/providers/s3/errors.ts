/**
 * AWS failures (STS and S3) → one docs/errors.md code each. The table matches on AWS's error codes (its
 * texts are not a contract); the text is kept for the customer. AWS answers the same AccessDenied
 * whether the role is missing, the principal untrusted or the ExternalId wrong, so the hint names
 * all three.
 */
import {
  type DestinationFailure,
  type DestinationStage,
  type ObservedFailure,
  verdictOf,
} from "../../destinations/contract.ts";
import { messageOf, networkErrorCode, networkFailureHint } from "../../destinations/network.ts";

/** What an AWS failure looked like on the wire: AWS's error code (`AccessDenied`) or a network code. */
export interface AwsObservedFailure extends ObservedFailure {
  /** The bucket's real region when AWS said (`x-amz-bucket-region`, `<Region>`). */
  actualRegion: string | undefined;
}

/** Facts of the destination that make hints concrete. */
export interface AwsHintContext {
  bucketRegion: string;
  roleArn: string;
  externalId: string | undefined;
  durationSeconds: number;
  trustedAccountId: string | undefined;
}

const transientCodes = new Set([
  "InternalError",
  "InternalFailure",
  "ServiceUnavailable",
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "RequestThrottled",
  "RequestTimeout",
  "RequestTimeTooSkewed",
  "ExpiredToken",
  "IDPCommunicationError",
  "NoSuchUpload",
]);

const integrityCodes = new Set(["BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch"]);

/** Classifies one AWS failure. */
export function classifyAwsFailure(
  failure: AwsObservedFailure,
  context: AwsHintContext,
): DestinationFailure {
  const result = verdictOf(failure);
  if (isMissingOperatorCredentials(failure)) {
    // The relay has nothing to sign AssumeRole with: the operator's setup, not the customer's
    // trust. Retried like an outage, so deliveries go through once the operator fixes it.
    return result(
      "NOT_CONFIGURED",
      true,
      "the relay has no AWS credentials of its own to call sts:AssumeRole: the operator must give them to the AWS SDK's default chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, an instance or task role) or set RELAY_AWS_AUTH_MODE=web_identity, which needs none. This is not a problem with the customer's role or trust policy",
    );
  }
  if (isNetworkCode(failure.code)) {
    const service = failure.stage === "identity" ? "AWS STS" : "Amazon S3";
    return result("DESTINATION_UNAVAILABLE", true, networkFailureHint(failure.code, service));
  }
  if (failure.stage === "identity") return classifySts(failure, context, result);
  if (isRegionMismatch(failure, context)) {
    return result(
      "DESTINATION_REGION_MISMATCH",
      false,
      failure.actualRegion && failure.actualRegion !== context.bucketRegion
        ? `the bucket is in ${failure.actualRegion}, not ${context.bucketRegion}: set bucket_region to ${failure.actualRegion}`
        : `the bucket is not in ${context.bucketRegion}: set bucket_region to the bucket's region`,
    );
  }
  switch (failure.code) {
    case "AccessDenied":
    case "Forbidden":
    case "AllAccessDisabled":
    case "InvalidAccessKeyId":
    case "InvalidToken":
      return result(
        "DESTINATION_AUTH_FAILED",
        false,
        `grant the role ${context.roleArn} s3:PutObject and s3:AbortMultipartUpload on the bucket, with a resource covering the whole key prefix (a permission scoped to a narrower prefix than the key template's refuses the key)`,
      );
    case "NoSuchBucket":
      return result(
        "DESTINATION_NOT_FOUND",
        false,
        "check bucket_name: the bucket does not exist (or was deleted)",
      );
  }
  if (integrityCodes.has(failure.code)) {
    return result(
      "INTEGRITY_CHECK_FAILED",
      true,
      "the bytes S3 received differ from those sent; the relay uploads them again",
    );
  }
  if (transientCodes.has(failure.code) || (failure.httpStatus ?? 0) >= 500) {
    return result(
      "DESTINATION_UNAVAILABLE",
      true,
      "AWS is throttling or failing transiently; the relay retries",
    );
  }
  return result(
    "DESTINATION_REJECTED",
    false,
    "S3 refused the object (object lock, KMS key policy, size or quota); check the bucket's settings",
  );
}

function classifySts(
  failure: AwsObservedFailure,
  context: AwsHintContext,
  result: ReturnType<typeof verdictOf>,
): DestinationFailure {
  const trusted = context.trustedAccountId
    ? `arn:aws:iam::${context.trustedAccountId}:root`
    : "the relay's AWS account";
  switch (failure.code) {
    case "AccessDenied":
      return result(
        "DESTINATION_AUTH_FAILED",
        false,
        `check that the role ${context.roleArn} exists and its trust policy allows sts:AssumeRole to ${trusted}${context.externalId ? ` with the condition sts:ExternalId = "${context.externalId}"` : ""} (AWS gives the same answer for all three mistakes)`,
      );
    case "ValidationError":
      if (/MaxSessionDuration/i.test(failure.message)) {
        return result(
          "DESTINATION_AUTH_FAILED",
          false,
          `raise the role's maximum session duration to ${context.durationSeconds} seconds (${context.durationSeconds / 3600} h), or have the operator lower RELAY_AWS_ROLE_SESSION_SECONDS`,
        );
      }
      if (/role chaining/i.test(failure.message)) {
        return result(
          "DESTINATION_AUTH_FAILED",
          false,
          "the relay's own AWS credentials are a role session (role chaining caps sessions at 1 h): the operator must set RELAY_AWS_ROLE_SESSION_SECONDS=3600 or use IAM user / instance-profile credentials",
        );
      }
      return result(
        "DESTINATION_REJECTED",
        false,
        "check assume_role_arn and the operator's ExternalId settings",
      );
    case "InvalidIdentityToken":
    case "IDPRejectedClaim":
      return result(
        "DESTINATION_AUTH_FAILED",
        false,
        "check the IAM OIDC provider (URL = the relay's issuer, audience sts.amazonaws.com) and the role's trust policy conditions on :aud and :sub (the Workspace ID)",
      );
    case "ExpiredTokenException":
      return result(
        "DESTINATION_UNAVAILABLE",
        true,
        "the relay's token expired on the way; it mints a new one and retries",
      );
    case "InvalidClientTokenId":
    case "SignatureDoesNotMatch":
    case "UnrecognizedClientException":
    case "IncompleteSignature":
    case "MissingAuthenticationToken":
      return result(
        "DESTINATION_AUTH_FAILED",
        false,
        "the relay's own AWS credentials are not valid: the operator must fix them (this is not the customer's configuration)",
      );
    case "RegionDisabledException":
      return result(
        "DESTINATION_AUTH_FAILED",
        false,
        "STS is disabled in this region for the customer's account: activate it in IAM account settings",
      );
  }
  if (transientCodes.has(failure.code) || (failure.httpStatus ?? 0) >= 500) {
    return result(
      "DESTINATION_UNAVAILABLE",
      true,
      "AWS STS is throttling or failing transiently; the relay retries",
    );
  }
  return result(
    "DESTINATION_AUTH_FAILED",
    false,
    `AssumeRole of ${context.roleArn} failed: check the role's trust policy`,
  );
}

const regionCodes = new Set([
  "PermanentRedirect",
  "AuthorizationHeaderMalformed",
  "IllegalLocationConstraintException",
  "MovedPermanently",
]);

/**
 * Whether S3 refused the request because it reached (or was signed for) another region than the
 * bucket's. S3 says so differently per operation: an error body with `PermanentRedirect` or
 * `AuthorizationHeaderMalformed` (PUT, POST), or a bodiless 301/400 (HEAD) whose only clue is the
 * `x-amz-bucket-region` header; a region named by S3 that differs from `bucket_region` settles it.
 */
function isRegionMismatch(failure: AwsObservedFailure, context: AwsHintContext): boolean {
  if (regionCodes.has(failure.code)) return true;
  if (failure.httpStatus === 301 || failure.httpStatus === 307) return true;
  return failure.actualRegion !== undefined && failure.actualRegion !== context.bucketRegion;
}

function isNetworkCode(code: string): boolean {
  return networkErrorCode({ code }) !== undefined || code === "TimeoutError";
}

/** Extracts what matters from an error thrown by the AWS SDK (or by Node under it). */
export function observeAwsError(error: unknown, stage: DestinationStage): AwsObservedFailure {
  const network = networkErrorCode(error);
  const record = (error ?? {}) as {
    name?: string;
    Code?: string;
    message?: string;
    Region?: string;
    $metadata?: { httpStatusCode?: number };
    $response?: { statusCode?: number; headers?: Record<string, string | undefined> };
  };
  const httpStatus = record.$metadata?.httpStatusCode ?? record.$response?.statusCode;
  const headerRegion = record.$response?.headers?.["x-amz-bucket-region"];
  let code = record.Code ?? record.name ?? "UnknownError";
  // HEAD answers have no body: the SDK names the error after the status (`Unknown`, `NotFound`,
  // `301`…) with the message `UnknownError`, so the status and headers are all there is.
  const bodiless =
    code === "Unknown" || code === "UnknownError" || code === "Error" || /^\d+$/.test(code);
  if (bodiless) {
    if (httpStatus === 301 || httpStatus === 307) code = "PermanentRedirect";
    else if (httpStatus === 400 && headerRegion !== undefined)
      code = "AuthorizationHeaderMalformed";
    else if (httpStatus === 403) code = "AccessDenied";
    else if (httpStatus === 404) code = "NotFound";
    else if (httpStatus !== undefined) code = `HTTP ${httpStatus}`;
  }
  const region = record.Region ?? headerRegion ?? regionFromMessage(record.message);
  if (network && httpStatus === undefined) {
    return { stage, code: network, message: messageOf(error), httpStatus, actualRegion: undefined };
  }
  const message =
    bodiless && (!record.message || record.message === "UnknownError")
      ? bodilessMessage(code, httpStatus, region)
      : record.message || code;
  return {
    stage,
    code,
    message,
    httpStatus,
    actualRegion: region,
  };
}

/** The words S3 did not send with a bodiless answer (HEAD), from its status and headers. */
function bodilessMessage(
  code: string,
  httpStatus: number | undefined,
  region: string | undefined,
): string {
  const status = httpStatus === undefined ? "no status" : `HTTP ${httpStatus}`;
  return region
    ? `${status} without a body; the bucket is in ${region}`
    : `${status} without a body (${code})`;
}

function regionFromMessage(message: string | undefined): string | undefined {
  return message ? /expecting '([a-z0-9-]+)'/.exec(message)?.[1] : undefined;
}

/**
 * The SDK's default chain found no credentials (`CredentialsProviderError`, "Could not load
 * credentials from any providers"): nothing reached STS.
 */
export function isMissingOperatorCredentials(
  failure: Pick<AwsObservedFailure, "code" | "message">,
) {
  return (
    failure.code === "CredentialsProviderError" ||
    /could not load credentials from any providers/i.test(failure.message)
  );
}
