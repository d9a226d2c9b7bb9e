/**
 * Seeded fault injection: transient server errors, added latency, connections reset in the
 * middle of a body, and bearer tokens treated as expired before their `exp`. Every request draws
 * the same number of random values whatever the settings, so a seed replays the same decisions for
 * the same request order even after settings change at runtime.
 */
import { createSeededRandom, type Random } from "../shared/rng.ts";

/** Which half of the emulator a fault setting applies to. */
export type FaultSurface = "entra" | "blob";

/** Probabilities are per request, in [0, 1]. */
export interface FaultSettings {
  /** Answer 500 InternalError or 503 ServerBusy (Entra: 503 temporarily_unavailable). */
  errorRate: number;
  /** Fixed latency added before a request is handled. */
  latencyMs: number;
  /** Extra latency drawn uniformly from [0, latencyJitterMs). */
  latencyJitterMs: number;
  /** Destroy the connection part-way through the request body (or the response body of a read). */
  resetRate: number;
  /**
   * Blob only: reject a still-valid bearer token as expired (clock skew, early revocation); the
   * token stays rejected, so the client must fetch a new one.
   */
  earlyExpiryRate: number;
  /** Surfaces the settings apply to. */
  surfaces: FaultSurface[];
}

/** What the injector decided for one request. */
export interface FaultDecision {
  delayMs: number;
  /** A transient status to answer instead of handling the request. */
  errorStatus: 500 | 503 | undefined;
  /** Fraction of the body after which the connection is destroyed, when a reset was drawn. */
  resetAfterFraction: number | undefined;
  earlyExpiry: boolean;
}

/** Settings that inject nothing. */
export const noFaults: FaultSettings = {
  errorRate: 0,
  latencyMs: 0,
  latencyJitterMs: 0,
  resetRate: 0,
  earlyExpiryRate: 0,
  surfaces: ["entra", "blob"],
};

/** Holds the current settings and the seeded generator; settings may change at runtime. */
export class FaultInjector {
  #rng: Random;
  #settings: FaultSettings;
  #injected = 0;

  constructor(seed: number, settings: Partial<FaultSettings>) {
    this.#rng = createSeededRandom(seed);
    this.#settings = validate({ ...noFaults, ...settings });
  }

  /** Replaces some settings; the random sequence continues where it was. */
  update(settings: Partial<FaultSettings>): void {
    this.#settings = validate({ ...this.#settings, ...settings });
  }

  /** The settings in force. */
  get settings(): FaultSettings {
    return { ...this.#settings, surfaces: [...this.#settings.surfaces] };
  }

  /** How many errors and resets have been drawn so far (early expiries are counted by Blob). */
  get injectedCount(): number {
    return this.#injected;
  }

  /** Draws the decision for one request on `surface`. */
  decide(surface: FaultSurface): FaultDecision {
    const draws = [this.#rng(), this.#rng(), this.#rng(), this.#rng(), this.#rng(), this.#rng()];
    const [error = 1, kind = 0, jitter = 0, reset = 1, fraction = 0, expiry = 1] = draws;
    const s = this.#settings;
    if (!s.surfaces.includes(surface)) {
      return {
        delayMs: 0,
        errorStatus: undefined,
        resetAfterFraction: undefined,
        earlyExpiry: false,
      };
    }
    const decision: FaultDecision = {
      delayMs: s.latencyMs + Math.floor(jitter * s.latencyJitterMs),
      errorStatus: error < s.errorRate ? (kind < 0.5 ? 500 : 503) : undefined,
      // Never reset at byte 0: a real mid-body reset leaves the server with a partial body.
      resetAfterFraction: reset < s.resetRate ? 0.05 + fraction * 0.9 : undefined,
      earlyExpiry: surface === "blob" && expiry < s.earlyExpiryRate,
    };
    if (decision.errorStatus) this.#injected++;
    else if (decision.resetAfterFraction !== undefined) this.#injected++;
    return decision;
  }
}

function validate(settings: FaultSettings): FaultSettings {
  for (const key of ["errorRate", "resetRate", "earlyExpiryRate"] as const) {
    const value = settings[key];
    if (!(value >= 0 && value <= 1)) throw new Error(`fault ${key} must be within [0, 1]`);
  }
  for (const key of ["latencyMs", "latencyJitterMs"] as const) {
    if (!(settings[key] >= 0)) throw new Error(`fault ${key} must be >= 0`);
  }
  return settings;
}
