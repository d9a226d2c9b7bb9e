export {
  type AllowedNetworks,
  type AllowedPorts,
  callbackHostProblem,
  callbackPortProblem,
  noAllowedNetworks,
  parseAllowedNetworks,
  parseAllowedPorts,
  refusedAddressReason,
  urlPort,
} from "./callback-address.ts";
export {
  keyTemplateOverwrites,
  keyTemplatePermissionPrefix,
  keyTemplateProblem,
  overwriteWarning,
  renderKey,
  SEED_DEFAULT_KEY_TEMPLATE,
  verifyProbePrefix,
} from "./key-template.ts";
export { encodeKeyPath } from "./storage-uri.ts";
export type { RelayTrust } from "./trust.ts";
