/** Staging stores: where recording bytes are kept durably between ingest and delivery. */
export {
  type AppendOptions,
  InvalidRecordingIdError,
  isRecordingId,
  isStagingError,
  type ReadRange,
  StagedBytesMissingError,
  StagingError,
  type StagingErrorCode,
  type StagingErrorOptions,
  StagingLimitError,
  type StagingStore,
} from "./contract.ts";
export { createLocalStagingStore, type LocalStagingOptions } from "./local.ts";
export { createS3StagingStore, type S3StagingOptions } from "./s3.ts";
