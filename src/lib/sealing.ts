/**
 * Encryption at rest of the relay's own secrets under the master key (the OIDC signing keys'
 * private halves, src/oidc/sealed-keys.ts; the workspaces' webhook signing secrets). AES-256-GCM with the owning row's
 * identity as additional authenticated data, so a ciphertext cannot be moved to another row.
 * Layout (as `signing_keys.private_key_encrypted` documents): 12-byte nonce || ciphertext || 16-byte tag.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/** Bytes of the GCM nonce that starts a sealed box. */
export const NONCE_BYTES = 12;
/** Bytes of the GCM tag that ends a sealed box. */
export const TAG_BYTES = 16;
/** Length of the master key in bytes (AES-256). */
export const MASTER_KEY_BYTES = 32;

function checkMasterKey(masterKey: Uint8Array): void {
  if (masterKey.byteLength !== MASTER_KEY_BYTES) {
    throw new TypeError(`the master key must be ${MASTER_KEY_BYTES} bytes`);
  }
}

/** Encrypts `plaintext` bound to `context` (a string naming the row it belongs to). */
export function sealSecret(masterKey: Uint8Array, context: string, plaintext: string): Buffer {
  checkMasterKey(masterKey);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", masterKey, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(context, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

/**
 * Decrypts what {@link sealSecret} sealed for `context`; `undefined` when the master key (or the
 * context) is wrong or the box was tampered with, so each caller words its own error.
 */
export function openSecret(
  masterKey: Uint8Array,
  context: string,
  sealed: Uint8Array,
): string | undefined {
  checkMasterKey(masterKey);
  const box = Buffer.from(sealed);
  if (box.byteLength <= NONCE_BYTES + TAG_BYTES) return undefined;
  const nonce = box.subarray(0, NONCE_BYTES);
  const tag = box.subarray(box.byteLength - TAG_BYTES);
  const body = box.subarray(NONCE_BYTES, box.byteLength - TAG_BYTES);
  try {
    const decipher = createDecipheriv("aes-256-gcm", masterKey, nonce, {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(Buffer.from(context, "utf8"));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]).toString("utf8");
  } catch {
    return undefined;
  }
}
