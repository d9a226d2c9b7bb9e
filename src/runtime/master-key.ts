import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AppError } from "../errors/index.ts";
import { MASTER_KEY_BYTES } from "../lib/sealing.ts";

/** The master key in force, and whether this start generated it (so the warning shows once). */
export interface MasterKey {
  key: Uint8Array;
  generated: boolean;
  /** The file holding it, for the embedded default. */
  path?: string;
}

/**
 * The configured master key; or, for the embedded default only, the one kept in the data
 * directory, generated when the database holds no signing key yet. With a PostgreSQL server every
 * process must decrypt the same keys, so it has to be configured. A missing file while keys exist
 * is refused: generating a new master key there would only hide the loss.
 */
export function resolveMasterKey(
  config: { masterKey: Uint8Array | undefined; databaseUrl: string | undefined; dataDir: string },
  storedSigningKeys: number,
): MasterKey {
  if (config.masterKey) return { key: config.masterKey, generated: false };
  if (config.databaseUrl) {
    throw new AppError(
      "INVALID_CONFIG",
      "RELAY_MASTER_KEY is required with DATABASE_URL: every process sharing the database must decrypt the same signing keys (generate one with `openssl rand -base64 32`)",
    );
  }
  const path = join(config.dataDir, "master-key");
  let text: string | undefined;
  try {
    text = readFileSync(path, "utf8").trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  if (text !== undefined) {
    const key = Buffer.from(text, "base64");
    if (!/^[A-Za-z0-9+/_-]{43}=?$/.test(text) || key.byteLength !== MASTER_KEY_BYTES) {
      throw new AppError(
        "INVALID_CONFIG",
        `${path} does not hold a master key (32 bytes in base64); restore it from your backup`,
      );
    }
    return { key: new Uint8Array(key), generated: false, path };
  }
  if (storedSigningKeys > 0) {
    throw new AppError(
      "MASTER_KEY_MISMATCH",
      `the database holds ${storedSigningKeys} OIDC signing key(s) but the master key file ${path} is missing: restore it, or set RELAY_MASTER_KEY to the key they were created with; the relay never replaces signing keys that customers' clouds trust`,
    );
  }
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(MASTER_KEY_BYTES);
  // `wx`: if another process created it in the meantime, fail rather than overwrite its key.
  writeFileSync(path, `${key.toString("base64")}\n`, { mode: 0o600, flag: "wx" });
  return { key: new Uint8Array(key), generated: true, path };
}

/** The loud one-time warning printed when the embedded default generated a master key. */
export function masterKeyWarning(path: string): string {
  return [
    "",
    "  WARNING: generated the master key that encrypts the OIDC signing keys, in",
    `    ${path} (mode 0600).`,
    "  Back it up with the data directory: without it the relay cannot sign, and new keys are",
    "  not trusted by customers' clouds until they refetch the JWKS. Anyone holding it and the",
    "  database can sign tokens those clouds accept. In production, set RELAY_MASTER_KEY from a",
    "  secret store (`openssl rand -base64 32`).",
    "",
  ].join("\n");
}
