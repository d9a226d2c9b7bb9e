/**
 * Azure failures (Entra ID token requests, Blob Storage) → one docs/errors.md code each, matched on the
 * AADSTS number or the `x-ms-error-code`, with Azure's own text kept.
 */
import {
  type DestinationFailure,
  type DestinationStage,
  type ObservedFailure,
  verdictOf,
} from "../../destinations/contract.ts";
import { messageOf, networkErrorCode, networkFailureHint } from "../../destinations/network.ts";

/**
 * What an Azure failure looked like on the wire; `code` is `AADSTS700213`, an OAuth error, a Blob
 * error code (`ContainerNotFound`), or a network code.
 */
export type AzureObservedFailure = ObservedFailure;

/** Facts of the destination that make hints concrete. */
export interface AzureHintContext {
  tenantId: string;
  clientId: string;
  storageAccount: string;
  container: string;
  issuerUrl: string;
  workspaceId: string;
}

/** Classifies one Azure failure. */
export function classifyAzureFailure(
  failure: AzureObservedFailure,
  context: AzureHintContext,
): DestinationFailure {
  const result = verdictOf(failure);
  const fic = `the App Registration ${context.clientId}'s federated credential must have issuer "${context.issuerUrl}", subject "${context.workspaceId}" (your Workspace ID, case-sensitive) and audience "api://AzureADTokenExchange"`;
  if (
    failure.httpStatus === undefined &&
    /^(E[A-Z]+|UND_ERR_\w+|TimeoutError)$/.test(failure.code)
  ) {
    if (failure.code === "ENOTFOUND" && failure.stage === "storage") {
      return result(
        "DESTINATION_NOT_FOUND",
        false,
        `check storage_account: ${context.storageAccount} does not exist (its blob endpoint's name does not resolve)`,
      );
    }
    return result(
      "DESTINATION_UNAVAILABLE",
      true,
      networkFailureHint(failure.code, failure.stage === "identity" ? "Entra ID" : "Blob Storage"),
    );
  }
  if (failure.stage === "identity") {
    switch (failure.code) {
      case "AADSTS700211":
        return result(
          "DESTINATION_AUTH_FAILED",
          false,
          `no federated credential trusts the relay's issuer: ${fic}`,
        );
      case "AADSTS700212":
        return result(
          "DESTINATION_AUTH_FAILED",
          false,
          `the federated credential's audience does not match: ${fic}`,
        );
      case "AADSTS700213":
      case "AADSTS7002137":
      case "AADSTS7002138":
        return result(
          "DESTINATION_AUTH_FAILED",
          false,
          `the federated credential's subject does not match: ${fic}`,
        );
      case "AADSTS70021":
        return result(
          "DESTINATION_AUTH_FAILED",
          false,
          `no matching federated credential (a new one takes a few minutes to apply; the relay retries): ${fic}`,
        );
      case "AADSTS700016":
        return result(
          "DESTINATION_AUTH_FAILED",
          false,
          `check client_id and tenant_id: application ${context.clientId} is not in tenant ${context.tenantId}`,
        );
      case "AADSTS90002":
      case "AADSTS900023":
        return result(
          "DESTINATION_AUTH_FAILED",
          false,
          `check tenant_id: tenant ${context.tenantId} does not exist`,
        );
      case "AADSTS700024":
        return result(
          "DESTINATION_UNAVAILABLE",
          true,
          "the relay's token was outside its validity window; it mints a new one and retries",
        );
      case "AADSTS50013":
      case "AADSTS50166":
      case "AADSTS5002738":
        return result(
          "DESTINATION_AUTH_FAILED",
          false,
          `Entra could not verify the relay's token with the issuer's published keys: ${fic}`,
        );
      case "AADSTS90033":
      case "temporarily_unavailable":
        return result(
          "DESTINATION_UNAVAILABLE",
          true,
          "Entra ID is temporarily unavailable; the relay retries",
        );
    }
    if ((failure.httpStatus ?? 0) >= 500 || failure.httpStatus === 429) {
      return result(
        "DESTINATION_UNAVAILABLE",
        true,
        "Entra ID is failing transiently; the relay retries",
      );
    }
    return result("DESTINATION_AUTH_FAILED", false, `the Entra token request failed: ${fic}`);
  }
  switch (failure.code) {
    case "AuthorizationPermissionMismatch":
    case "AuthorizationFailure":
    case "KeyBasedAuthenticationNotPermitted":
      return result(
        "DESTINATION_AUTH_FAILED",
        false,
        `assign "Storage Blob Data Contributor" on ${context.storageAccount}/${context.container} to the App Registration ${context.clientId}'s service principal, with any condition covering the key template's prefix (network rules must admit the relay); check that the container ${context.container} exists`,
      );
    case "ContainerNotFound":
      return result(
        "DESTINATION_NOT_FOUND",
        false,
        `check container: ${context.container} does not exist in ${context.storageAccount}`,
      );
    case "InvalidAuthenticationInfo":
    case "AuthenticationFailed":
    case "NoAuthenticationInformation":
      return result(
        "DESTINATION_UNAVAILABLE",
        true,
        "Blob Storage refused the access token (expired or revoked); the relay gets a new one and retries",
      );
    case "Md5Mismatch":
    case "InvalidMd5":
      return result(
        "INTEGRITY_CHECK_FAILED",
        true,
        "the bytes Azure received differ from those sent; the relay uploads them again",
      );
  }
  if (
    (failure.httpStatus ?? 0) >= 500 ||
    failure.httpStatus === 429 ||
    failure.httpStatus === 408
  ) {
    return result(
      "DESTINATION_UNAVAILABLE",
      true,
      "Azure Storage is busy or failing transiently; the relay retries",
    );
  }
  return result(
    "DESTINATION_REJECTED",
    false,
    "Blob Storage refused the blob (immutability policy, legal hold, size or block limits); check the container's settings",
  );
}

