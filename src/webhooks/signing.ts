/**
 * Standard Webhooks signatures (`v1`, HMAC-SHA256 over `<webhook-id>.<webhook-timestamp>.<body>`)
 * with node:crypto, and the workspace secrets they use (`whsec_` + base64 of random bytes).
 */
import { createHmac, randomBytes } from "node:crypto";

const SECRET_PREFIX = "whsec_";
/** Random bytes in a new secret (the standard asks for 24 to 64). */
export const SECRET_BYTES = 32;

/** A new webhook signing secret, in the `whsec_<base64>` form receivers' libraries accept. */
export function generateWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(SECRET_BYTES).toString("base64")}`;
}

function secretKey(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) throw new TypeError("not a whsec_ secret");
  return Buffer.from(secret.slice(SECRET_PREFIX.length), "base64");
}

/** One `v1,<base64>` signature. */
export function signV1(secret: string, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac("sha256", secretKey(secret))
    .update(`${id}.${timestampSeconds}.${body}`, "utf8")
    .digest("base64");
  return `v1,${mac}`;
}

/** The three Standard Webhooks headers; one signature per secret, space-separated (rotation). */
export function signatureHeaders(
  secrets: readonly string[],
  id: string,
  timestampSeconds: number,
  body: string,
): Record<"webhook-id" | "webhook-timestamp" | "webhook-signature", string> {
  if (secrets.length === 0) throw new TypeError("at least one secret is needed to sign");
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestampSeconds),
    "webhook-signature": secrets
      .map((secret) => signV1(secret, id, timestampSeconds, body))
      .join(" "),
  };
}
