/**
 * The live diagnostic of a destination (docs/api.md, `POST /v2/recording-storage/verify`):
 * identity exchange, impersonation where the cloud has one, a probe write under the key
 * template's prefix and its deletion. Each step passes, fails (with the docs/errors.md code, the
 * cloud's words and a hint) or is skipped; after a failure, the later steps are skipped. Then the
 * confused-deputy self-check (`safety`, docs/security.md): `pass`, or `warn` with a hint when the
 * customer's trust would also admit the relay acting for another workspace.
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
  "safety",
] as const;

/** One step's outcome. */
export interface VerifyStep {
  step: (typeof verifySteps)[number];
  /** `warn` only for `safety`: the destination works, but its trust is too broad. */
  status: "pass" | "fail" | "skip" | "warn";
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
  // The safety check needs a working identity exchange to mean anything.
  if (identityError) {
    steps.push({ step: "safety", status: "skip" });
  } else {
    const safety = await destination.checkSafety(signal);
    steps.push({
      step: "safety",
      status: safety.status,
      message: safety.message,
      ...(safety.hint ? { hint: safety.hint } : {}),
      ...(safety.cloud_code ? { cloud_code: safety.cloud_code } : {}),
    });
  }
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
