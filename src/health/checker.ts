/**
 * The scheduled destination health check (docs/api.md, Destination health): in worker processes,
 * each workspace's default destination and every destination a delivery used in the last 7 days
 * is checked once per interval — the identity exchange and impersonation, optionally a probe
 * write, and the confused-deputy self-check — through the process's destination factory (so the
 * credential cache is shared with deliveries). A change of status is recorded with its event
 * (`application.recording_storage_unhealthy` / `_recovered`) in one transaction.
 */
import { randomBytes } from "node:crypto";
import type { Db } from "../db/index.ts";
import { type Destination, DestinationError } from "../destinations/contract.ts";
import { verifyProbePrefix } from "../domain/key-template.ts";
import type { Clock } from "../lib/clock.ts";
import type { CreateDestination } from "../providers/factory.ts";
import { enqueueHealthEvent } from "../webhooks/index.ts";
import {
  type CheckResult,
  type ClaimedCheck,
  claimDueChecks,
  recordCheck,
  registerDestinations,
} from "./store.ts";

const DAY_MS = 86_400_000;
/** Destinations used by a delivery this recently are checked. */
const USED_WITHIN_MS = 7 * DAY_MS;
/** Destinations checked per claim. */
const BATCH = 20;
/** How long a claimed check may run before another process may take it over. */
const CHECK_LEASE_MS = 5 * 60_000;
/** The longest a loop sleeps between rounds (new destinations are picked up this fast). */
const MAX_TICK_MS = 60_000;

/** Where the checker reports (a pino logger fits). */
export interface HealthLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** What the checker needs. */
export interface HealthCheckerDeps {
  db: Db;
  createDestination: CreateDestination;
  clock: Clock;
  log: HealthLog;
  intervalMs: number;
  /** Also write and delete a probe object. */
  probeWrite: boolean;
  /** Key template of destinations without their own (the workspace default's). */
  defaultKeyTemplate: string;
  /** Called after an event was enqueued (wakes the webhook sender). */
  onEvent?: () => void;
  /** Jitter source in [0, 1). */
  random?: () => number;
}

/** What one round did. */
export interface HealthRound {
  checked: number;
  /** Status changes (each with its events). */
  transitions: number;
}

/** The checker of one process. */
export interface HealthChecker {
  /**
   * One round: register the destinations in scope and check those due at `nowMs` (default now;
   * tests pass a later instant instead of waiting an interval).
   */
  runOnce(options?: { nowMs?: number }): Promise<HealthRound>;
  /** Starts the jittered loop. */
  start(): void;
  /** Stops the loop and waits for a round in progress. */
  stop(): Promise<void>;
}

function failureOf(error: unknown): CheckResult {
  if (error instanceof DestinationError) {
    return {
      status: error.transient ? undefined : "unhealthy",
      errorCode: error.code,
      message: error.message,
      hint: error.hint,
      safety: null,
    };
  }
  return {
    status: undefined,
    errorCode: "DESTINATION_UNAVAILABLE",
    message: error instanceof Error ? error.message : String(error),
    hint: null,
    safety: null,
  };
}

/** Runs the checks of one destination; never throws. */
async function checkDestination(
  deps: HealthCheckerDeps,
  claim: ClaimedCheck,
  signal: AbortSignal,
): Promise<CheckResult> {
  let destination: Destination;
  try {
    destination = deps.createDestination(claim.destination, { workspaceId: claim.workspaceId });
    await destination.checkIdentity(signal);
    if (deps.probeWrite) {
      const key = `${verifyProbePrefix(claim.destination.key_template)}health-${randomBytes(6).toString("hex")}`;
      await destination.putSmallObject(key, Buffer.from("recording-relay health probe\n"), signal);
      await destination.deleteObject(key, signal);
    }
  } catch (error) {
    return failureOf(error);
  }
  const safety = await destination.checkSafety(signal).catch((error: unknown) => ({
    status: "skip" as const,
    message: `the check could not run: ${error instanceof Error ? error.message : String(error)}`,
  }));
  return {
    status: "healthy",
    errorCode: null,
    message: null,
    hint: null,
    safety: {
      status: safety.status,
      message: safety.message,
      ...("hint" in safety && safety.hint ? { hint: safety.hint } : {}),
    },
  };
}

