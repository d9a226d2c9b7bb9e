/**
 * The kit's settings: environment variables, all optional (docs/conformance.md). A provider runs
 * only when every variable it needs is set; otherwise the kit says which are missing and skips it.
 */

/** One environment variable a provider needs (any of `names` satisfies it). */
interface Needed {
  names: string[];
  what: string;
}

export interface ProviderSettings {
  /** `s3`, `gcs` or `azure_blob`. */
  provider: "s3" | "gcs" | "azure_blob";
  label: string;
  needs: Needed[];
}

export const providerSettings: ProviderSettings[] = [
  {
    provider: "s3",
    label: "AWS (S3)",
    needs: [
      {
        names: ["CONFORMANCE_AWS_REGION"],
        what: "the region of the throwaway bucket, e.g. eu-west-1",
      },
      {
        names: ["AWS_ACCESS_KEY_ID", "AWS_PROFILE"],
        what: "credentials of the test account (AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY [+ AWS_SESSION_TOKEN], or AWS_PROFILE)",
      },
    ],
  },
  {
    provider: "gcs",
    label: "GCP (GCS)",
    needs: [
      { names: ["CONFORMANCE_GCP_PROJECT_ID"], what: "the test project's id" },
      {
        names: ["GOOGLE_APPLICATION_CREDENTIALS"],
        what: "a credentials file of the test project (service account key or `gcloud auth application-default login`)",
      },
    ],
  },
  {
    provider: "azure_blob",
    label: "Azure (Blob)",
    needs: [
      { names: ["CONFORMANCE_AZURE_SUBSCRIPTION_ID"], what: "the test subscription's id" },
      {
        names: ["CONFORMANCE_AZURE_RESOURCE_GROUP"],
        what: "the resource group of the storage account",
      },
      {
        names: ["CONFORMANCE_AZURE_STORAGE_ACCOUNT"],
        what: "an existing storage account (the kit creates and deletes a container in it)",
      },
      { names: ["ARM_TENANT_ID"], what: "the tenant of the test service principal" },
      { names: ["ARM_CLIENT_ID"], what: "the test service principal's application id" },
      {
        names: ["ARM_CLIENT_SECRET"],
        what: "its client secret (test account only; never the relay's)",
      },
    ],
  },
];

/** The variables of `settings` missing from `env`, described. */
export function missingFor(settings: ProviderSettings, env: NodeJS.ProcessEnv): string[] {
  return settings.needs
    .filter((need) => !need.names.some((name) => env[name]))
    .map((need) => `${need.names.join(" or ")} (${need.what})`);
}

/** The public issuer and the port it forwards to. */
export interface IssuerSettings {
  issuerUrl: string;
  port: number;
}

/** Where the relay's issuer is reachable from the clouds; undefined with why when unset or wrong. */
export function issuerSettings(env: NodeJS.ProcessEnv): IssuerSettings | string {
  const url = env.CONFORMANCE_ISSUER_URL;
  if (!url) {
    return "CONFORMANCE_ISSUER_URL is not set: the public https URL (a tunnel or a small VM) that reaches the relay the kit starts on 127.0.0.1:CONFORMANCE_RELAY_PORT (docs/conformance.md, The issuer)";
  }
  if (!/^https:\/\/[^/?#]+(\/[^?#]*[^/?#])?$/.test(url)) {
    return `CONFORMANCE_ISSUER_URL must be an https URL without a trailing slash, query or fragment (Google, AWS and Entra accept only https issuers), not ${url}`;
  }
  const port = Number(env.CONFORMANCE_RELAY_PORT ?? "8080");
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return `CONFORMANCE_RELAY_PORT must be a port number, not ${env.CONFORMANCE_RELAY_PORT}`;
  }
  return { issuerUrl: url, port };
}

/** Seconds from a variable, with a default. */
export function secondsFrom(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = Number(env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a number of seconds`);
  return value;
}
