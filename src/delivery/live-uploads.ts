/**
 * Streaming delivery (docs/api.md, "Delivery"): while a recording is being appended, the process
 * that receives it pushes each staged part to the destination (S3 parts, GCS chunks, Azure
 * blocks), reading back from staging so memory stays at one part per recording whatever the
 * producer's pace. At
 * `complete` only the tail is left, so the object lands about a second after the stop.
 *
 * It is an optimisation only: the first failure abandons the live upload, and the delivery then
 * runs like any other, as a fresh upload from staging under the same key.
 */
import { isDestinationError, type Upload, type UploadHandle } from "../destinations/index.ts";
import type { CreateDestination } from "../providers/factory.ts";
import type { Recording } from "../recordings/store.ts";
import { setLiveUploadHandle } from "../recordings/store.ts";
import {
  type AttemptDeps,
  type AttemptOutcomeKind,
  failureOf,
  reportAttempt,
  withLease,
} from "./attempt.ts";
import { recordDelivered } from "./outcome.ts";
import { type ClaimedDelivery, finishAttempt, notifyWorkers } from "./queue.ts";

/** One recording's live upload. */
interface Live {
  recordingId: string;
  controller: AbortController;
  upload: Upload | undefined;
  /** Bytes sent to the upload so far. */
  sent: number;
  /** Bytes staged (and acknowledged) so far: the pump catches up to it. */
  staged: number;
  /** The chain of pump runs; each sends what was staged when it ran. */
  pump: Promise<void>;
  failure: unknown;
  handleSaved: boolean;
}

/** What live uploads need. */
export interface LiveUploadDeps extends AttemptDeps {
  createDestination: CreateDestination;
  /** Names this process as the holder of the deliveries it finishes. */
  workerId: string;
  /** Wakes this process's worker, if it runs one (NOTIFY reaches the others). */
  wakeWorker?: () => void;
}

/** The live uploads of one process. */
export class LiveUploads {
  readonly #deps: LiveUploadDeps;
  readonly #live = new Map<string, Live>();
  readonly #stop = new AbortController();
  readonly #finishing = new Set<Promise<void>>();

  constructor(deps: LiveUploadDeps) {
    this.#deps = deps;
  }

  /**
   * Bytes [previousOffset, newOffset) of `recording` were just staged and acknowledged: sends
   * them on in the background. A live upload starts only with a recording's first bytes; one
   * whose earlier appends went through another process is not streamed from here.
   */
  appended(recording: Recording, previousOffset: number, newOffset: number): void {
    if (this.#stop.signal.aborted) return;
    let live = this.#live.get(recording.id);
    if (!live) {
      if (previousOffset !== 0) return;
      live = {
        recordingId: recording.id,
        controller: new AbortController(),
        upload: undefined,
        sent: 0,
        staged: 0,
        pump: Promise.resolve(),
        failure: undefined,
        handleSaved: false,
      };
      this.#live.set(recording.id, live);
    } else if (live.staged !== previousOffset) {
      // Appends reached this recording elsewhere: this process no longer sees every byte.
      this.#abandon(live, new Error("appends arrived through another process"));
      return;
    }
    live.staged = newOffset;
    const current = live;
    live.pump = live.pump.then(() => this.#send(recording, current));
  }

  /** Whether `recording`'s live upload is healthy and has (or will have) every byte. */
  isStreaming(recordingId: string, sizeBytes: number): boolean {
    const live = this.#live.get(recordingId);
    return live !== undefined && live.failure === undefined && live.staged === sizeBytes;
  }

  /** The handle of the live upload, to move onto the delivery at `complete`. */
  handleOf(recordingId: string) {
    return this.#live.get(recordingId)?.upload?.handle ?? null;
  }

  /**
   * Finishes the live upload as the first attempt of `delivery` (claimed by this process at
   * `complete`): sends the tail, commits, records the delivery. On failure the delivery goes
   * back to the queue, due at once, and a worker uploads it afresh from staging.
   */
  finish(recording: Recording, delivery: ClaimedDelivery): void {
    const live = this.#live.get(recording.id);
    const running = this.#finish(recording, delivery, live).finally(() => {
      this.#finishing.delete(running);
      this.#live.delete(recording.id);
    });
    this.#finishing.add(running);
  }

  /** Abandons a recording's live upload (the recording will not be streamed from here). */
  forget(recordingId: string): void {
    const live = this.#live.get(recordingId);
    if (live) this.#abandon(live, new Error("abandoned"));
  }

