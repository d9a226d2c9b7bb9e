/**
 * The background half of a relay process, built from the configuration: the staging store, the
 * delivery worker with its retention purge, live uploads and the webhook sender. `serve` runs it
 * beside the HTTP API (without the worker under `--no-worker`); `worker` runs it alone.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { join } from "node:path";
import type { S3ClientConfig } from "@aws-sdk/client-s3";
import packageJson from "../../package.json" with { type: "json" };
import type { Config } from "../config/index.ts";
import type { Db } from "../db/index.ts";
import type { AttemptDeps, DeliveryLog } from "../delivery/attempt.ts";
import { LiveUploads } from "../delivery/live-uploads.ts";
import { purgeExpired } from "../delivery/retention.ts";
import { createDeliveryWorker, type DeliveryWorker } from "../delivery/worker.ts";
import { createHealthChecker, type HealthChecker } from "../health/index.ts";
import { Ingest } from "../ingest/ingest.ts";
import { type Clock, systemClock } from "../lib/clock.ts";
import type { CreateDestination } from "../providers/factory.ts";
import { createLocalStagingStore, type StagingStore } from "../staging/index.ts";
import { lazyStagingStore } from "../staging/lazy.ts";
import { createWebhookSender, type WebhookSender } from "../webhooks/index.ts";
import type { RelayMetrics } from "./metrics.ts";

const DAY_MS = 86_400_000;

/** The staging store the configuration names: an S3-compatible bucket, or a local directory. */
export function stagingFrom(config: Config): StagingStore {
  const bucket = config.stagingS3Bucket;
  if (bucket) {
    // The AWS SDK is loaded when the store is first used (never by local staging).
    return lazyStagingStore(`S3 bucket s3://${bucket}/${config.stagingS3Prefix}`, async () => {
      const [{ S3Client }, { createS3StagingStore }] = await Promise.all([
        import("@aws-sdk/client-s3"),
        import("../staging/s3.ts"),
      ]);
      const client = new S3Client({
        region: config.stagingS3Region,
        ...(await stagingCredentials(config)),
        ...(config.stagingS3Endpoint
          ? { endpoint: config.stagingS3Endpoint, forcePathStyle: true }
          : {}),
      });
      return createS3StagingStore({ client, bucket, prefix: config.stagingS3Prefix });
    });
  }
  return createLocalStagingStore({ dir: config.stagingDir ?? join(config.dataDir, "staging") });
}

/**
 * The staging bucket's own credentials, when configured: a key pair or a named profile, given to
 * the staging client only. Without them the client uses the AWS SDK's default chain, the identity
 * that also assumes customers' roles.
 */
async function stagingCredentials(config: Config): Promise<Pick<S3ClientConfig, "credentials">> {
  if (config.stagingS3AccessKeyId && config.stagingS3SecretAccessKey) {
    return {
      credentials: {
        accessKeyId: config.stagingS3AccessKeyId,
        secretAccessKey: config.stagingS3SecretAccessKey,
      },
    };
  }
  if (config.stagingS3Profile) {
    const { fromIni } = await import("@aws-sdk/credential-providers");
    return { credentials: fromIni({ profile: config.stagingS3Profile }) };
  }
  return {};
}

/** Names this process in the deliveries it holds: readable, and unique across restarts. */
export function newWorkerId(): string {
  return `${hostname()}/${process.pid}/${randomBytes(3).toString("hex")}`;
}

/** What the engine is built from. */
export interface EngineInputs {
  config: Config;
  db: Db;
  createDestination: CreateDestination;
  masterKey: Uint8Array;
  log: DeliveryLog;
  /** Run the delivery worker and the retention purge in this process. */
  worker: boolean;
  clock?: Clock;
  /** The process's metrics, fed by attempts, webhook sends and appends. */
  metrics?: RelayMetrics;
}

/** A running engine. */
export interface Engine {
  staging: StagingStore;
  ingest: Ingest;
  webhooks: WebhookSender;
  worker: DeliveryWorker | undefined;
  /** Purges now (also runs on its interval in worker processes). */
  purge(): ReturnType<typeof purgeExpired>;
  /**
   * The destination health check: `runOnce` checks what is due now; its loop runs in worker
   * processes unless `RELAY_HEALTH_CHECK=false`.
   */
  health: HealthChecker;
  /** Starts the loops. */
  start(): Promise<void>;
  /** Stops the loops; deliveries in flight are handed back to the queue. */
  stop(): Promise<void>;
}

