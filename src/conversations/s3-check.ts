/**
 * The creation-time check of S3 destinations (docs/api.md, recording_storage): AssumeRole with
 * the configured duration and ExternalId before the conversation is stored. GCS and Azure are not
 * checked then; their failures surface at delivery.
 */

import { DestinationError } from "../destinations/contract.ts";
import { AppError } from "../errors/index.ts";
import type { CreateDestination } from "../providers/factory.ts";
import type { DestinationCheck } from "./destination-check.ts";

/** Builds the `checkDestination` of the HTTP app from a destination factory. */
export function s3CreationCheck(createDestination: CreateDestination): DestinationCheck {
  return async (destination, { workspaceId, signal }) => {
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
      throw new AppError(
        "VALIDATION_FAILED",
        `properties.recording_storage: unable to assume role with given parameters: ${error.cloudCode}: ${error.cloudMessage}. Hint: ${error.hint}`,
        { field: "properties.recording_storage", details, cause: error },
      );
    }
  };
}
