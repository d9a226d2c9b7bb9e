export {
  DISCOVERY_PATH,
  type DiscoveryDocument,
  discoveryDocument,
  JWKS_PATH,
  type JwksDocument,
  jwksDocument,
} from "./documents.ts";
export {
  createIssuer,
  type Issuer,
  type IssuerOptions,
  type KeyState,
  type KeyStatus,
  keyState,
  listSigningKeys,
  type MintTokenRequest,
} from "./issuer.ts";
export { type PublicJwk, RSA_MODULUS_BITS, SIGNING_ALG } from "./keys.ts";
export {
  MAX_TOKEN_LIFETIME_SECONDS,
  PUBLISH_AHEAD_MS,
  planRotation,
  RETIRED_PUBLISHED_MS,
  type RotationOutcome,
  type RotationPlan,
} from "./rotation.ts";
export { countKeys } from "./store.ts";
