import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AppError } from "../errors/index.ts";

/** The operator token in force, and whether this start generated it (so it is printed once). */
export interface OperatorToken {
  token: string;
  generated: boolean;
  /** Where a generated token is kept, for the embedded default. */
  path?: string;
}

/**
 * The configured token; or, for the embedded default only, the one kept in the data directory,
 * generated on first start. With a PostgreSQL server several processes must share one token, so
 * it has to be configured.
 */
export function resolveOperatorToken(config: {
  operatorToken: string | undefined;
  databaseUrl: string | undefined;
  dataDir: string;
}): OperatorToken {
  if (config.operatorToken) return { token: config.operatorToken, generated: false };
  if (config.databaseUrl) {
    throw new AppError(
      "INVALID_CONFIG",
      "RELAY_OPERATOR_TOKEN is required with DATABASE_URL: every process sharing the database must use the same token (generate one with `openssl rand -base64 32`)",
    );
  }
  const path = join(config.dataDir, "operator-token");
  try {
    return { token: readFileSync(path, "utf8").trim(), generated: false, path };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString("base64url");
  // `wx`: if another process created it in the meantime, fail rather than overwrite its token.
  writeFileSync(path, `${token}\n`, { mode: 0o600, flag: "wx" });
  return { token, generated: true, path };
}
