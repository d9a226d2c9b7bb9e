/**
 * Composition root of `serve`: configuration in, a listening relay out. The only code that opens
 * the database for the server, wires dependencies and handles signals.
 */
import type { FastifyInstance } from "fastify";
import packageJson from "../../package.json" with { type: "json" };
import type { Config } from "../config/index.ts";
import { s3CreationCheck } from "../conversations/s3-check.ts";
import { type Db, migrate, openDatabase } from "../db/index.ts";
import { AppError } from "../errors/index.ts";
import { createApp } from "../http/app.ts";
import { systemClock } from "../lib/clock.ts";
import type { Issuer } from "../oidc/index.ts";
import type { WebhookSender } from "../webhooks/index.ts";
import { destinationsFrom, trustFrom, verifierOf } from "./destinations.ts";
import { createEngine, type Engine } from "./engine.ts";
import { openIssuer } from "./issuer.ts";
import { withConcretePort } from "./issuer-url.ts";
import type { MasterKey } from "./master-key.ts";
import { createMetrics, type RelayMetrics } from "./metrics.ts";
import { type OperatorToken, resolveOperatorToken } from "./operator-token.ts";
import { runSelfCheck, type SelfCheckFinding } from "./self-check.ts";
import { writeServeFile } from "./serve-file.ts";

/**
 * How often each process checks the key rotation schedule. Anything well inside the 24 h
 * publish-ahead window works: a late check only delays the next key, never a signature.
 */
const ROTATION_CHECK_INTERVAL_MS = 15 * 60_000;

/** A running relay. */
export interface RunningServer {
  url: string;
  operatorToken: OperatorToken;
  masterKey: MasterKey;
  issuer: Issuer;
  app: FastifyInstance;
  db: Db;
  /** Delivers the signed webhooks of the outbox. */
  webhooks: WebhookSender;
  /** Staging, ingest, the delivery worker (unless `--no-worker`) and the webhook sender. */
  engine: Engine;
  /** What `GET /metrics` serves. */
  metrics: RelayMetrics;
  /** Problems of the operator's setup found at start (also in `/readyz`). */
  selfCheck: SelfCheckFinding[];
  /** Stops accepting, lets in-flight requests finish, closes the database. */
  close(): Promise<void>;
}

/** Opens the database, migrates it, and listens; runs the delivery worker unless `worker` is false. */
export async function startServer(
  configured: Config,
  options: {
    worker?: boolean;
    /** The process's metrics registry; made here when absent (one per process). */
    metrics?: RelayMetrics;
    /** Where the JSON log lines go (standard output by default; tests capture them). */
    logStream?: { write(line: string): void };
  } = {},
): Promise<RunningServer> {
  const config = await withConcretePort(configured);
  const operatorToken = resolveOperatorToken(config);
  const db = await openDatabase(config);
  try {
    await migrate(db);
    const { issuer, masterKey } = await openIssuer(config, db);
    // Before listening: the first key exists before any JWKS is served (see planRotation).
    await issuer.prepare();
    const trust = trustFrom(config);
    const metrics = options.metrics ?? createMetrics({ db, clock: systemClock });
    const createDestination = destinationsFrom(
      config,
      trust,
      issuer,
      metrics.observeIdentityExchange,
    );
    // The engine logs through the app's logger, made just below; lines logged before it exists
    // (none: the engine starts after listen) would be dropped.
    let log: FastifyInstance["log"] | undefined;
    const selfCheck: SelfCheckFinding[] = [];
    const engine = createEngine({
      config,
      db,
      createDestination,
      masterKey: masterKey.key,
      worker: options.worker ?? true,
      metrics,
      log: {
        info: (fields, message) => log?.info(fields, message),
        warn: (fields, message) => log?.warn(fields, message),
        error: (fields, message) => log?.error(fields, message),
      },
    });
    const webhooks = engine.webhooks;
    const app = await createApp({
      db,
      issuer,
      operatorToken: operatorToken.token,
      bodyLimitBytes: config.bodyLimitBytes,
      logger:
        config.logLevel === "silent"
          ? false
          : {
              level: config.logLevel,
              ...(options.logStream ? { stream: options.logStream } : {}),
            },
      version: packageJson.version,
      trust,
      defaultKeyTemplate: config.defaultKeyTemplate,
      allowHttpCallbacks: config.allowHttpCallbacks,
      checkDestination: s3CreationCheck(createDestination),
      verifyDestination: verifierOf(createDestination),
      callbackAllowedNetworks: config.webhookAllowedNetworks,
      callbackAllowedPorts: config.webhookAllowedPorts,
      masterKey: masterKey.key,
      webhookSecretOverlapMs: config.webhookSecretOverlapHours * 3_600_000,
      wakeWebhookSender: () => webhooks.wake(),
      ingest: engine.ingest,
      staging: engine.staging,
      metrics: metrics.http,
      setupWarnings: () => selfCheck,
    });
    log = app.log;
    const address = await app
      .listen({ host: config.host, port: config.port })
      .catch(async (error) => {
        await app.close();
        if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE") throw error;
        throw new AppError(
          "ADDRESS_IN_USE",
          `${config.host}:${config.port} is already in use by another process: stop it, or choose another --port (RELAY_PORT)`,
          { cause: error },
        );
      });
    // After listen: the issuer URL may lead back to this very process.
    selfCheck.push(
      ...(await runSelfCheck({
        awsAccountId: config.awsAccountId,
        awsAuthMode: config.awsAuthMode,
        issuerUrl: issuer.issuerUrl,
        signingKid: (await issuer.listKeys()).find((key) => key.state === "signing")?.kid,
        masterKeyPath: masterKey.path,
      })),
    );
    for (const finding of selfCheck) {
      app.log.warn({ check: finding.check, code: finding.code }, finding.message);
    }
    // Admin commands find this server while it holds the embedded database.
    const removeServeFile = config.databaseUrl ? () => {} : writeServeFile(config.dataDir, address);
    const rotationTimer = setInterval(() => {
      issuer.rotate().then(
        (outcome) => {
          if (outcome.kind === "scheduled" || outcome.kind === "bootstrapped")
            app.log.info({ rotation: outcome }, "OIDC signing key rotation");
        },
        (error: unknown) => app.log.error({ err: error }, "OIDC key rotation check failed"),
      );
    }, ROTATION_CHECK_INTERVAL_MS);
    rotationTimer.unref();
    await engine.start();
    return {
      url: address,
      operatorToken,
      masterKey,
      issuer,
      app,
      db,
      webhooks,
      engine,
      metrics,
      selfCheck,
      async close() {
        clearInterval(rotationTimer);
        removeServeFile();
        try {
          // Requests finish first (their appends reach staging), then the engine hands its
          // deliveries in flight back to the queue, all before the database closes.
          await app.close();
          await engine.stop();
        } finally {
          await db.close();
        }
      },
    };
  } catch (error) {
    await db.close();
    throw error;
  }
}
