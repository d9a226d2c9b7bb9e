/**
 * When a failed delivery attempt is tried again (docs/api.md, "Delivery"): transient failures with
 * exponential backoff and full jitter (src/lib/backoff.ts) within a long budget; failures of the
 * customer's setup (trust, permissions, missing bucket) fewer times within a short one, because
 * such fixes take minutes to propagate (Azure federated credentials, IAM); everything else fails
 * at once.
 */
import type { DestinationErrorCode } from "../destinations/index.ts";
import { fullJitterBackoffMs } from "../lib/backoff.ts";

/** The retry settings (all configuration; see docs/configuration.md). */
export interface RetryPolicySettings {
  /** First delay for transient failures; doubles per attempt. */
  baseMs: number;
  /** Longest delay between attempts. */
  capMs: number;
  /** How long transient failures are retried, from the delivery's creation. */
  budgetMs: number;
  /** First delay for setup failures. */
  configBaseMs: number;
  /** How long setup failures are retried, from the delivery's creation. */
  configBudgetMs: number;
}

/** What a failed attempt was. */
export interface FailedAttempt {
  code: DestinationErrorCode;
  /** The classifier said "worth retrying soon" (network, 5xx, throttling, expired token). */
  transient: boolean;
  /** Attempts made so far, this one included (1-based). */
  attempts: number;
  /** Milliseconds since the delivery was created. */
  elapsedMs: number;
}

/** Retry after `delayMs`, or give up with the code to report. */
export type RetryDecision =
  | { kind: "retry"; delayMs: number }
  | { kind: "give_up"; code: DestinationErrorCode };

/** Codes that mean "the customer's setup is wrong right now", which a fix may soon change. */
const setupCodes: ReadonlySet<DestinationErrorCode> = new Set([
  "DESTINATION_AUTH_FAILED",
  "DESTINATION_NOT_FOUND",
  "DESTINATION_REGION_MISMATCH",
]);

/** Decides what follows a failed attempt. */
export function afterFailedAttempt(
  failure: FailedAttempt,
  settings: RetryPolicySettings,
  random: () => number = Math.random,
): RetryDecision {
  const { code, attempts, elapsedMs } = failure;
  if (failure.transient) {
    const delayMs = fullJitterBackoffMs(attempts, {
      baseMs: settings.baseMs,
      capMs: settings.capMs,
      random,
    });
    // Past the budget, a transient failure is reported as the destination being unavailable.
    // NOT_CONFIGURED (the operator's own setup) is reported as itself.
    if (elapsedMs + delayMs > settings.budgetMs)
      return {
        kind: "give_up",
        code: code === "NOT_CONFIGURED" ? code : "DESTINATION_UNAVAILABLE",
      };
    return { kind: "retry", delayMs };
  }
  if (setupCodes.has(code)) {
    const delayMs = fullJitterBackoffMs(attempts, {
      baseMs: settings.configBaseMs,
      capMs: settings.capMs,
      random,
    });
    if (elapsedMs + delayMs > settings.configBudgetMs) return { kind: "give_up", code };
    return { kind: "retry", delayMs };
  }
  // DESTINATION_REJECTED (object lock, KMS, quota) is not going to change by waiting; a
  // redelivery retries it on demand. (The adapters mark INTEGRITY_CHECK_FAILED transient: it is
  // retried above and, if it persists, reported as DESTINATION_UNAVAILABLE.)
  return { kind: "give_up", code };
}
