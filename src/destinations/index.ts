export { s3CreationCheck } from "./check.ts";
export {
  type Destination,
  DestinationError,
  type DestinationErrorCode,
  type DestinationFailure,
  type DestinationStage,
  destinationErrorCodes,
  type IdentityCheck,
  isDestinationError,
  type ObjectChecksums,
  type ObjectStat,
  type OpenUploadOptions,
  type Upload,
  type UploadHandle,
  type UploadResult,
  uploadStream,
} from "./contract.ts";
export { CredentialCache, credentialKey } from "./credential-cache.ts";
export {
  type CreateDestination,
  type DestinationContext,
  type DestinationFactoryDeps,
  destinationFactory,
  type IdentityExchangeObserver,
  type MintToken,
} from "./factory.ts";
export { type DestinationSettings, defaultDestinationSettings } from "./settings.ts";
export { checksumsAgree, type StagedChecksums, stagedChecksums } from "./staged-checksums.ts";
export { type VerifyReport, type VerifyStep, verifyDestination, verifySteps } from "./verify.ts";
