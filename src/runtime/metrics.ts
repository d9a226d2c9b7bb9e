/**
 * The Prometheus metrics of one relay process (docs/operations.md, Metrics): one prom-client
 * registry made here and handed to the pieces that observe (delivery attempts, identity
 * exchanges, webhook attempts, ingest appends, HTTP requests). Queue gauges are read from the
 * database at scrape time, so every process reports the shared queue. Labels are bounded: a
 * provider, an outcome, an error code, a route pattern, a status; never a workspace or recording.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Db } from "../db/index.ts";
import type { AttemptReport } from "../delivery/attempt.ts";
import { queueStats } from "../delivery/queue.ts";
import type { IdentityExchangeObserver } from "../destinations/adapter.ts";
import type { HttpMetrics } from "../http/app.ts";
import type { Clock } from "../lib/clock.ts";
import { pendingEventCount, type WebhookAttemptReport } from "../webhooks/index.ts";

const PREFIX = "recording_relay_";

/** Seconds: a fast cloud round trip up to a multi-gigabyte upload. */
const deliverySecondsBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600];
/** Bytes: 64 KiB to 64 GiB, by factors of 4. */
const deliveryBytesBuckets = Array.from({ length: 11 }, (_, index) => 65_536 * 4 ** index);
const webhookSecondsBuckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15];
const httpSecondsBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The metrics of one process and the observers that feed them. */
export interface RelayMetrics {
  registry: Registry;
  observeAttempt(report: AttemptReport): void;
  observeIdentityExchange: IdentityExchangeObserver;
  observeWebhookAttempt(report: WebhookAttemptReport): void;
  observeAppend(bytes: number): void;
  http: HttpMetrics;
}

/**
 * Creates the registry of one process. `db` feeds the queue gauges at each scrape;
 * `defaultMetrics` adds the process and Node.js metrics of prom-client (off in tests that make
 * several registries in one process).
 */
export function createMetrics(options: {
  db: Db;
  clock: Clock;
  defaultMetrics?: boolean;
}): RelayMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const attempts = new Counter({
    name: `${PREFIX}delivery_attempts_total`,
    help: "Delivery attempts by how they ended (delivered, retry, failed, released, lease_lost), error code (none when delivered) and provider.",
    labelNames: ["provider", "outcome", "error_code"] as const,
    registers,
  });
  const duration = new Histogram({
    name: `${PREFIX}delivery_attempt_duration_seconds`,
    help: "How long delivery attempts took, by provider and outcome.",
    labelNames: ["provider", "outcome"] as const,
    buckets: deliverySecondsBuckets,
    registers,
  });
  const size = new Histogram({
    name: `${PREFIX}delivered_recording_size_bytes`,
    help: "Sizes of the recordings delivered, by provider.",
    labelNames: ["provider"] as const,
    buckets: deliveryBytesBuckets,
    registers,
  });
  const exchanges = new Counter({
    name: `${PREFIX}identity_exchanges_total`,
    help: "Identity exchanges with the customers' clouds (AWS STS, GCP STS and impersonation, Entra ID) by provider and outcome (success, failure).",
    labelNames: ["provider", "outcome"] as const,
    registers,
  });
  const webhookAttempts = new Counter({
    name: `${PREFIX}webhook_attempts_total`,
    help: "Webhook attempts by what followed (delivered, retry, failed: the last attempt failed).",
    labelNames: ["outcome"] as const,
    registers,
  });
  const webhookDuration = new Histogram({
    name: `${PREFIX}webhook_attempt_duration_seconds`,
    help: "Webhook attempt latency, connection to last response byte, by outcome.",
    labelNames: ["outcome"] as const,
    buckets: webhookSecondsBuckets,
    registers,
  });
  const ingestBytes = new Counter({
    name: `${PREFIX}ingest_bytes_total`,
    help: "Recording bytes staged by committed appends.",
    registers,
  });
  const ingestAppends = new Counter({
    name: `${PREFIX}ingest_appends_total`,
    help: "Committed appends (one-shot uploads count one).",
    registers,
  });
  const requests = new Counter({
    name: `${PREFIX}http_requests_total`,
    help: "HTTP requests by method, route pattern (unmatched: no route) and status code.",
    labelNames: ["method", "route", "status_code"] as const,
    registers,
  });
  const requestDuration = new Histogram({
    name: `${PREFIX}http_request_duration_seconds`,
    help: "HTTP request latency by method and route pattern.",
    labelNames: ["method", "route"] as const,
    buckets: httpSecondsBuckets,
    registers,
  });

  // Read from the database at each scrape: the queue is shared by every process.
  const collectQueue = async () => {
    const stats = await queueStats(options.db, options.clock.now());
    queueDepth.set({ state: "queued" }, stats.queued);
    queueDepth.set({ state: "running" }, stats.running);
    oldestAge.set(stats.oldestQueuedAgeSeconds);
  };
  let pendingQueueRead: Promise<void> | undefined;
  const readQueueOnce = () => {
    pendingQueueRead ??= collectQueue().finally(() => {
      pendingQueueRead = undefined;
    });
    return pendingQueueRead;
  };
  const queueDepth: Gauge<"state"> = new Gauge({
    name: `${PREFIX}delivery_queue_depth`,
    help: "Deliveries waiting (queued, retries included) or running, across every process (read from the database at scrape).",
    labelNames: ["state"] as const,
    registers,
    collect: readQueueOnce,
  });
  const oldestAge: Gauge = new Gauge({
    name: `${PREFIX}delivery_queue_oldest_age_seconds`,
    help: "Age of the oldest queued delivery (0 when none is queued), read from the database at scrape.",
    registers,
    collect: readQueueOnce,
  });
  const pendingEvents: Gauge = new Gauge({
    name: `${PREFIX}webhook_events_pending`,
    help: "Webhook events still to be sent (state pending), read from the database at scrape.",
    registers,
    async collect() {
      pendingEvents.set(await pendingEventCount(options.db));
    },
  });

  return {
    registry,
    observeAttempt(report) {
      const outcome = report.outcome;
      attempts.inc({ provider: report.provider, outcome, error_code: report.code ?? "none" });
      duration.observe({ provider: report.provider, outcome }, report.durationMs / 1000);
      if (outcome === "delivered") size.observe({ provider: report.provider }, report.bytes);
    },
    observeIdentityExchange(provider, outcome) {
      exchanges.inc({ provider, outcome });
    },
    observeWebhookAttempt(report) {
      webhookAttempts.inc({ outcome: report.outcome });
      webhookDuration.observe({ outcome: report.outcome }, report.latencyMs / 1000);
    },
    observeAppend(bytes) {
      ingestAppends.inc();
      ingestBytes.inc(bytes);
    },
    http: {
      contentType: registry.contentType,
      scrape: () => registry.metrics(),
      observeRequest(request) {
        requests.inc({
          method: request.method,
          route: request.route,
          status_code: String(request.statusCode),
        });
        requestDuration.observe(
          { method: request.method, route: request.route },
          request.durationSeconds,
        );
      },
    },
  };
}