/** Builds the engine of one process; nothing runs until `start`. */
export function createEngine(inputs: EngineInputs): Engine {
  const { config, db, log } = inputs;
  const clock = inputs.clock ?? systemClock;
  const staging = stagingFrom(config);
  const workerId = newWorkerId();
  const leaseMs = config.deliveryLeaseSeconds * 1000;
  const webhooks = createWebhookSender({
    db,
    masterKey: inputs.masterKey,
    clock,
    allowHttp: config.allowHttpCallbacks,
    allowedNetworks: config.webhookAllowedNetworks,
    allowedPorts: config.webhookAllowedPorts,
    timeoutMs: config.webhookTimeoutMs,
    userAgent: `recording-relay/${packageJson.version}`,
    onError: (error) => log.error({ err: error }, "webhook sender round failed"),
    ...(inputs.metrics ? { observeAttempt: inputs.metrics.observeWebhookAttempt } : {}),
  });
  let worker: DeliveryWorker | undefined;
  const attemptDeps: AttemptDeps = {
    db,
    staging,
    createDestination: inputs.createDestination,
    clock,
    leaseMs,
    retry: {
      baseMs: config.deliveryRetryBaseMs,
      capMs: config.deliveryRetryCapMs,
      budgetMs: config.deliveryRetryBudgetMinutes * 60_000,
      configBaseMs: config.deliveryConfigRetryBaseMs,
      configBudgetMs: config.deliveryConfigRetryBudgetMinutes * 60_000,
    },
    retention: {
      failedMs: config.retentionDays * DAY_MS,
      deliveredMs: config.deliveredGraceHours * 3_600_000,
    },
    log,
    onEvent: () => webhooks.wake(),
    ...(inputs.metrics ? { observeAttempt: inputs.metrics.observeAttempt } : {}),
  };
  if (inputs.worker) {
    worker = createDeliveryWorker({
      ...attemptDeps,
      workerId,
      concurrency: config.workerConcurrency,
      pollMs: config.workerPollMs,
    });
  }
  const wakeWorker = worker ? () => worker?.wake() : undefined;
  const liveUploads = config.liveUpload
    ? new LiveUploads({ ...attemptDeps, workerId, ...(wakeWorker ? { wakeWorker } : {}) })
    : undefined;
  const ingest = new Ingest({
    db,
    staging,
    clock,
    appendLeaseMs: leaseMs,
    maxRecordingBytes: config.maxRecordingBytes,
    workerId,
    leaseMs,
    ...(liveUploads ? { liveUploads } : {}),
    ...(wakeWorker ? { wakeWorker } : {}),
    ...(inputs.metrics ? { observeAppend: inputs.metrics.observeAppend } : {}),
    abandonedAfterMs: config.retentionDays * DAY_MS,
    abortLeftover: async (recording, handle) => {
      const destination = inputs.createDestination(recording.storage, {
        workspaceId: recording.workspaceId,
      });
      await destination.abortLeftover(handle, AbortSignal.timeout(60_000));
    },
  });
  const purge = () =>
    purgeExpired({
      db,
      staging,
      clock,
      log,
      createDestination: inputs.createDestination,
      abandonedAfterMs: config.retentionDays * DAY_MS,
    });
  let purgeTimer: NodeJS.Timeout | undefined;
  let purging: Promise<unknown> = Promise.resolve();
  const health = createHealthChecker({
    db,
    createDestination: inputs.createDestination,
    clock,
    log,
    intervalMs: config.healthCheckIntervalMinutes * 60_000,
    probeWrite: config.healthCheckProbeWrite,
    defaultKeyTemplate: config.defaultKeyTemplate,
    onEvent: () => webhooks.wake(),
  });

  return {
    staging,
    ingest,
    webhooks,
    worker,
    purge,
    health,
    async start() {
      webhooks.start();
      if (!worker) return;
      await worker.start();
      if (config.healthCheck) health.start();
      purgeTimer = setInterval(() => {
        purging = purge().catch((error: unknown) =>
          log.error({ err: error }, "purging staged recordings failed; retrying next interval"),
        );
      }, config.purgeIntervalMs);
      purgeTimer.unref();
    },
    async stop() {
      clearInterval(purgeTimer);
      await Promise.allSettled([worker?.stop(), liveUploads?.stop(), purging, health.stop()]);
      await webhooks.stop();
    },
  };
}
