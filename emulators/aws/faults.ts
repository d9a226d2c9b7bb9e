import { createSeededRandom, type Random } from "../shared/rng.ts";
import {
  type FaultConfig,
  type FaultConfigInput,
  type FaultRule,
  faultConfigSchema,
} from "./config.ts";

/** What a request is, for matching fault rules. */
export interface FaultTarget {
  service: "s3" | "sts";
  operation: string;
  bucket?: string;
}

/** The faults decided for one request. */
export interface FaultPlan {
  latencyMs: number;
  error?: "InternalError" | "SlowDown";
  resetAfterBytes?: number;
  completeErrorIn200: boolean;
}

/** Holds the current fault configuration and draws decisions from its seeded generator. */
export class FaultInjector {
  #config: FaultConfig;
  #random: Random;

  constructor(config: FaultConfigInput) {
    this.#config = faultConfigSchema.parse(config);
    this.#random = createSeededRandom(this.#config.seed);
  }

  /** Replaces the configuration and reseeds the generator. */
  set(config: FaultConfigInput): void {
    this.#config = faultConfigSchema.parse(config);
    this.#random = createSeededRandom(this.#config.seed);
  }

  /** Removes every rule and the session lifetime cap. */
  clear(): void {
    this.set({ seed: this.#config.seed, rules: [] });
  }

  /** The configuration in force. */
  get config(): FaultConfig {
    return this.#config;
  }

  /** Decides the faults for one request; draws from the generator only for matching rules. */
  plan(target: FaultTarget): FaultPlan {
    const plan: FaultPlan = { latencyMs: 0, completeErrorIn200: false };
    for (const rule of this.#config.rules) {
      if (!matches(rule, target)) continue;
      plan.latencyMs += rule.latencyMs;
      if (rule.errorRate > 0 && plan.error === undefined && this.#random() < rule.errorRate) {
        plan.error = rule.errors[Math.floor(this.#random() * rule.errors.length)]!;
      }
      if (
        rule.resetRate > 0 &&
        plan.resetAfterBytes === undefined &&
        this.#random() < rule.resetRate
      ) {
        plan.resetAfterBytes = rule.resetAfterBytes;
      }
      if (
        rule.completeErrorIn200Rate > 0 &&
        target.operation === "CompleteMultipartUpload" &&
        this.#random() < rule.completeErrorIn200Rate
      ) {
        plan.completeErrorIn200 = true;
      }
    }
    return plan;
  }
}

function matches(rule: FaultRule, target: FaultTarget): boolean {
  if (rule.service !== undefined && rule.service !== target.service) return false;
  if (rule.bucket !== undefined && rule.bucket !== target.bucket) return false;
  if (rule.operations !== undefined && !rule.operations.includes(target.operation)) return false;
  return true;
}
