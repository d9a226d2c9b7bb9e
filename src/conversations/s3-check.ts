/**
 * The save-time check of S3 destinations (docs/api.md, Conversations and Workspace default):
 * AssumeRole with the configured duration and ExternalId before a conversation or a workspace
 * default is stored, and again when a conversation captures the saved default. GCS and Azure are
 * not checked then; their failures surface at delivery.
 */

import { DestinationError } from "../destinations/contract.ts";
import { AppError } from "../errors/index.ts";
import type { CreateDestination } from "../providers/factory.ts";
import type { CheckedDestination, DestinationCheck } from "./destination-check.ts";

/** The field a refusal names and how its message starts, per destination checked. */
function refusalOf(
  checking: CheckedDestination,
  reason: string,
): { field?: string; message: string } {
  switch (checking) {
    case "conversation":
      return {
        field: "properties.recording_storage",
        message: `properties.recording_storage: ${reason}`,
      };
    case "new_default":
      return { message: `${reason}; the default was not saved` };
    case "workspace_default":
      return {
        field: "recording_storage (workspace default)",
        message: `recording_storage (workspace default): the workspace's saved default destination no longer works: ${reason}. Fix the role's trust or session duration (POST /v2/recording-storage/verify checks it), save a working default with PUT /v2/recording-storage, or send recording_storage with the conversation`,
      };
  }
}

/** Builds the `checkDestination` of the HTTP app from a destination factory. */
export function s3CreationCheck(createDestination: CreateDestination): DestinationCheck {
  return async (destination, { workspaceId, signal, checking = "conversation" }) => {
    if (destination.provider !== "s3") return;
    try {
      await createDestination(destination, { workspaceId }).checkIdentity(signal);
    } catch (error) {
      if (!(error instanceof DestinationError)) throw error;
      const details = {
        error_code: error.code,
        cloud_code: error.cloudCode,
        cloud_message: error.cloudMessage,
        hint: error.hint,
      };
      if (error.code === "NOT_CONFIGURED") {
        throw new AppError(
          "NOT_CONFIGURED",
          `could not check the S3 role: the relay is missing configuration of its own (${error.cloudCode}: ${error.cloudMessage}). Hint: ${error.hint}`,
          { details, cause: error },
        );
      }
      if (error.transient) {
        throw new AppError(
          "NOT_READY",
          `could not check the S3 role now: AWS STS did not answer (${error.cloudCode}: ${error.cloudMessage}); try again`,
          { details, cause: error },
        );
      }
      const refusal = refusalOf(
        checking,
        `unable to assume role with given parameters: ${error.cloudCode}: ${error.cloudMessage}. Hint: ${error.hint}`,
      );
      throw new AppError("VALIDATION_FAILED", refusal.message, {
        ...(refusal.field ? { field: refusal.field } : {}),
        details,
        cause: error,
      });
    }
  };
}
