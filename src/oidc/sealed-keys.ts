/** The OIDC signing keys' private halves, sealed under the master key for their row. */
import { AppError } from "../errors/index.ts";
import {
  MASTER_KEY_BYTES,
  NONCE_BYTES,
  openSecret,
  sealSecret,
  TAG_BYTES,
} from "../lib/sealing.ts";

function aad(kid: string): string {
  return `recording-relay signing key ${kid}`;
}

/** Encrypts a private key (PKCS#8 PEM) for the row of `kid`. */
export function sealPrivateKey(masterKey: Uint8Array, kid: string, pkcs8Pem: string): Buffer {
  return sealSecret(masterKey, aad(kid), pkcs8Pem);
}

/**
 * Decrypts the private key of `kid`. A wrong master key (or a tampered row) fails the GCM tag check
 * and becomes MASTER_KEY_MISMATCH, naming only the key id.
 */
export function openPrivateKey(masterKey: Uint8Array, kid: string, sealed: Uint8Array): string {
  if (Buffer.from(sealed).byteLength <= NONCE_BYTES + TAG_BYTES) {
    if (masterKey.byteLength !== MASTER_KEY_BYTES) {
      throw new TypeError(`the master key must be ${MASTER_KEY_BYTES} bytes`);
    }
    throw new AppError("MASTER_KEY_MISMATCH", `signing key ${kid} is stored truncated`);
  }
  const pem = openSecret(masterKey, aad(kid), sealed);
  if (pem === undefined) {
    throw new AppError(
      "MASTER_KEY_MISMATCH",
      `the master key does not decrypt OIDC signing key ${kid} stored in the database: start with the master key it was created with (RELAY_MASTER_KEY, or <data dir>/master-key for the embedded database); the relay never replaces signing keys that customers' clouds trust`,
    );
  }
  return pem;
}