  /** Stops every live upload; their deliveries fall back to workers. */
  async stop(): Promise<void> {
    this.#stop.abort();
    for (const live of this.#live.values()) live.controller.abort();
    await Promise.allSettled([...this.#finishing, ...[...this.#live.values()].map((l) => l.pump)]);
  }

  async #send(recording: Recording, live: Live): Promise<void> {
    if (live.failure !== undefined) return;
    const signal = AbortSignal.any([live.controller.signal, this.#stop.signal]);
    try {
      if (!live.upload) {
        const destination = this.#deps.createDestination(recording.storage, {
          workspaceId: recording.workspaceId,
        });
        live.upload = await destination.openUpload(recording.key, {
          signal,
          // Recorded before the first part is sent (the adapter waits for it).
          onHandle: (handle) => this.#recordHandle(live, handle),
        });
      }
      const upload = live.upload;
      await this.#saveHandle(live, upload);
      while (live.sent < live.staged) {
        const end = live.staged;
        for await (const chunk of this.#deps.staging.read(recording.id, {
          start: live.sent,
          end,
          // Upload.write copies each chunk before it resolves: one read buffer will do.
          reuseBuffer: true,
        })) {
          await upload.write(chunk, signal);
          live.sent += chunk.byteLength;
          await this.#saveHandle(live, upload);
        }
      }
    } catch (error) {
      this.#abandon(live, error);
    }
  }

  /**
   * Records the upload's handle as soon as the cloud has one (the adapter reports it before the
   * first part is sent; looked at again after each write), so that a crash from then on leaves it
   * for the next attempt to abort.
   */
  async #saveHandle(live: Live, upload: Upload): Promise<void> {
    if (upload.handle) await this.#recordHandle(live, upload.handle);
  }

  async #recordHandle(live: Live, handle: UploadHandle): Promise<void> {
    if (live.handleSaved) return;
    await setLiveUploadHandle(this.#deps.db, live.recordingId, handle);
    live.handleSaved = true;
  }

  #abandon(live: Live, error: unknown): void {
    if (live.failure !== undefined) return;
    live.failure = error ?? new Error("live upload failed");
    live.controller.abort();
    this.#deps.log.warn(
      { err: error, recording: live.recordingId },
      "live upload abandoned; the recording will be uploaded from staging after complete",
    );
    const upload = live.upload;
    // The handle stays recorded until the abort is through (and after a failed abort), so the
    // next delivery attempt cleans it up.
    void (async () => {
      await live.pump.catch(() => {});
      const aborted = await (upload?.abort(AbortSignal.timeout(30_000)) ?? Promise.resolve())
        .then(() => true)
        .catch(() => false);
      if (aborted && live.handleSaved) {
        await setLiveUploadHandle(this.#deps.db, live.recordingId, null).catch(() => {});
      }
    })();
    this.#live.delete(live.recordingId);
  }

  async #finish(recording: Recording, delivery: ClaimedDelivery, live: Live | undefined) {
    const deps = this.#deps;
    let failure: unknown = live ? undefined : new Error("no live upload");
    const startedAt = performance.now();
    const report = (outcome: AttemptOutcomeKind, code: string | null, error?: string) =>
      reportAttempt(deps, {
        recordingId: recording.id,
        workspaceId: recording.workspaceId,
        deliveryId: delivery.id,
        attempt: delivery.attempt,
        provider: recording.storage.provider,
        outcome,
        code,
        bytes: recording.bytesReceived,
        durationMs: Math.round(performance.now() - startedAt),
        reusedExisting: false,
        path: "live",
        ...(error === undefined ? {} : { error }),
      });
    if (live) {
      const outcome = await withLease(deps, delivery, this.#stop.signal, async (signal) => {
        await live.pump;
        if (live.failure !== undefined) throw live.failure;
        if (!live.upload) throw new Error("the live upload never started");
        const result = await live.upload.complete(signal);
        if (result.sizeBytes !== recording.bytesReceived) {
          throw new Error(
            `the destination stored ${result.sizeBytes} bytes, ${recording.bytesReceived} were staged`,
          );
        }
      }).catch((error: unknown) => ({ lost: false as const, failed: error }));
      if (outcome.lost) {
        report("lease_lost", null);
        return;
      }
      if (!("failed" in outcome)) {
        const recorded = await recordDelivered(deps.db, delivery, recording, {
          reusedExisting: false,
          nowMs: deps.clock.now(),
          retention: deps.retention,
        });
        report(recorded ? "delivered" : "lease_lost", null);
        if (recorded) deps.onEvent?.();
        return;
      }
      failure = outcome.failed;
      if (live.upload) await live.upload.abort(AbortSignal.timeout(30_000)).catch(() => {});
    }
    // Back to the queue, due now: a worker takes it as a fresh upload from staging. What is
    // recorded meanwhile is the live upload's own classified failure (the customer reads the
    // same code, cloud words and hint the fresh attempt will most likely meet), or, when the
    // relay itself gave up streaming (appends through another process, shutdown), what it was.
    const recorded = failureOf(failure);
    report("retry", recorded.code, recorded.message);
    await finishAttempt(
      deps.db,
      delivery,
      {
        kind: "retry",
        runAtMs: deps.clock.now(),
        errorCode: recorded.code,
        errorMessage: isDestinationError(failure)
          ? recorded.message
          : `The relay stopped streaming the recording while it arrived (${failure instanceof Error ? failure.message : String(failure)}); it uploads it from staging instead.`,
      },
      deps.clock.now(),
    ).catch((error: unknown) =>
      deps.log.error({ err: error, delivery: delivery.id }, "could not requeue a delivery"),
    );
    await notifyWorkers(deps.db).catch(() => {});
    deps.wakeWorker?.();
  }
}
