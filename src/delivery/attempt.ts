/**
 * One delivery attempt by a worker: clean up what a dead attempt left, count an object already in
 * place with the same size and checksums as delivered (idempotence: looked for unless this is the
 * recording's very first attempt), otherwise upload the staged copy afresh under the same key;
 * then record the outcome, or schedule the retry.
 */
import type { Db } from "../db/index.ts";
import {
  checksumsAgree,
  type Destination,
  type DestinationErrorCode,
  isDestinationError,
  stagedChecksums,
  uploadStream,
} from "../destinations/index.ts";
import { keepLease } from "../lib/abort.ts";
import type { Clock } from "../lib/clock.ts";
import type { CreateDestination } from "../providers/factory.ts";
import type { StorageProvider } from "../providers/index.ts";
import { findRecording, type Recording, setLiveUploadHandle } from "../recordings/store.ts";
import type { StagingStore } from "../staging/index.ts";
import { type RetentionSettings, recordDelivered, recordFailed } from "./outcome.ts";
import {
  type ClaimedDelivery,
  finishAttempt,
  renewDeliveryLease,
  saveUploadHandle,
} from "./queue.ts";
import { afterFailedAttempt, type RetryPolicySettings } from "./retry-policy.ts";

/** Where the engine reports what it does (a pino logger fits). */
export interface DeliveryLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** What an attempt needs. */
export interface AttemptDeps {
  db: Db;
  staging: StagingStore;
  createDestination: CreateDestination;
  clock: Clock;
  leaseMs: number;
  retry: RetryPolicySettings;
  retention: RetentionSettings;
  log: DeliveryLog;
  /** Jitter source in [0, 1). */
  random?: () => number;
  /** Called after an event was enqueued (wakes the webhook sender). */
  onEvent?: () => void;
  /** Told of every attempt as it ended (the process's metrics), beside its log line. */
  observeAttempt?: (report: AttemptReport) => void;
}

/** How an attempt ended. */
export type AttemptOutcomeKind =
  /** The object is at the key (uploaded, or found intact there). */
  | "delivered"
  /** Failed; another attempt is scheduled. */
  | "retry"
  /** Failed for good: the recording is `failed`. */
  | "failed"
  /** Handed back unfinished because the process is stopping (no failure counted). */
  | "released"
  /** Another worker took the delivery over (this one's lease lapsed). */
  | "lease_lost";

/**
 * One delivery attempt as it ended: the one log line `delivery attempt` and the metrics are both
 * made from it, so they tell the same story (docs/operations.md, Metrics and logs).
 */
export interface AttemptReport {
  recordingId: string;
  workspaceId: string;
  deliveryId: string;
  attempt: number;
  provider: StorageProvider;
  outcome: AttemptOutcomeKind;
  /** The error code of a failed attempt (docs/errors.md), `null` otherwise. */
  code: string | null;
  /** The recording's size (what a delivered attempt wrote). */
  bytes: number;
  durationMs: number;
  /** A delivered object was already at the key: nothing was uploaded. */
  reusedExisting: boolean;
  /** `queue`: a worker's attempt from staging; `live`: the end of a live upload at `complete`. */
  path: "queue" | "live";
  /** The failure's one-sentence message, for the log only. */
  error?: string;
  retryInMs?: number;
}

const levelOf: Record<AttemptOutcomeKind, keyof DeliveryLog> = {
  delivered: "info",
  released: "info",
  retry: "warn",
  lease_lost: "warn",
  failed: "error",
};

/** Logs the attempt's one line and tells the observer. */
export function reportAttempt(
  deps: Pick<AttemptDeps, "log" | "observeAttempt">,
  report: AttemptReport,
): void {
  deps.log[levelOf[report.outcome]](
    {
      recording: report.recordingId,
      workspace: report.workspaceId,
      delivery: report.deliveryId,
      attempt: report.attempt,
      provider: report.provider,
      outcome: report.outcome,
      code: report.code,
      bytes: report.bytes,
      duration_ms: report.durationMs,
      reused: report.reusedExisting,
      path: report.path,
      ...(report.error === undefined ? {} : { error: report.error }),
      ...(report.retryInMs === undefined ? {} : { retry_in_ms: report.retryInMs }),
    },
    "delivery attempt",
  );
  try {
    deps.observeAttempt?.(report);
  } catch {
    // Metrics never fail a delivery.
  }
}

/** Why an attempt failed, in the terms of docs/errors.md ("Delivery errors"). */
interface AttemptFailure {
  code: DestinationErrorCode;
  transient: boolean;
  message: string;
}

