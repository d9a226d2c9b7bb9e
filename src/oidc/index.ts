export {
  DISCOVERY_PATH,
  JWKS_PATH,
  type JwksDocument,
} from "./documents.ts";
export {
  createIssuer,
  type Issuer,
  type KeyStatus,
  listSigningKeys,
} from "./issuer.ts";
export {
  PUBLISH_AHEAD_MS,
  planRotation,
  RETIRED_PUBLISHED_MS,
  type RotationOutcome,
} from "./rotation.ts";
export { countKeys } from "./store.ts";
