/**
 * The live diagnostic of a destination (docs/api.md, `POST /v2/recording-storage/verify`):
 * identity exchange, impersonation where the cloud has one, a probe write under the key
 * template's prefix and its deletion. Each step passes, fails (with the docs/errors.md code, the
 * cloud's words and a hint) or is skipped; after a failure, the later steps are skipped.
 */
import { randomBytes } from "node:crypto";
import { verifyProbePrefix } from "../domain/key-template.ts";
import { type Destination, DestinationError } from "./contract.ts";

/** The steps, in order. */
export const verifySteps = [
  "identity_exchange",
  "impersonation",
  "probe_write",
  "probe_delete",
] as const;

/** One step's outcome. */
export interface VerifyStep {
  step: (typeof verifySteps)[number];
  status: "pass" | "fail" | "skip";
  /** The docs/errors.md code of a failure. */
  error_code?: string;
  /** The cloud's own code and text. */
  cloud_code?: string;
  cloud_message?: string;
  message?: string;
  hint?: string;
}

/** The whole report. */
export interface VerifyReport {
  ok: boolean;
  provider: Destination["provider"];
  /** Where the probe was written (and deleted). */
  probe_key: string;
  steps: VerifyStep[];
}

const PROBE_BODY = Buffer.from("recording-relay verify probe: safe to delete\n");

/** Runs every step against `destination`, probing under the prefix of `keyTemplate`. */
export async function verifyDestination(
  destination: Destination,
  keyTemplate: string,
  signal: AbortSignal,
): Promise<VerifyReport> {
  const probeKey = `${verifyProbePrefix(keyTemplate)}probe-${Date.now()}-${randomBytes(4).toString("hex")}`;
  const steps: VerifyStep[] = [];
  let failed = false;
  const run = async (step: VerifyStep["step"], action: () => Promise<"pass" | "skip">) => {
    if (failed) {
      steps.push({ step, status: "skip" });
      return;
    }
    try {
      steps.push({ step, status: await action() });
    } catch (error) {
      failed = true;
      steps.push(failedStep(step, error));
    }
  };

  let impersonation: "pass" | "skip" = "skip";
  let identityError: unknown;
  try {
    impersonation = (await destination.checkIdentity(signal)).impersonation;
  } catch (error) {
    identityError = error;
  }
  if (identityError instanceof DestinationError && identityError.stage === "impersonation") {
    // The exchange itself worked; only impersonation failed.
    steps.push({ step: "identity_exchange", status: "pass" });
    steps.push(failedStep("impersonation", identityError));
    failed = true;
  } else {
    await run("identity_exchange", async () => {
      if (identityError) throw identityError;
      return "pass";
    });
    await run("impersonation", async () => impersonation);
  }
  await run("probe_write", async () => {
    await destination.putSmallObject(probeKey, PROBE_BODY, signal);
    return "pass";
  });
  await run("probe_delete", async () => {
    await destination.deleteObject(probeKey, signal);
    return "pass";
  });
  // An impersonation the cloud does not have is skipped even on success.
  if (impersonation === "skip" && !identityError) {
    const step = steps.find((s) => s.step === "impersonation");
    if (step) step.status = "skip";
  }
  return { ok: !failed, provider: destination.provider, probe_key: probeKey, steps };
}

function failedStep(step: VerifyStep["step"], error: unknown): VerifyStep {
  if (error instanceof DestinationError) {
    return {
      step,
      status: "fail",
      error_code: error.code,
      cloud_code: error.cloudCode,
      cloud_message: error.cloudMessage,
      message: error.message,
      hint: error.hint,
    };
  }
  return {
    step,
    status: "fail",
    error_code: "DESTINATION_UNAVAILABLE",
    message: error instanceof Error ? error.message : String(error),
  };
}