/** Builds the checker; nothing runs until `start` or `runOnce`. */
export function createHealthChecker(deps: HealthCheckerDeps): HealthChecker {
  const random = deps.random ?? Math.random;
  const stopping = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let round: Promise<unknown> = Promise.resolve();

  async function runOnce(options: { nowMs?: number } = {}): Promise<HealthRound> {
    const nowMs = options.nowMs ?? deps.clock.now();
    await registerDestinations(deps.db, {
      nowMs,
      usedSince: new Date(nowMs - USED_WITHIN_MS),
      defaultKeyTemplate: deps.defaultKeyTemplate,
    });
    const result: HealthRound = { checked: 0, transitions: 0 };
    for (;;) {
      const claims = await claimDueChecks(deps.db, {
        nowMs,
        // Out of scope once neither a default nor used lately: no longer registered, not checked.
        seenSince: new Date(nowMs - 1),
        intervalMs: deps.intervalMs,
        leaseMs: CHECK_LEASE_MS,
        limit: BATCH,
      });
      if (claims.length === 0) return result;
      for (const claim of claims) {
        const signal = AbortSignal.any([stopping.signal, AbortSignal.timeout(CHECK_LEASE_MS / 2)]);
        const found = await checkDestination(deps, claim, signal);
        // The check's own time (events are due from it); `nowMs` only schedules.
        const checkedAtMs = deps.clock.now();
        const changed = await deps.db.transaction(async (tx) => {
          const status = await recordCheck(tx, claim, found, checkedAtMs);
          if (status === undefined || status === claim.status) return false;
          // unknown → healthy is the first check passing: nothing to tell.
          if (status === "healthy" && claim.status === "unknown") return true;
          await enqueueHealthEvent(tx, {
            type:
              status === "unhealthy"
                ? "application.recording_storage_unhealthy"
                : "application.recording_storage_recovered",
            workspaceId: claim.workspaceId,
            destinationKey: claim.destinationKey,
            transition: claim.transitions + 1,
            nowMs: checkedAtMs,
            properties: {
              storage_provider: claim.destination.provider,
              recording_storage: claim.destination,
              // A status change after a check that told: healthy or unhealthy.
              status: status as "healthy" | "unhealthy",
              previous_status: claim.status,
              checked_at: new Date(checkedAtMs).toISOString(),
              error_code: found.errorCode,
              message: found.message,
              hint: found.hint,
            },
          });
          return true;
        });
        result.checked++;
        if (changed) {
          result.transitions++;
          deps.log.warn(
            {
              workspace: claim.workspaceId,
              provider: claim.destination.provider,
              from: claim.status,
              to: found.status,
              code: found.errorCode,
            },
            "destination health changed",
          );
          deps.onEvent?.();
        }
      }
    }
  }

  const schedule = () => {
    const tickMs = Math.min(deps.intervalMs, MAX_TICK_MS);
    // Jittered, so processes started together do not query in step.
    timer = setTimeout(
      () => {
        round = runOnce()
          .catch((error: unknown) =>
            deps.log.error({ err: error }, "destination health round failed; retrying"),
          )
          .finally(() => {
            if (!stopping.signal.aborted) schedule();
          });
      },
      tickMs * (0.5 + random() * 0.5),
    );
    timer.unref();
  };

  return {
    runOnce,
    start: schedule,
    async stop() {
      stopping.abort(new Error("the health checker is stopping"));
      clearTimeout(timer);
      await round.catch(() => {});
    },
  };
}
