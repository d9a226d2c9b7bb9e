/**
 * Exponential backoff with full jitter: the wait before retry number `attempt` (1-based) is
 * uniformly random in [0, min(capMs, baseMs × 2^(attempt−1))), which spreads out the retries of
 * many clients that failed together instead of synchronising them.
 */

/** The settings of {@link fullJitterBackoffMs}. */
export interface BackoffOptions {
  /** Upper bound of the first wait; doubles per attempt. */
  baseMs: number;
  /** Largest upper bound, however many attempts failed. */
  capMs: number;
  /** Source of uniform numbers in [0, 1); `Math.random` by default (tests pass their own). */
  random?: () => number;
}

/** The wait, in whole milliseconds, before retry number `attempt` (1-based). */
export function fullJitterBackoffMs(attempt: number, options: BackoffOptions): number {
  const { baseMs, capMs, random = Math.random } = options;
  // The exponent stops at 52: beyond it the bound is the cap anyway, and 2^n stays finite.
  const ceilingMs = Math.min(capMs, baseMs * 2 ** Math.min(Math.max(attempt, 1) - 1, 52));
  return Math.floor(random() * ceilingMs);
}