/** The code, transience and message a failed attempt records (a destination's, or the relay's). */
export function failureOf(error: unknown): AttemptFailure {
  if (isDestinationError(error)) {
    return { code: error.code, transient: error.transient, message: error.message };
  }
  // Not the destination's fault (staging unreadable, database hiccup): retried like an outage,
  // and reported as one if it lasts.
  const text = error instanceof Error ? error.message : String(error);
  return {
    code: "DESTINATION_UNAVAILABLE",
    transient: true,
    message: `The relay could not run the delivery (${text}). Hint: the operator should check the relay's logs and its staging store.`,
  };
}

/**
 * Runs `work` while renewing the delivery's lease every third of its length. `work`'s signal
 * aborts when the lease is lost (another worker took over) or `stop` aborts.
 */
export async function withLease<T>(
  deps: Pick<AttemptDeps, "db" | "clock" | "leaseMs" | "log">,
  delivery: Pick<ClaimedDelivery, "id" | "leaseToken">,
  stop: AbortSignal,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<{ value: T; lost: false } | { lost: true; error: unknown }> {
  const lease = keepLease({
    leaseMs: deps.leaseMs,
    renew: () =>
      renewDeliveryLease(deps.db, delivery, { nowMs: deps.clock.now(), leaseMs: deps.leaseMs }),
    lostMessage: "the delivery's lease was taken over by another worker",
    onRenewError: (error) =>
      deps.log.warn({ err: error, delivery: delivery.id }, "could not renew a delivery lease"),
  });
  try {
    const value = await work(AbortSignal.any([lease.signal, stop]));
    if (lease.signal.aborted) return { lost: true, error: lease.signal.reason };
    return { value, lost: false };
  } catch (error) {
    if (lease.signal.aborted) return { lost: true, error };
    throw error;
  } finally {
    lease.stop();
  }
}

/**
 * Aborts an upload a dead attempt left behind. A transient failure fails this attempt (it is
 * retried) rather than going on: the leftover's handle would be overwritten by the new upload's
 * and its parts would linger in the customer's bucket. A permanent failure (say, a policy without
 * s3:AbortMultipartUpload) is logged and the delivery goes on: no retry would change it.
 */
async function abortLeftover(
  deps: Pick<AttemptDeps, "log">,
  destination: Destination,
  recordingId: string,
  handle: NonNullable<ClaimedDelivery["leftoverUpload"]>,
  signal: AbortSignal,
): Promise<void> {
  try {
    await destination.abortLeftover(handle, signal);
  } catch (error) {
    if (!isDestinationError(error) || error.transient) throw error;
    deps.log.warn(
      { err: error, recording: recordingId, provider: handle.provider },
      "could not abort an upload left by an earlier attempt",
    );
  }
}

/**
 * Whether the object at the recording's key already holds exactly the staged bytes: same size,
 * and every checksum the destination reports that we can recompute agrees.
 */
async function alreadyDelivered(
  deps: Pick<AttemptDeps, "staging">,
  destination: Destination,
  recording: Recording,
  signal: AbortSignal,
): Promise<boolean> {
  const stat = await destination.stat(recording.key, signal);
  if (!stat.exists || stat.sizeBytes !== recording.bytesReceived) return false;
  const staged = stagedChecksums();
  // Each chunk is hashed before the next is read: the store may reuse one buffer.
  const range = { end: recording.bytesReceived, reuseBuffer: true };
  for await (const chunk of deps.staging.read(recording.id, range)) {
    signal.throwIfAborted();
    staged.update(chunk);
  }
  return checksumsAgree(stat.checksums, staged.digest());
}

/** Uploads (or finds in place) the staged copy; resolves with whether it was already there. */
async function deliver(
  deps: AttemptDeps,
  delivery: ClaimedDelivery,
  recording: Recording,
  signal: AbortSignal,
): Promise<{ reusedExisting: boolean }> {
  const destination = deps.createDestination(recording.storage, {
    workspaceId: recording.workspaceId,
  });
  for (const handle of [delivery.leftoverUpload, recording.liveUploadHandle]) {
    if (handle) await abortLeftover(deps, destination, recording.id, handle, signal);
  }
  if (recording.liveUploadHandle) {
    await setLiveUploadHandle(deps.db, recording.id, null);
  }
  // An object at the key can only be the relay's from an earlier attempt (or delivery) of this
  // recording; on the very first attempt there is none, and the check would cost a request to
  // the cloud (HEAD / Get Properties / GET metadata) on every delivery. What was at the key
  // before the relay ever wrote there is overwritten, as it would be after a mismatch.
  const mayBeThere = !delivery.firstAttemptEver || recording.liveUploadHandle !== null;
  if (mayBeThere && (await alreadyDelivered(deps, destination, recording, signal))) {
    return { reusedExisting: true };
  }
  await uploadStream(
    destination,
    recording.key,
    // Upload.write copies each chunk before it resolves: the store may reuse one read buffer.
    deps.staging.read(recording.id, { end: recording.bytesReceived, reuseBuffer: true }),
    {
      expectedSizeBytes: recording.bytesReceived,
      signal,
      onHandle: async (handle) => {
        // Not saved means the lease is gone: stop, so that uploadStream aborts this upload.
        if (!(await saveUploadHandle(deps.db, delivery, handle))) {
          throw new Error("lost the delivery's lease before the upload's handle was saved");
        }
      },
    },
  );
  return { reusedExisting: false };
}

/**
 * Runs one claimed delivery to its recorded outcome. `stop` aborts it when the worker shuts
 * down: the delivery is then handed back, due at once, without a failure recorded.
 */
export async function runAttempt(
  deps: AttemptDeps,
  delivery: ClaimedDelivery,
  stop: AbortSignal,
): Promise<void> {
  const recording = await findRecording(deps.db, delivery.recordingId);
  if (!recording || recording.state === "purged" || recording.state === "receiving") {
    // Nothing to deliver (purged meanwhile, or a bug): end the delivery quietly.
    await finishAttempt(
      deps.db,
      delivery,
      {
        kind: "failed",
        errorCode: "RECORDING_PURGED",
        errorMessage: "the staged copy is gone; nothing to deliver",
      },
      deps.clock.now(),
    );
    return;
  }
  const startedAt = performance.now();
  const outcome = await withLease(deps, delivery, stop, async (signal) => {
    try {
      return { ok: true as const, ...(await deliver(deps, delivery, recording, signal)) };
    } catch (error) {
      if (stop.aborted) return { ok: "stopped" as const };
      return { ok: false as const, failure: failureOf(error) };
    }
  });
  const report = (
    outcome: AttemptOutcomeKind,
    extra: Partial<Pick<AttemptReport, "code" | "reusedExisting" | "error" | "retryInMs">> = {},
  ): AttemptReport => ({
    recordingId: recording.id,
    workspaceId: recording.workspaceId,
    deliveryId: delivery.id,
    attempt: delivery.attempt,
    provider: recording.storage.provider,
    outcome,
    code: null,
    bytes: recording.bytesReceived,
    durationMs: Math.round(performance.now() - startedAt),
    reusedExisting: false,
    path: "queue",
    ...extra,
  });
  if (outcome.lost) {
    reportAttempt(deps, report("lease_lost"));
    return;
  }
  const result = outcome.value;
  const nowMs = deps.clock.now();
  if (result.ok === "stopped") {
    await finishAttempt(deps.db, delivery, { kind: "released" }, nowMs);
    reportAttempt(deps, report("released"));
    return;
  }
  if (result.ok) {
    const recorded = await recordDelivered(deps.db, delivery, recording, {
      reusedExisting: result.reusedExisting,
      nowMs,
      retention: deps.retention,
    });
    if (recorded) {
      reportAttempt(deps, report("delivered", { reusedExisting: result.reusedExisting }));
      deps.onEvent?.();
    } else {
      reportAttempt(deps, report("lease_lost"));
    }
    return;
  }
  const ended = await recordFailedAttempt(deps, delivery, recording, result.failure, nowMs);
  reportAttempt(
    deps,
    report(ended.outcome, {
      code: ended.code,
      error: result.failure.message,
      ...(ended.retryInMs === undefined ? {} : { retryInMs: ended.retryInMs }),
    }),
  );
}

/**
 * Schedules the retry of a failed attempt, or records the recording as failed. Resolves with what
 * was recorded, for the attempt's report (`lease_lost`: another worker had taken it over).
 */
export async function recordFailedAttempt(
  deps: AttemptDeps,
  delivery: ClaimedDelivery,
  recording: Recording,
  failure: AttemptFailure,
  nowMs: number,
): Promise<{ outcome: "retry" | "failed" | "lease_lost"; code: string; retryInMs?: number }> {
  const decision = afterFailedAttempt(
    {
      code: failure.code,
      transient: failure.transient,
      attempts: delivery.attempt,
      elapsedMs: nowMs - delivery.createdAt.getTime(),
    },
    deps.retry,
    deps.random,
  );
  if (decision.kind === "retry") {
    const retried = await finishAttempt(
      deps.db,
      delivery,
      {
        kind: "retry",
        runAtMs: nowMs + decision.delayMs,
        errorCode: failure.code,
        errorMessage: failure.message,
      },
      nowMs,
    );
    return retried === false
      ? { outcome: "lease_lost", code: failure.code }
      : { outcome: "retry", code: failure.code, retryInMs: decision.delayMs };
  }
  const recorded = await recordFailed(
    deps.db,
    delivery,
    recording,
    { code: decision.code, message: failure.message },
    { nowMs, retention: deps.retention },
  );
  if (!recorded) return { outcome: "lease_lost", code: decision.code };
  deps.onEvent?.();
  return { outcome: "failed", code: decision.code };
}
