/** Abort signals tied to leases held in the database. */

/** A lease renewed in the background; see {@link keepLease}. */
export interface KeptLease {
  /** Aborts, with an `Error` saying so, once a renewal finds the lease lost. */
  readonly signal: AbortSignal;
  /** Stops renewing (the work is over, whatever its outcome). */
  stop(): void;
}

/**
 * Renews a lease every third of `leaseMs` until `stop()`, so that it never lapses while its work
 * runs. `renew` resolves false when the lease was lost (it lapsed and another holder took it):
 * the signal then aborts with `lostMessage`, for the work to stop at once. A renewal that throws
 * (a database hiccup) is only reported to `onRenewError`; the next one tries again.
 */
export function keepLease(options: {
  leaseMs: number;
  renew: () => Promise<boolean>;
  lostMessage: string;
  onRenewError?: (error: unknown) => void;
}): KeptLease {
  const lost = new AbortController();
  const timer = setInterval(
    () => {
      options.renew().then(
        (held) => {
          if (!held) lost.abort(new Error(options.lostMessage));
        },
        (error: unknown) => options.onRenewError?.(error),
      );
    },
    Math.max(1, Math.floor(options.leaseMs / 3)),
  );
  return { signal: lost.signal, stop: () => clearInterval(timer) };
}
