/**
 * Seeded fault injection: injected 429/500/503 answers, added latency, connection resets in the
 * middle of a body, and tokens that die before their advertised expiry.
 */
import { createSeededRandom, type Random } from "../shared/rng.ts";

/** The APIs faults can target. */
export type FaultApi = "sts" | "iam" | "gcs";

/** Fault settings; every field can be changed at runtime. */
export interface GcpFaults {
  /** Seed of the fault schedule; setting it restarts the schedule. */
  seed: number;
  /** Probability (0–1) that a request is answered with one of `errorStatuses` instead of served. */
  errorRate: number;
  /** Statuses picked uniformly for injected errors. */
  errorStatuses: (429 | 500 | 503)[];
  /** Latency added before every answer. */
  latencyMs: number;
  /** Extra random latency, uniform in [0, latencyJitterMs). */
  latencyJitterMs: number;
  /** Probability (0–1) that the connection is reset part-way through the request or response body. */
  resetRate: number;
  /** When set, tokens issued from now on stop working after this many seconds, whatever `expires_in` said. */
  tokenLifetimeSeconds: number | undefined;
  /** Which APIs the error/latency/reset faults apply to. */
  apis: FaultApi[];
}

/** What to do to one request. */
export interface FaultDecision {
  latencyMs: number;
  errorStatus: 429 | 500 | 503 | undefined;
  /** Reset the connection after this fraction (0–1) of the body, or undefined for no reset. */
  resetAfterFraction: number | undefined;
}

const DEFAULTS: GcpFaults = {
  seed: 1,
  errorRate: 0,
  errorStatuses: [429, 503],
  latencyMs: 0,
  latencyJitterMs: 0,
  resetRate: 0,
  tokenLifetimeSeconds: undefined,
  apis: ["sts", "iam", "gcs"],
};

/** Holds the fault settings and draws decisions from the seeded schedule. */
export class FaultInjector {
  #faults: GcpFaults;
  #random: Random;

  constructor(initial: Partial<GcpFaults> = {}) {
    this.#faults = validate({ ...DEFAULTS, ...initial });
    this.#random = createSeededRandom(this.#faults.seed);
  }

  /** The current settings (a copy). */
  get current(): GcpFaults {
    return {
      ...this.#faults,
      errorStatuses: [...this.#faults.errorStatuses],
      apis: [...this.#faults.apis],
    };
  }

  /** Changes some settings; giving `seed` restarts the schedule. */
  set(update: Partial<GcpFaults>): void {
    this.#faults = validate({ ...this.#faults, ...update });
    if (update.seed !== undefined) this.#random = createSeededRandom(this.#faults.seed);
  }

  /** Draws the decision for one request; always consumes four numbers to keep schedules stable. */
  decide(api: FaultApi): FaultDecision {
    const [jitter, error, pick, reset] = [
      this.#random(),
      this.#random(),
      this.#random(),
      this.#random(),
    ];
    const f = this.#faults;
    if (!f.apis.includes(api))
      return { latencyMs: 0, errorStatus: undefined, resetAfterFraction: undefined };
    const statuses = f.errorStatuses;
    return {
      latencyMs: f.latencyMs + jitter * f.latencyJitterMs,
      errorStatus:
        error < f.errorRate && statuses.length > 0
          ? statuses[Math.floor(pick * statuses.length)]
          : undefined,
      // Reuse the jitter draw for where to cut, so a reset lands somewhere inside the body.
      resetAfterFraction: reset < f.resetRate ? jitter : undefined,
    };
  }

  /** The early-expiry cap for a token issued now, in ms. */
  tokenLifetimeCapMs(): number | undefined {
    const seconds = this.#faults.tokenLifetimeSeconds;
    return seconds === undefined ? undefined : seconds * 1000;
  }
}

function validate(faults: GcpFaults): GcpFaults {
  const probability = (name: string, value: number) => {
    if (!(value >= 0 && value <= 1)) throw new RangeError(`${name} must be between 0 and 1`);
  };
  probability("errorRate", faults.errorRate);
  probability("resetRate", faults.resetRate);
  if (!(faults.latencyMs >= 0) || !(faults.latencyJitterMs >= 0))
    throw new RangeError("latency must be ≥ 0");
  if (faults.tokenLifetimeSeconds !== undefined && !(faults.tokenLifetimeSeconds >= 0)) {
    throw new RangeError("tokenLifetimeSeconds must be ≥ 0");
  }
  for (const status of faults.errorStatuses) {
    if (![429, 500, 503].includes(status))
      throw new RangeError(`unsupported injected status ${status}`);
  }
  return faults;
}
