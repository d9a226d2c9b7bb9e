/** The two public documents of the issuer: OpenID discovery and the JWKS. */
import { type PublicJwk, SIGNING_ALG } from "./keys.ts";

/** The claims every token carries (docs/api.md, OIDC issuer). */
export const TOKEN_CLAIMS = ["iss", "sub", "aud", "iat", "nbf", "exp", "jti", "customer_id"];

/** `/.well-known/openid-configuration`: only what workload-identity verifiers consume. */
export interface DiscoveryDocument {
  issuer: string;
  jwks_uri: string;
  response_types_supported: ["id_token"];
  subject_types_supported: ["public"];
  id_token_signing_alg_values_supported: [typeof SIGNING_ALG];
  claims_supported: string[];
}

/** A JSON Web Key Set of public keys. */
export interface JwksDocument {
  keys: PublicJwk[];
}

/** Where the documents live: appended to the issuer, as OpenID Connect Discovery §4 says. */
export const DISCOVERY_PATH = "/.well-known/openid-configuration";
/** Path of the JWKS below the issuer. */
export const JWKS_PATH = "/.well-known/jwks.json";

/** The discovery document of `issuerUrl` (used verbatim: clouds compare it byte for byte). */
export function discoveryDocument(issuerUrl: string): DiscoveryDocument {
  return {
    issuer: issuerUrl,
    jwks_uri: `${issuerUrl}${JWKS_PATH}`,
    response_types_supported: ["id_token"],
    subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: [SIGNING_ALG],
    claims_supported: [...TOKEN_CLAIMS],
  };
}

/** A JWKS of exactly the public members, whatever else a stored JWK might hold. */
export function jwksDocument(keys: PublicJwk[]): JwksDocument {
  return {
    keys: keys.map(({ kty, n, e, kid, alg, use }) => ({ kty, n, e, kid, alg, use })),
  };
}
