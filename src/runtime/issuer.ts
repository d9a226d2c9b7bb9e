import type { Config } from "../config/index.ts";
import type { Db } from "../db/index.ts";
import { countKeys, createIssuer, type Issuer } from "../oidc/index.ts";
import { issuerUrlOf } from "./issuer-url.ts";
import { type MasterKey, resolveMasterKey } from "./master-key.ts";

/** Resolves the master key against what the (migrated) database holds and builds the issuer. */
export async function openIssuer(
  config: Pick<
    Config,
    | "masterKey"
    | "databaseUrl"
    | "dataDir"
    | "issuerUrl"
    | "host"
    | "port"
    | "tokenLifetimeSeconds"
    | "signingKeyRotationHours"
  >,
  db: Db,
): Promise<{ issuer: Issuer; masterKey: MasterKey }> {
  const masterKey = resolveMasterKey(config, await countKeys(db));
  const issuer = createIssuer({
    db,
    issuerUrl: issuerUrlOf(config).url,
    masterKey: masterKey.key,
    tokenLifetimeSeconds: config.tokenLifetimeSeconds,
    rotationIntervalHours: config.signingKeyRotationHours,
  });
  return { issuer, masterKey };
}
