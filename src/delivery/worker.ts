/**
 * The delivery worker: claims due deliveries up to its concurrency and runs them. It wakes on
 * NOTIFY (and on `wake()` within its own process) and polls as a fallback, so a lost
 * notification only delays work by one poll interval.
 */
import { type AttemptDeps, runAttempt } from "./attempt.ts";
import { claimDelivery, DELIVERY_CHANNEL } from "./queue.ts";

/** What a worker needs beyond an attempt's dependencies. */
export interface WorkerDeps extends AttemptDeps {
  /** Names this process in `deliveries.locked_by` (host, pid and a random part). */
  workerId: string;
  /** Deliveries run at the same time. */
  concurrency: number;
  /** Pause between looks when nothing is due. */
  pollMs: number;
}

/** A running or runnable worker. */
export interface DeliveryWorker {
  /** Starts claiming; resolves once it listens for notifications (or gave up and only polls). */
  start(): Promise<void>;
  /** Looks for due deliveries now (a delivery was just queued in this process). */
  wake(): void;
  /** Attempts in flight right now. */
  readonly busy: number;
  /**
   * Stops claiming and aborts the attempts in flight, which hand their deliveries back (due at
   * once, for another worker) rather than recording failures.
   */
  stop(): Promise<void>;
}

/** Builds a worker; nothing runs until `start`. */
export function createDeliveryWorker(deps: WorkerDeps): DeliveryWorker {
  const stopController = new AbortController();
  const inFlight = new Set<Promise<void>>();
  let wakeUp: (() => void) | undefined;
  let pendingWake = false;
  let loop: Promise<void> | undefined;
  let unlisten: (() => Promise<void>) | undefined;

  const wake = () => {
    pendingWake = true;
    wakeUp?.();
  };

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      if (pendingWake || stopController.signal.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakeUp = undefined;
        resolve();
      }
      wakeUp = done;
      stopController.signal.addEventListener("abort", done, { once: true });
    });

  async function fill(): Promise<void> {
    while (inFlight.size < deps.concurrency && !stopController.signal.aborted) {
      const delivery = await claimDelivery(deps.db, {
        workerId: deps.workerId,
        nowMs: deps.clock.now(),
        leaseMs: deps.leaseMs,
      });
      if (!delivery) return;
      const running = runAttempt(deps, delivery, stopController.signal)
        .catch((error: unknown) =>
          deps.log.error(
            { err: error, delivery: delivery.id },
            "a delivery attempt failed unexpectedly; its lease will lapse and it will be retried",
          ),
        )
        .finally(() => {
          inFlight.delete(running);
          // A slot is free: look again at once.
          wake();
        });
      inFlight.add(running);
    }
  }

  async function run(): Promise<void> {
    while (!stopController.signal.aborted) {
      pendingWake = false;
      try {
        await fill();
      } catch (error) {
        deps.log.error(
          { err: error },
          "could not claim deliveries; retrying after the poll interval",
        );
      }
      await pause(deps.pollMs);
    }
  }

  return {
    async start() {
      if (loop) return;
      try {
        unlisten = await deps.db.listen(DELIVERY_CHANNEL, wake);
      } catch (error) {
        deps.log.warn(
          { err: error },
          `could not LISTEN for new deliveries; polling every ${deps.pollMs} ms instead`,
        );
      }
      loop = run();
    },
    wake,
    get busy() {
      return inFlight.size;
    },
    async stop() {
      stopController.abort();
      await loop;
      await Promise.allSettled([...inFlight]);
      await unlisten?.();
    },
  };
}
