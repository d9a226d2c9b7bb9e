/** Token minting: one fresh RS256 JWT per call, for one workspace and one audience. */
import { importPKCS8, SignJWT } from "jose";
import { SIGNING_ALG } from "./keys.ts";
import { MAX_TOKEN_LIFETIME_SECONDS } from "./rotation.ts";

/** What goes into one token. */
export interface TokenClaimsInput {
  issuerUrl: string;
  workspaceId: string;
  audience: string;
  /** Epoch milliseconds of issuance. */
  now: number;
  lifetimeSeconds: number;
}

// GCP maps `sub` to google.subject, which is limited to 127 bytes.
const MAX_SUBJECT_BYTES = 127;

/** Checks the inputs that would make a token every cloud refuses; a failure is a bug of the caller. */
export function checkTokenInput({
  workspaceId,
  audience,
  lifetimeSeconds,
}: TokenClaimsInput): void {
  if (workspaceId === "" || Buffer.byteLength(workspaceId) > MAX_SUBJECT_BYTES) {
    throw new TypeError(`workspaceId must be 1-${MAX_SUBJECT_BYTES} bytes`);
  }
  if (audience === "" || audience.length > 600) {
    throw new TypeError("audience must be 1-600 characters");
  }
  if (
    !Number.isInteger(lifetimeSeconds) ||
    lifetimeSeconds < 1 ||
    lifetimeSeconds > MAX_TOKEN_LIFETIME_SECONDS
  ) {
    throw new TypeError(`lifetimeSeconds must be 1-${MAX_TOKEN_LIFETIME_SECONDS}`);
  }
}

/** Signs the token with a private key given as PKCS#8 PEM (imported non-extractable, then dropped). */
export async function signToken(
  input: TokenClaimsInput,
  key: { kid: string; pkcs8Pem: string },
): Promise<string> {
  checkTokenInput(input);
  const privateKey = await importPKCS8(key.pkcs8Pem, SIGNING_ALG, { extractable: false });
  const iat = Math.floor(input.now / 1000);
  return await new SignJWT({ customer_id: input.workspaceId })
    .setProtectedHeader({ alg: SIGNING_ALG, kid: key.kid, typ: "JWT" })
    .setIssuer(input.issuerUrl)
    .setSubject(input.workspaceId)
    .setAudience(input.audience)
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(iat + input.lifetimeSeconds)
    .setJti(crypto.randomUUID())
    .sign(privateKey);
}
