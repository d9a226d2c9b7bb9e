import { AppError } from "../errors/index.ts";
import { type Config, type SettingName, settings } from "./settings.ts";

/** Where raw values come from: the environment, and CLI flags keyed by setting name. */
export interface ConfigSources {
  env: Record<string, string | undefined>;
  flags?: Partial<Record<SettingName, string | undefined>>;
}

/**
 * Parses every setting once (flag, then environment, then default) and fails with all problems
 * listed at once, so an operator fixes a bad deployment in one round.
 */
export function loadConfig({ env, flags = {} }: ConfigSources): Config {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, spec] of Object.entries(settings) as [
    SettingName,
    (typeof settings)[SettingName],
  ][]) {
    const fromFlag = flags[name];
    const fromEnv = env[spec.env];
    const raw =
      fromFlag ??
      (fromEnv === "" ? undefined : fromEnv) ??
      ("default" in spec ? spec.default : undefined);
    if (raw === undefined) continue;
    const result = spec.schema.safeParse(raw);
    if (result.success) {
      values[name] = result.data;
    } else {
      const source = fromFlag !== undefined && "flag" in spec ? spec.flag : spec.env;
      const shown = "secret" in spec && spec.secret ? "(secret value)" : JSON.stringify(raw);
      const rule = result.error.issues.map((issue) => issue.message).join("; ");
      problems.push(`${source}=${shown}: ${rule}`);
    }
  }
  if (values.awsExternalIdMode === "fixed" && values.awsExternalId === undefined) {
    problems.push("RELAY_AWS_EXTERNAL_ID is required when RELAY_AWS_EXTERNAL_ID_MODE is fixed");
  }
  problems.push(...stagingCredentialProblems(values));
  if (problems.length > 0) {
    throw new AppError("INVALID_CONFIG", `invalid configuration:\n  - ${problems.join("\n  - ")}`);
  }
  return Object.freeze(values) as Config;
}

/** The staging bucket's own credentials: a whole key pair or a profile, and only with the bucket. */
function stagingCredentialProblems(values: Record<string, unknown>): string[] {
  const keyId = values.stagingS3AccessKeyId !== undefined;
  const secret = values.stagingS3SecretAccessKey !== undefined;
  const profile = values.stagingS3Profile !== undefined;
  const problems: string[] = [];
  if (keyId !== secret) {
    problems.push(
      "RELAY_STAGING_S3_ACCESS_KEY_ID and RELAY_STAGING_S3_SECRET_ACCESS_KEY go together: set both, or neither",
    );
  }
  if (profile && (keyId || secret)) {
    problems.push(
      "RELAY_STAGING_S3_PROFILE and RELAY_STAGING_S3_ACCESS_KEY_ID/RELAY_STAGING_S3_SECRET_ACCESS_KEY are two ways to give staging its credentials: set one",
    );
  }
  if ((keyId || secret || profile) && values.stagingS3Bucket === undefined) {
    problems.push(
      "the staging credentials (RELAY_STAGING_S3_ACCESS_KEY_ID, RELAY_STAGING_S3_SECRET_ACCESS_KEY, RELAY_STAGING_S3_PROFILE) need RELAY_STAGING_S3_BUCKET",
    );
  }
  return problems;
}
