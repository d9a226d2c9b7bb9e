/** Staging stores: where recording bytes are kept durably between ingest and delivery. */
export {
  InvalidRecordingIdError,
  isStagingError,
  StagedBytesMissingError,
  StagingError,
  StagingLimitError,
  type StagingStore,
} from "./contract.ts";
export { createLocalStagingStore } from "./local.ts";
