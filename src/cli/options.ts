import type { Command } from "commander";
import {
  type Config,
  type ConfigSources,
  loadConfig,
  type SettingName,
  settings,
} from "../config/index.ts";

/** Adds the flags of the given settings to a command (commander camel-cases them to setting names). */
export function withSettings(command: Command, names: SettingName[]): Command {
  for (const name of new Set(names)) {
    const spec = settings[name];
    if (!("flag" in spec)) continue;
    const fallback = "default" in spec ? ` (default: ${spec.default})` : "";
    command.option(`${spec.flag} <value>`, `${spec.description}${fallback}; env ${spec.env}`);
  }
  return command;
}

/** Parses the configuration from the environment and a command's flags. */
export function configFrom(env: ConfigSources["env"], options: Record<string, unknown>): Config {
  const flags: ConfigSources["flags"] = {};
  for (const name of Object.keys(settings) as SettingName[]) {
    // Commander names an option after its flag (`--url` is `url`), usually the setting's name.
    const spec = settings[name];
    const key =
      "flag" in spec && spec.flag
        ? spec.flag.slice(2).replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase())
        : name;
    if (typeof options[key] === "string") flags[name] = options[key];
  }
  return loadConfig({ env, flags });
}

/** The settings every command that opens the database takes. */
export const databaseSettings: SettingName[] = ["dataDir", "databaseUrl", "databasePoolSize"];

/** The settings of admin commands, which call a running relay when there is one (`--url`). */
export const adminSettings: SettingName[] = [...databaseSettings, "relayUrl"];

/** The settings of commands that reach customers' destinations (`serve`, `verify`). */
export const destinationSettings: SettingName[] = [
  "issuerUrl",
  "tokenLifetimeSeconds",
  "awsAccountId",
  "awsExternalIdMode",
  "awsExternalId",
  "awsRoleSessionSeconds",
  "awsAuthMode",
  "awsEndpointUrl",
  "gcpStsUrl",
  "gcpIamCredentialsUrl",
  "gcsUrl",
  "azureAuthorityHost",
  "azureBlobEndpointTemplate",
  "extraCaFile",
  "destinationMaxAttempts",
  "destinationRequestTimeoutMs",
  "defaultKeyTemplate",
];

/** The settings of processes that ingest or deliver recordings (`serve`, `worker`). */
export const deliverySettings: SettingName[] = [
  "stagingDir",
  "stagingS3Bucket",
  "stagingS3Prefix",
  "stagingS3Region",
  "stagingS3Endpoint",
  "stagingS3Profile",
  "maxRecordingBytes",
  "liveUpload",
  "workerConcurrency",
  "workerPollMs",
  "deliveryLeaseSeconds",
  "deliveryRetryBaseMs",
  "deliveryRetryCapMs",
  "deliveryRetryBudgetMinutes",
  "deliveryConfigRetryBaseMs",
  "deliveryConfigRetryBudgetMinutes",
  "retentionDays",
  "deliveredGraceHours",
  "purgeIntervalMs",
  "allowHttpCallbacks",
  "webhookAllowedNetworks",
  "webhookTimeoutMs",
];
