export {
  type Destination,
  DestinationError,
  type DestinationErrorCode,
  isDestinationError,
  type Upload,
  type UploadHandle,
  uploadStream,
} from "./contract.ts";
export { CredentialCache } from "./credential-cache.ts";
export { checksumsAgree, stagedChecksums } from "./staged-checksums.ts";
export { verifyDestination } from "./verify.ts";
