/**
 * Every setting of the relay in one table: its environment variable, its CLI flag, its schema,
 * its default and what it means. `loadConfig` parses from it and `docs/configuration.md` is
 * generated from it, so the two cannot drift.
 */
import { z } from "zod";
import { parseAllowedNetworks, parseAllowedPorts } from "../domain/callback-address.ts";
import { keyTemplateProblem, SEED_DEFAULT_KEY_TEMPLATE } from "../domain/key-template.ts";

/** One configurable value. Raw values always arrive as strings (environment or argv). */
export interface Setting<T> {
  /** Environment variable that sets it. */
  env: string;
  /** Long CLI flag that sets it (wins over the environment); absent for secrets, which must not show in `ps`. */
  flag?: `--${string}`;
  /** Parses the raw string; the message of a failure names the rule. */
  schema: z.ZodType<T, string>;
  /** Raw default, documented as written; absent when the setting is optional. */
  default?: string;
  /** One or two sentences for the docs, with the unit. */
  description: string;
  /** Never printed back (docs show only whether it is set). */
  secret?: boolean;
}

// Keeps each entry's own type, so `Config` knows which settings have a default.
// biome-ignore lint/suspicious/noExplicitAny: any parsed type is allowed; `Config` recovers it.
function setting<S extends Setting<any>>(spec: S): S {
  return spec;
}

const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

