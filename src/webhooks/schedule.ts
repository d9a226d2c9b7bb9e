/**
 * When a failed event is tried again (docs/api.md, "Events"): immediately, then 5 s, 5 min,
 * 30 min, 2 h, 5 h, 10 h and 10 h after each failure — eight attempts over about a day, then the
 * event fails. This fixed schedule is not the exponential backoff of src/lib/backoff.ts.
 */

/** Delay before each attempt, in milliseconds; the first is the initial send. */
export const RETRY_SCHEDULE_MS = [
  0,
  5_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3_600_000,
  5 * 3_600_000,
  10 * 3_600_000,
  10 * 3_600_000,
] as const;

/** Attempts before an event is marked failed. */
export const MAX_ATTEMPTS = RETRY_SCHEDULE_MS.length;

/** Largest jitter, as a fraction of the delay: spreads a receiver's recovery burst a little. */
export const JITTER_FRACTION = 0.1;

/** What happens after a failed attempt. */
export type RetryDecision = { kind: "retry"; delayMs: number } | { kind: "give_up" };

/**
 * The decision after attempt number `attempts` (1-based) failed. `random` in [0, 1) adds up to
 * {@link JITTER_FRACTION} of the delay, never less than the schedule.
 */
export function nextEventAttempt(
  attempts: number,
  random: () => number = Math.random,
): RetryDecision {
  if (attempts >= MAX_ATTEMPTS) return { kind: "give_up" };
  const base = RETRY_SCHEDULE_MS[Math.max(attempts, 1)]!;
  return { kind: "retry", delayMs: base + Math.floor(base * JITTER_FRACTION * random()) };
}
