/**
 * Encryption at rest of the signing keys' private halves: AES-256-GCM under the master key, with the
 * key id as additional authenticated data so a ciphertext cannot be moved to another row.
 * Layout (as `signing_keys.private_key_encrypted` documents): 12-byte nonce || ciphertext || 16-byte tag.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { AppError } from "../errors/index.ts";

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Length of the master key in bytes (AES-256). */
export const MASTER_KEY_BYTES = 32;

function aad(kid: string): Buffer {
  return Buffer.from(`recording-relay signing key ${kid}`, "utf8");
}

function checkMasterKey(masterKey: Uint8Array): void {
  if (masterKey.byteLength !== MASTER_KEY_BYTES) {
    throw new TypeError(`the master key must be ${MASTER_KEY_BYTES} bytes`);
  }
}

/** Encrypts a private key (PKCS#8 PEM) for the row of `kid`. */
export function sealPrivateKey(masterKey: Uint8Array, kid: string, pkcs8Pem: string): Buffer {
  checkMasterKey(masterKey);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", masterKey, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad(kid));
  const body = Buffer.concat([cipher.update(pkcs8Pem, "utf8"), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

/**
 * Decrypts the private key of `kid`. A wrong master key (or a tampered row) fails the GCM tag check
 * and becomes MASTER_KEY_MISMATCH, naming only the key id.
 */
export function openPrivateKey(masterKey: Uint8Array, kid: string, sealed: Uint8Array): string {
  checkMasterKey(masterKey);
  const box = Buffer.from(sealed);
  if (box.byteLength <= NONCE_BYTES + TAG_BYTES) {
    throw new AppError("MASTER_KEY_MISMATCH", `signing key ${kid} is stored truncated`);
  }
  const nonce = box.subarray(0, NONCE_BYTES);
  const tag = box.subarray(box.byteLength - TAG_BYTES);
  const body = box.subarray(NONCE_BYTES, box.byteLength - TAG_BYTES);
  try {
    const decipher = createDecipheriv("aes-256-gcm", masterKey, nonce, {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(aad(kid));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]).toString("utf8");
  } catch (error) {
    throw new AppError(
      "MASTER_KEY_MISMATCH",
      `the master key does not decrypt OIDC signing key ${kid} stored in the database: start with the master key it was created with (RELAY_MASTER_KEY, or <data dir>/master-key for the embedded database); the relay never replaces signing keys that customers' clouds trust`,
      { cause: error },
    );
  }
}
