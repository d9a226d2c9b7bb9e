/**
 * Every setting of the relay in one table: its environment variable, its CLI flag, its schema,
 * its default and what it means. `loadConfig` parses from it and `docs/configuration.md` is
 * generated from it, so the two cannot drift.
 */
import { z } from "zod";

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
      "Connections each process keeps open to the PostgreSQL server (ignored when embedded).",
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