/** Azure's own texts of the codes a bodiless (HEAD) answer names only in `x-ms-error-code`. */
const blobCodeTexts: Record<string, string> = {
  ContainerNotFound: "The specified container does not exist.",
  BlobNotFound: "The specified blob does not exist.",
  AuthorizationPermissionMismatch:
    "This request is not authorized to perform this operation using this permission.",
  AuthorizationFailure: "This request is not authorized to perform this operation.",
};

/** What an @azure/identity or @azure/storage-blob error says. */
export function observeAzureError(error: unknown, stage: DestinationStage): AzureObservedFailure {
  const record = (error ?? {}) as {
    name?: string;
    code?: string;
    statusCode?: number;
    details?: { errorCode?: string; message?: string };
    errorResponse?: { error?: string; errorDescription?: string; errorCodes?: number[] };
  };
  const message = messageOf(error);
  if (
    stage === "identity" ||
    record.name === "AuthenticationError" ||
    record.name === "CredentialUnavailableError" ||
    // The storage pipeline rethrows a token failure as its own error (name RestError, code
    // UnknownError) with Entra's text: only Entra says AADSTS.
    /\bAADSTS\d+/.test(message)
  ) {
    const aadsts = /AADSTS(\d+)/.exec(record.errorResponse?.errorDescription ?? message);
    const network = networkErrorCode(error);
    const description = (record.errorResponse?.errorDescription ?? message).split(
      /\s+Trace ID:/,
    )[0]!;
    if (!aadsts && network && !record.errorResponse?.error) {
      return { stage: "identity", code: network, message, httpStatus: undefined };
    }
    return {
      stage: "identity",
      code: aadsts
        ? `AADSTS${aadsts[1]}`
        : (record.errorResponse?.error ?? record.name ?? "UnknownError"),
      message: description.trim(),
      httpStatus: record.statusCode,
    };
  }
  const network = networkErrorCode(error);
  if (network && !record.statusCode)
    return { stage, code: network, message, httpStatus: undefined };
  const code =
    record.details?.errorCode ??
    (typeof record.code === "string" ? record.code : undefined) ??
    String(record.statusCode ?? "UnknownError");
  const text = message.split("\nRequestId:")[0]!.trim();
  return {
    stage,
    code,
    // A HEAD answer has no body: Azure's code is in x-ms-error-code and there is no text at all.
    message:
      text ||
      (blobCodeTexts[code] ??
        `HTTP ${record.statusCode ?? "error"} without a body (x-ms-error-code ${code})`),
    httpStatus: record.statusCode,
  };
}