export const settings = {
  dataDir: setting({
    env: "RELAY_DATA_DIR",
    flag: "--data-dir",
    schema: z.string().min(1, "must not be empty"),
    default: ".relay",
    description:
      "Directory for the embedded database, the generated operator token and local staging. Relative paths resolve against the working directory.",
  }),
  databaseUrl: setting({
    env: "DATABASE_URL",
    schema: z
      .string()
      .regex(/^postgres(ql)?:\/\/\S+$/, "must be a postgres:// or postgresql:// connection URL"),
    description:
      "PostgreSQL server to use instead of the embedded database. Required when several processes or machines share the work.",
    secret: true,
  }),
  databasePoolSize: setting({
    env: "RELAY_DATABASE_POOL_SIZE",
    flag: "--database-pool-size",
    schema: integer(1, 1000),
    default: "10",
    description:
      "Connections each process keeps open to the PostgreSQL server (ignored when embedded: its own server takes a pool of 5).",
  }),
  relayUrl: setting({
    env: "RELAY_URL",
    flag: "--url",
    schema: z
      .string()
      .regex(/^https?:\/\/[^\s/]+(\/\S*)?$/, "must be an http:// or https:// URL")
      .transform((value) => value.replace(/\/+$/, "")),
    description:
      "Base URL of a running relay that admin commands (`workspace create`, `api-key create`, `keys`, `setup`, `verify`) call through its HTTP API with the operator token, instead of opening the database. Unset: they call the `serve` running on the embedded database of the data directory (found in `<data dir>/serve.json`), or open the database when none runs.",
  }),
  host: setting({
    env: "RELAY_HOST",
    flag: "--host",
    schema: z.string().min(1, "must not be empty"),
    default: "127.0.0.1",
    description:
      "Address the HTTP server listens on. Use `0.0.0.0` (or `::`) to accept connections from other machines.",
  }),
  port: setting({
    env: "RELAY_PORT",
    flag: "--port",
    schema: integer(0, 65_535),
    default: "8080",
    description: "TCP port of the HTTP server; 0 picks a free port and prints it.",
  }),
  operatorToken: setting({
    env: "RELAY_OPERATOR_TOKEN",
    schema: z
      .string()
      .min(32, "must be at least 32 characters (generate one with `openssl rand -base64 32`)")
      .regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces"),
    description:
      "Bearer token of the operator (workspace management, recording ingest). Required with DATABASE_URL; with the embedded database it is generated on first start into `<data dir>/operator-token` and printed once.",
    secret: true,
  }),
  issuerUrl: setting({
    env: "RELAY_ISSUER_URL",
    flag: "--issuer-url",
    schema: z
      .string()
      .refine((value) => URL.canParse(value), "must be an absolute URL")
      .refine(
        (value) => /^https?:\/\//.test(value),
        "must start with https:// (http:// only for local development)",
      )
      .refine(
        (value) => !value.endsWith("/"),
        "must not end with a slash: clouds compare the issuer string exactly",
      )
      .refine((value) => !/[?#]/.test(value), "must not contain a query or fragment")
      .refine(
        (value) =>
          !URL.canParse(value) || /^(\/[A-Za-z0-9._~-]+)*\/?$/.test(new URL(value).pathname),
        "its path may only hold segments of letters, digits and ._~- (the relay serves it verbatim)",
      )
      .refine(
        (value) =>
          !URL.canParse(value) ||
          (value === new URL(value).href.replace(/\/$/, "") && !new URL(value).username),
        "must be written in canonical form (lowercase host, no default port, no `.` or `..` segments, no credentials), since clouds compare it byte for byte",
      ),

    description:
      "Public base URL of the relay's OIDC issuer: the exact `iss` of every token and the issuer customers trust in GCP and Azure. Must be https and reachable by the clouds in production; unset, it is derived from the listen address (`http://localhost:<port>`, for local use only); discovery is served at `<issuer>/.well-known/openid-configuration`. A path (`https://example.com/oidc`) is allowed: the relay serves the documents under that path, and also at the root for a proxy that strips it.",
  }),
  masterKey: setting({
    env: "RELAY_MASTER_KEY",
    schema: z
      .string()
      .regex(
        /^[A-Za-z0-9+/_-]{43}=?$/,
        "must be 32 random bytes in base64 (generate one with `openssl rand -base64 32`)",
      )
      .transform((value) => new Uint8Array(Buffer.from(value, "base64"))),
    description:
      "Encrypts the OIDC signing keys at rest (AES-256-GCM): 32 random bytes in base64 (`openssl rand -base64 32`). Required with DATABASE_URL, the same on every process; with the embedded database it is generated on first start into `<data dir>/master-key`. Losing it means new signing keys, which customers' clouds only trust after they refetch the JWKS.",
    secret: true,
  }),
  tokenLifetimeSeconds: setting({
    env: "RELAY_TOKEN_LIFETIME_SECONDS",
    flag: "--token-lifetime-seconds",
    schema: integer(60, 600),
    default: "300",
    description:
      "Lifetime of each OIDC token the relay mints for GCP and Azure, in seconds (60-600). Tokens are minted fresh for each exchange, so short is safe.",
  }),
  signingKeyRotationHours: setting({
    env: "RELAY_SIGNING_KEY_ROTATION_HOURS",
    flag: "--signing-key-rotation-hours",
    schema: integer(48, 8_760),
    default: "720",
    description:
      "How long each OIDC signing key signs before the next one takes over, in hours (48-8760). The next key is published 24 h before it signs; a retired key stays published 24 h plus the longest token lifetime.",
  }),
  awsAccountId: setting({
    env: "RELAY_AWS_ACCOUNT_ID",
    flag: "--aws-account-id",
    schema: z.string().regex(/^\d{12}$/, "must be a 12-digit AWS account id"),
    description:
      "The operator's AWS account, which customers' role trust policies name as the trusted principal. Required for S3 destinations and their setup instructions in `assume_role` mode; `web_identity` needs none (the setup guide then has customers trust the issuer through an IAM OIDC provider).",
  }),
  awsExternalIdMode: setting({
    env: "RELAY_AWS_EXTERNAL_ID_MODE",
    flag: "--aws-external-id-mode",
    schema: z.enum(["workspace", "fixed"]),
    default: "workspace",
    description:
      "`workspace`: the ExternalId of AssumeRole is the customer's Workspace ID, unique per customer as AWS advises against the confused deputy. `fixed`: every customer uses RELAY_AWS_EXTERNAL_ID.",
  }),
  awsExternalId: setting({
    env: "RELAY_AWS_EXTERNAL_ID",
    flag: "--aws-external-id",
    schema: z
      .string()
      .regex(
        /^[\w+=,.@:/-]{2,1224}$/,
        "must be 2-1224 characters of letters, digits and +=,.@:/-_",
      ),
    description:
      "The ExternalId every customer's trust policy requires when RELAY_AWS_EXTERNAL_ID_MODE is `fixed`.",
  }),
  awsRoleSessionSeconds: setting({
    env: "RELAY_AWS_ROLE_SESSION_SECONDS",
    flag: "--aws-role-session-seconds",
    schema: integer(900, 43_200),
    default: "43200",
    description:
      "DurationSeconds requested when assuming a customer's role, in seconds (900-43200); the role's MaxSessionDuration must be at least this.",
  }),
  awsAuthMode: setting({
    env: "RELAY_AWS_AUTH_MODE",
    flag: "--aws-auth-mode",
    schema: z.enum(["assume_role", "web_identity"]),
    default: "assume_role",
    description:
      "`assume_role`: sts:AssumeRole into the customer's role with the operator's AWS credentials (the AWS SDK's default chain) and the ExternalId. `web_identity`: sts:AssumeRoleWithWebIdentity with the relay's own OIDC token (audience `sts.amazonaws.com`); the operator needs no AWS credentials, the customer an IAM OIDC provider for the issuer.",
  }),
  awsEndpointUrl: setting({
    env: "RELAY_AWS_ENDPOINT_URL",
    flag: "--aws-endpoint-url",
    schema: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }),
    description:
      "Custom endpoint for AWS STS and S3 (emulators, S3-compatible clouds); S3 is then addressed path-style. Unset: AWS's own regional endpoints.",
  }),
  gcpStsUrl: setting({
    env: "RELAY_GCP_STS_URL",
    flag: "--gcp-sts-url",
    schema: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }),
    default: "https://sts.googleapis.com/v1/token",
    description: "Google Security Token Service token endpoint (Workload Identity Federation).",
  }),
  gcpIamCredentialsUrl: setting({
    env: "RELAY_GCP_IAM_CREDENTIALS_URL",
    flag: "--gcp-iam-credentials-url",
    schema: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }),
    default: "https://iamcredentials.googleapis.com",
    description:
      "Base URL of Google IAM Credentials (service account impersonation, `generateAccessToken`).",
  }),
  gcsUrl: setting({
    env: "RELAY_GCS_URL",
    flag: "--gcs-url",
    schema: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }),
    default: "https://storage.googleapis.com",
    description: "Base URL of the Cloud Storage JSON API (uploads, object metadata).",
  }),
  azureAuthorityHost: setting({
    env: "RELAY_AZURE_AUTHORITY_HOST",
    flag: "--azure-authority-host",
    schema: z.url({ protocol: /^https$/, error: "must be an https URL (MSAL refuses others)" }),
    default: "https://login.microsoftonline.com",
    description:
      "Entra ID authority host (`https://login.microsoftonline.us` for US Government, `https://login.chinacloudapi.cn` for China). Other hosts (emulators) skip MSAL's instance discovery.",
  }),
  azureBlobEndpointTemplate: setting({
    env: "RELAY_AZURE_BLOB_ENDPOINT_TEMPLATE",
    flag: "--azure-blob-endpoint-template",
    schema: z
      .string()
      .refine((value) => value.includes("{account}"), "must contain {account}")
      .refine(
        (value) => URL.canParse(value.replaceAll("{account}", "account")),
        "must be a URL once {account} is filled in",
      ),
    default: "https://{account}.blob.core.windows.net",
    description:
      "Blob service URL of a storage account, `{account}` standing for its name: `https://{account}.blob.core.usgovcloudapi.net` for sovereign clouds, `https://127.0.0.1:PORT/{account}` (path-style) for an emulator.",
  }),
  extraCaFile: setting({
    env: "RELAY_EXTRA_CA_FILE",
    flag: "--extra-ca-file",
    schema: z.string().min(1, "must not be empty"),
    description:
      "PEM file of an extra certificate authority trusted for outgoing TLS to the clouds, in addition to the built-in roots (a proxy, an emulator).",
  }),
  destinationMaxAttempts: setting({
    env: "RELAY_DESTINATION_MAX_ATTEMPTS",
    flag: "--destination-max-attempts",
    schema: integer(1, 20),
    default: "5",
    description:
      "Attempts of each cloud request inside one delivery attempt (the SDKs' own retries, first try included), with exponential backoff and full jitter.",
  }),
  destinationRequestTimeoutMs: setting({
    env: "RELAY_DESTINATION_REQUEST_TIMEOUT_MS",
    flag: "--destination-request-timeout-ms",
    schema: integer(1_000, 3_600_000),
    default: "120000",
    description: "Timeout of one cloud request (one part upload included), in milliseconds.",
  }),
  deliveryPartsInFlight: setting({
    env: "RELAY_DELIVERY_PARTS_IN_FLIGHT",
    flag: "--delivery-parts-in-flight",
    schema: integer(1, 64),
    default: "4",
    description:
      "Parts (S3) or blocks (Azure Blob) of one upload sent at once. GCS's resumable protocol is sequential: it sends one chunk at a time while the next is read and hashed.",
  }),
  deliveryMemoryBudgetMib: setting({
    env: "RELAY_DELIVERY_MEMORY_BUDGET_MIB",
    flag: "--delivery-memory-budget-mib",
    schema: integer(16, 1_048_576),
    default: "128",
    description:
      "Memory for part buffers (filling or in flight) shared by every upload of the process, in MiB: an upload waits for room rather than allocating more. Parts are 8 MiB by default; a part larger than the whole budget (recordings beyond ~40 GiB) is sent alone.",
  }),
  defaultKeyTemplate: setting({
    env: "RELAY_DEFAULT_KEY_TEMPLATE",
    flag: "--default-key-template",
    schema: z.string().superRefine((value, context) => {
      const problem = keyTemplateProblem(value);
      if (problem) context.addIssue({ code: "custom", message: problem });
    }),
    default: SEED_DEFAULT_KEY_TEMPLATE,
    description:
      "Destination key template of recordings whose `recording_storage` has no `key_template`: tokens `{conversation_id}` and `{epoch_ms}`, characters `0-9A-Za-z./_-`, at most 512 characters, no leading or trailing `/`, no `//`, no `..`, no `.` segment. Captured per conversation at creation.",
  }),
  allowHttpCallbacks: setting({
    env: "RELAY_ALLOW_HTTP_CALLBACKS",
    flag: "--allow-http-callbacks",
    schema: z.enum(["true", "false"]).transform((value) => value === "true"),
    default: "false",
    description:
      "`true` accepts `http://` callback URLs (local development only); otherwise callbacks must be `https://`.",
  }),
  webhookAllowedNetworks: setting({
    env: "RELAY_WEBHOOK_ALLOWED_NETWORKS",
    flag: "--webhook-allowed-networks",
    schema: z.string().transform((value, context) => {
      try {
        return parseAllowedNetworks(value);
      } catch (error) {
        context.addIssue({ code: "custom", message: (error as Error).message });
        return z.NEVER;
      }
    }),
    default: "",
    description:
      "Comma-separated networks (`127.0.0.1/32,::1/128`) that webhooks may reach although the SSRF guard refuses them (loopback, private, link-local, metadata…). For local development and tests only; empty in production.",
  }),
  webhookAllowedPorts: setting({
    env: "RELAY_WEBHOOK_ALLOWED_PORTS",
    flag: "--webhook-allowed-ports",
    schema: z.string().transform((value, context) => {
      try {
        return parseAllowedPorts(value);
      } catch (error) {
        context.addIssue({ code: "custom", message: (error as Error).message });
        return z.NEVER;
      }
    }),
    default: "",
    description:
      "Comma-separated ports and ranges (`8080,9000-9010`) a `callback_url` may use besides 443, 80 and 8443, or `*` for any port (local development and tests). Checked when the URL is saved and before each webhook attempt.",
  }),
  webhookTimeoutMs: setting({
    env: "RELAY_WEBHOOK_TIMEOUT_MS",
    flag: "--webhook-timeout-ms",
    schema: integer(1000, 60_000),
    default: "15000",
    description:
      "How long one webhook attempt may take, connection to last response byte, in milliseconds; a slower receiver counts as a failed attempt and is retried on the schedule.",
  }),
  webhookSecretOverlapHours: setting({
    env: "RELAY_WEBHOOK_SECRET_OVERLAP_HOURS",
    flag: "--webhook-secret-overlap-hours",
    schema: integer(0, 720),
    default: "24",
    description:
      "After a workspace rotates its webhook secret, how long in hours events are signed with both the old and the new secret (space-separated `webhook-signature`), so receivers can switch without losing events.",
  }),
  stagingDir: setting({
    env: "RELAY_STAGING_DIR",
    flag: "--staging-dir",
    schema: z.string().min(1, "must not be empty"),
    description:
      "Local directory where recordings are staged (fsynced) before they are acknowledged and delivered. Default: `staging` inside the data directory. Every process that ingests or delivers must see the same directory; with several machines use RELAY_STAGING_S3_BUCKET instead.",
  }),
  stagingS3Bucket: setting({
    env: "RELAY_STAGING_S3_BUCKET",
    flag: "--staging-s3-bucket",
    schema: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be an S3 bucket name"),
    description:
      "Stage recordings in this S3-compatible bucket of the operator (S3, MinIO, R2…) instead of a local directory, so workers on several machines share them. Its credentials are RELAY_STAGING_S3_ACCESS_KEY_ID with RELAY_STAGING_S3_SECRET_ACCESS_KEY, or RELAY_STAGING_S3_PROFILE; with neither, the AWS SDK's default chain (`AWS_ACCESS_KEY_ID`…, a profile, an instance or task role), the identity the relay also assumes customers' roles with. Never credentials of customers.",
  }),
  stagingS3AccessKeyId: setting({
    env: "RELAY_STAGING_S3_ACCESS_KEY_ID",
    schema: z.string().regex(/^[\x21-\x7e]{1,128}$/, "must be 1 to 128 printable characters"),
    description:
      "Access key id of the staging bucket's own credentials (a MinIO, R2 or Ceph key, or an IAM user's), used by the staging store only: delivery to customers keeps the default chain. Requires RELAY_STAGING_S3_SECRET_ACCESS_KEY and RELAY_STAGING_S3_BUCKET.",
    secret: true,
  }),
  stagingS3SecretAccessKey: setting({
    env: "RELAY_STAGING_S3_SECRET_ACCESS_KEY",
    schema: z.string().regex(/^[\x21-\x7e]{1,256}$/, "must be 1 to 256 printable characters"),
    description:
      "Secret access key that goes with RELAY_STAGING_S3_ACCESS_KEY_ID (both or neither). Never logged.",
    secret: true,
  }),
  stagingS3Profile: setting({
    env: "RELAY_STAGING_S3_PROFILE",
    flag: "--staging-s3-profile",
    schema: z.string().regex(/^[A-Za-z0-9._@+=,-]{1,64}$/, "must be a profile name"),
    description:
      "Named profile (in `~/.aws/credentials` or `~/.aws/config`, or the files named by `AWS_SHARED_CREDENTIALS_FILE` and `AWS_CONFIG_FILE`) holding the staging bucket's own credentials, used by the staging store only. Instead of RELAY_STAGING_S3_ACCESS_KEY_ID and RELAY_STAGING_S3_SECRET_ACCESS_KEY, not with them.",
  }),
  stagingS3Prefix: setting({
    env: "RELAY_STAGING_S3_PREFIX",
    flag: "--staging-s3-prefix",
    schema: z
      .string()
      .regex(/^([A-Za-z0-9._-]+\/)*$/, "must be empty or end with `/`, e.g. `staging/`"),
    default: "staging/",
    description: "Key prefix of staged recordings in RELAY_STAGING_S3_BUCKET.",
  }),
  stagingS3Region: setting({
    env: "RELAY_STAGING_S3_REGION",
    flag: "--staging-s3-region",
    schema: z.string().min(1, "must not be empty"),
    default: "us-east-1",
    description: "Region of RELAY_STAGING_S3_BUCKET.",
  }),
  stagingS3Endpoint: setting({
    env: "RELAY_STAGING_S3_ENDPOINT",
    flag: "--staging-s3-endpoint",
    schema: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }),
    description:
      "Endpoint of an S3-compatible staging service (MinIO, R2…; path-style addressing). Unset: AWS S3.",
  }),
  maxRecordingBytes: setting({
    env: "RELAY_MAX_RECORDING_BYTES",
    flag: "--max-recording-bytes",
    schema: integer(1, Number.MAX_SAFE_INTEGER),
    default: String(5 * 1024 ** 4),
    description:
      "Largest recording accepted, in bytes (default 5 TiB, the largest object S3 stores); an append past it answers 413 and keeps what was received.",
  }),
  liveUpload: setting({
    env: "RELAY_LIVE_UPLOAD",
    flag: "--live-upload",
    schema: z.enum(["true", "false"]).transform((value) => value === "true"),
    default: "true",
    description:
      "`true` pushes each part to the destination while the recording is still arriving (S3 parts, GCS chunks, Azure blocks), so only the tail is left at `complete`; `false` uploads only after `complete`, from staging.",
  }),
  workerConcurrency: setting({
    env: "RELAY_WORKER_CONCURRENCY",
    flag: "--worker-concurrency",
    schema: integer(1, 256),
    default: "4",
    description: "Deliveries one worker process runs at the same time.",
  }),
  workerPollMs: setting({
    env: "RELAY_WORKER_POLL_MS",
    flag: "--worker-poll-ms",
    schema: integer(50, 600_000),
    default: "5000",
    description:
      "How often an idle worker looks for due deliveries, in milliseconds. New deliveries wake workers at once (LISTEN/NOTIFY); polling catches retries coming due and missed notifications.",
  }),
  deliveryLeaseSeconds: setting({
    env: "RELAY_DELIVERY_LEASE_SECONDS",
    flag: "--delivery-lease-seconds",
    schema: integer(5, 3600),
    default: "60",
    description:
      "How long a worker's claim on a delivery lasts unless renewed (renewed every third of it while the delivery runs). A crashed worker's deliveries are taken over by another worker after this.",
  }),
  deliveryRetryBaseMs: setting({
    env: "RELAY_DELIVERY_RETRY_BASE_MS",
    flag: "--delivery-retry-base-ms",
    schema: integer(1, 3_600_000),
    default: "1000",
    description:
      "First delay before retrying a delivery that failed transiently (network, 5xx, throttling, expired token), in milliseconds; doubles per attempt with full jitter.",
  }),
  deliveryRetryCapMs: setting({
    env: "RELAY_DELIVERY_RETRY_CAP_MS",
    flag: "--delivery-retry-cap-ms",
    schema: integer(1, 86_400_000),
    default: "600000",
    description: "Longest delay between two delivery attempts, in milliseconds.",
  }),
  deliveryRetryBudgetMinutes: setting({
    env: "RELAY_DELIVERY_RETRY_BUDGET_MINUTES",
    flag: "--delivery-retry-budget-minutes",
    schema: integer(0, 525_600),
    default: "1440",
    description:
      "How long transient failures are retried, in minutes from the delivery's creation (complete, or the redelivery), before it fails with DESTINATION_UNAVAILABLE.",
  }),
  deliveryConfigRetryBaseMs: setting({
    env: "RELAY_DELIVERY_CONFIG_RETRY_BASE_MS",
    flag: "--delivery-config-retry-base-ms",
    schema: integer(1, 3_600_000),
    default: "30000",
    description:
      "First delay before retrying a delivery refused by the customer's setup (DESTINATION_AUTH_FAILED, DESTINATION_NOT_FOUND, DESTINATION_REGION_MISMATCH), in milliseconds: trust and IAM changes take minutes to propagate, so these are retried fewer times.",
  }),
  deliveryConfigRetryBudgetMinutes: setting({
    env: "RELAY_DELIVERY_CONFIG_RETRY_BUDGET_MINUTES",
    flag: "--delivery-config-retry-budget-minutes",
    schema: integer(0, 525_600),
    default: "30",
    description:
      "How long setup failures (see RELAY_DELIVERY_CONFIG_RETRY_BASE_MS) are retried, in minutes from the delivery's creation (complete, or the redelivery), before the recording fails with that code.",
  }),
  retentionDays: setting({
    env: "RELAY_RETENTION_DAYS",
    flag: "--retention-days",
    schema: integer(0, 3650),
    default: "30",
    description:
      "Days the staged copy of a recording whose delivery failed is kept for `redeliver`, then purged. Also the age at which a recording never completed is purged.",
  }),
  deliveredGraceHours: setting({
    env: "RELAY_DELIVERED_GRACE_HOURS",
    flag: "--delivered-grace-hours",
    schema: integer(0, 8760),
    default: "24",
    description:
      "Hours the staged copy of a delivered recording is kept (for `redeliver`) before it is purged.",
  }),
  purgeIntervalMs: setting({
    env: "RELAY_PURGE_INTERVAL_MS",
    flag: "--purge-interval-ms",
    schema: integer(100, 86_400_000),
    default: "600000",
    description:
      "How often a worker purges staged copies past their `retained_until`, in milliseconds.",
  }),
  healthCheck: setting({
    env: "RELAY_HEALTH_CHECK",
    flag: "--health-check",
    schema: z.enum(["true", "false"]).transform((value) => value === "true"),
    default: "true",
    description:
      "`true` lets worker processes check every workspace's default destination and every destination used in the last 7 days on a schedule (the identity exchange, impersonation and the confused-deputy self-check), reporting `health` on `GET /v2/recording-storage` and conversations and sending `application.recording_storage_unhealthy` / `_recovered` events on a change; `false` turns the checks off.",
  }),
  healthCheckIntervalMinutes: setting({
    env: "RELAY_HEALTH_CHECK_INTERVAL_MINUTES",
    flag: "--health-check-interval-minutes",
    schema: integer(1, 10_080),
    default: "360",
    description:
      "How often each destination is checked, in minutes (default 6 h), jittered by up to ±10 %. Each destination is checked at most once per interval whatever the number of worker processes (claimed in the database).",
  }),
  healthCheckProbeWrite: setting({
    env: "RELAY_HEALTH_CHECK_PROBE_WRITE",
    flag: "--health-check-probe-write",
    schema: z.enum(["true", "false"]).transform((value) => value === "true"),
    default: "false",
    description:
      "`true` also writes and deletes a small probe object (as `verify` does) in each health check, catching lost write permission as well as broken trust.",
  }),
  logLevel: setting({
    env: "RELAY_LOG_LEVEL",
    flag: "--log-level",
    schema: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
    default: "info",
    description: "Minimum level of the JSON log lines written to standard output.",
  }),
  bodyLimitBytes: setting({
    env: "RELAY_BODY_LIMIT_BYTES",
    flag: "--body-limit-bytes",
    schema: integer(1024, 100 * 1_048_576),
    default: "1048576",
    description: "Largest JSON request body accepted, in bytes; larger bodies answer 413.",
  }),
  shutdownTimeoutMs: setting({
    env: "RELAY_SHUTDOWN_TIMEOUT_MS",
    flag: "--shutdown-timeout-ms",
    schema: integer(0, 3_600_000),
    default: "10000",
    description:
      "On SIGINT/SIGTERM, how long in milliseconds in-flight requests may finish before the process exits anyway.",
  }),
} as const;

/** The name of a setting. */
export type SettingName = keyof typeof settings;

type Parsed<S> = S extends { schema: z.ZodType<infer T, string> } ? T : never;

/** The parsed, frozen configuration: optional settings without a value are `undefined`. */
export type Config = {
  readonly [K in SettingName]: (typeof settings)[K] extends { default: string }
    ? Parsed<(typeof settings)[K]>
    : Parsed<(typeof settings)[K]> | undefined;
};
