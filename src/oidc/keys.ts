/** Signing key pairs: generated with jose, identified by their RFC 7638 thumbprint. */
import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair } from "jose";
import { sealPrivateKey } from "./sealed-keys.ts";

/** The only signing algorithm: the one every cloud accepts (Azure supports nothing else). */
export const SIGNING_ALG = "RS256";
/** RSA modulus size; docs/api.md (OIDC issuer) promises 2048 bits. */
export const RSA_MODULUS_BITS = 2048;

/** A public key as published in the JWKS; never carries private members. */
export interface PublicJwk {
  kty: "RSA";
  n: string;
  e: string;
  kid: string;
  alg: typeof SIGNING_ALG;
  use: "sig";
}

/** A freshly generated key, its private half already sealed under the master key. */
export interface NewSigningKey {
  kid: string;
  publicJwk: PublicJwk;
  sealedPrivateKey: Buffer;
}

/** Generates an RSA key pair and seals its private half; the plaintext never leaves this function. */
export async function generateSigningKey(masterKey: Uint8Array): Promise<NewSigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALG, {
    modulusLength: RSA_MODULUS_BITS,
    extractable: true,
  });
  const { n, e } = await exportJWK(publicKey);
  if (!n || !e) throw new Error("jose exported an RSA public key without n or e");
  const kid = await calculateJwkThumbprint({ kty: "RSA", n, e }, "sha256");
  const publicJwk: PublicJwk = { kty: "RSA", n, e, kid, alg: SIGNING_ALG, use: "sig" };
  return {
    kid,
    publicJwk,
    sealedPrivateKey: sealPrivateKey(masterKey, kid, await exportPKCS8(privateKey)),
  };
}
