export {
  type AllowedNetworks,
  callbackHostProblem,
  isInternalHostName,
  noAllowedNetworks,
  parseAllowedNetworks,
  refusedAddressReason,
  unbracket,
} from "./callback-address.ts";
export {
  type ConversationProperties,
  callbackUrlProblem,
  legacyS3Fields,
  type ParsedProperties,
  type PropertiesValidationOptions,
  parseConversationProperties,
  parseCreateConversation,
} from "./conversation-properties.ts";
export {
  type KeyValues,
  keyTemplateOverwrites,
  keyTemplatePermissionPrefix,
  keyTemplateProblem,
  keyTemplateStaticPrefix,
  MAX_KEY_LENGTH,
  MAX_KEY_TEMPLATE_LENGTH,
  overwriteWarning,
  renderKey,
  SEED_DEFAULT_KEY_TEMPLATE,
  verifyProbePrefix,
} from "./key-template.ts";
export {
  type AzureBlobStorage,
  describeDestination,
  type GcsStorage,
  type RecordingStorage,
  type S3Storage,
  type StorageProvider,
  type StorageValidationOptions,
  storageProviders,
  type Validated,
  type ValidationIssue,
  type ValidationWarning,
  validateRecordingStorage,
  withKeyTemplate,
} from "./recording-storage.ts";
export { findSecret, SECRET_REFUSED, type SecretFinding, secretMessage } from "./secrets.ts";
export { encodeKeyPath, storageUri } from "./storage-uri.ts";
export type { RelayTrust } from "./trust.ts";
