/**
 * What the adapters need from the operator's configuration: cloud endpoints (real clouds by
 * default; emulators, the demo and sovereign clouds otherwise), retry bounds and timeouts. Each
 * provider owns its part (`src/providers/<cloud>/settings.ts`); the registry lists the parts.
 */
import { DEFAULT_MEMORY_BUDGET_BYTES, DEFAULT_PARTS_IN_FLIGHT } from "./parts.ts";

/** Settings every adapter reads. */
export interface CommonDestinationSettings {
  /** PEM of an extra CA to trust for outgoing TLS (added to the built-in roots). */
  extraCaPem: string | undefined;
  /** Attempts per cloud request, first included (SDK retries; our GCS client likewise). */
  maxAttempts: number;
  /** First retry delay; doubles with full jitter, capped at 20 s. */
  retryBaseDelayMs: number;
  /** Timeout of one request (a part upload included), in ms. */
  requestTimeoutMs: number;
  /** Parts (S3) or blocks (Azure) of one upload sent at once; GCS sends one chunk at a time. */
  partsInFlight: number;
  /** Bytes of part buffers, buffered or in flight, of all the uploads of the process. */
  memoryBudgetBytes: number;
}

/**
 * What one provider's adapter reads: the common settings and its own part under its key (`aws`,
 * `gcp`, `azure`). The registry (src/providers/index.ts) composes every provider's part into the
 * settings of a process, which fit each of these.
 */
export type SettingsWith<Key extends string, Own> = CommonDestinationSettings & {
  readonly [K in Key]: Own;
};

/** The documented retry and timeout defaults. */
export const defaultCommonDestinationSettings: CommonDestinationSettings = {
  extraCaPem: undefined,
  maxAttempts: 5,
  retryBaseDelayMs: 500,
  requestTimeoutMs: 120_000,
  partsInFlight: DEFAULT_PARTS_IN_FLIGHT,
  memoryBudgetBytes: DEFAULT_MEMORY_BUDGET_BYTES,
};

/** Full-jitter exponential backoff delay for retry `attempt` (1-based). */
export function backoffDelayMs(attempt: number, baseDelayMs: number): number {
  return Math.random() * Math.min(20_000, baseDelayMs * 2 ** (attempt - 1));
}
