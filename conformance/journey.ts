/**
 * Steps 2–5 of the journey, the same against the emulators and against real accounts: verify
 * every step, deliver a recording and compare the object the cloud's own client reads back,
 * break the trust and expect the documented error and hint, restore it and deliver again.
 */
import type { Relay } from "./relay.ts";
import type { Report } from "./report.ts";

/** A customer whose bucket trusts the relay's workspace (emulated, or created in a real account). */
export interface Customer {
  /** `s3`, `gcs` or `azure_blob`. */
  provider: string;
  /** The `recording_storage` object of the customer's destination. */
  storage: object;
  /** What breaking the trust does, for the log. */
  breakDescription: string;
  breakTrust(): Promise<void>;
  restoreTrust(): Promise<void>;
  /** Size and SHA-256 of the object at `key`, read with the cloud's own client. */
  download(key: string): Promise<{ size: number; sha256: string }>;
  /** What the failure's hint must mention (docs/errors.md, DESTINATION_AUTH_FAILED). */
  expectedHint: RegExp;
}

/** How patient the journey is: the emulators apply changes at once, clouds take minutes. */
export interface Patience {
  /** How long a trust change may take to propagate. */
  propagationMs: number;
  /** Between two verify attempts while waiting for propagation. */
  pollMs: number;
  /** Consecutive verify results that count as settled (clouds are eventually consistent). */
  settledAfter: number;
  /** Size of the recording streamed in. */
  recordingBytes: number;
  /** How long a delivery may take. */
  deliveryMs: number;
}

/** The documented code of a refused trust (docs/errors.md). */
export const TRUST_REFUSED = "DESTINATION_AUTH_FAILED";

// biome-ignore lint/suspicious/noExplicitAny: the verify report, as the API answered it.
type VerifyReport = { ok: boolean; steps: any[] };

function describeVerify(report: VerifyReport): string {
  return report.steps
    .map(
      (s) =>
        `${s.step}=${s.status}${s.status === "fail" ? ` (${s.error_code}: ${s.message ?? s.hint ?? ""})` : ""}`,
    )
    .join(", ");
}

async function verify(relay: Relay, storage: object): Promise<VerifyReport> {
  const answer = await relay.call("POST", "/v2/recording-storage/verify", storage);
  if (answer.status !== 200) {
    throw new Error(`verify answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  }
  return answer.body as VerifyReport;
}

/**
 * Restarts the relay (so no cached credential hides a change) and runs verify until it answers
 * `wanted` `settledAfter` times in a row, or the propagation time is over.
 */
async function waitForVerify(
  relay: Relay,
  storage: object,
  wanted: boolean,
  patience: Patience,
  signal: AbortSignal,
): Promise<VerifyReport> {
  const deadline = Date.now() + patience.propagationMs;
  let streak = 0;
  for (;;) {
    signal.throwIfAborted();
    await relay.restart();
    const report = await verify(relay, storage);
    streak = report.ok === wanted ? streak + 1 : 0;
    if (streak >= patience.settledAfter) return report;
    if (Date.now() > deadline) {
      throw new Error(
        `verify still ${report.ok ? "passes" : "fails"} after ${patience.propagationMs / 1000} s: ${describeVerify(report)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, patience.pollMs));
  }
}

async function deliverIntact(
  relay: Relay,
  customer: Customer,
  patience: Patience,
): Promise<string> {
  const delivery = await relay.deliver(customer.storage, {
    bytes: patience.recordingBytes,
    timeoutMs: patience.deliveryMs,
  });
  const p = delivery.event.properties;
  if (delivery.event.event_type !== "application.recording_ready") {
    throw new Error(
      `expected recording_ready, got ${delivery.event.event_type}: ${p.error_code} ${p.error_message}`,
    );
  }
  if (p.size_bytes !== delivery.size || p.sha256 !== delivery.sha256) {
    throw new Error(
      `recording_ready says ${p.size_bytes} bytes, sha256 ${p.sha256}; streamed ${delivery.size} bytes, sha256 ${delivery.sha256}`,
    );
  }
  const stored = await customer.download(p.key);
  if (stored.size !== delivery.size || stored.sha256 !== delivery.sha256) {
    throw new Error(
      `the bucket holds ${stored.size} bytes, sha256 ${stored.sha256} at ${p.key}; streamed ${delivery.size} bytes, sha256 ${delivery.sha256}`,
    );
  }
  return p.storage_uri as string;
}

/** Runs steps 2–4 for one customer; every step is recorded in `report`. */
export async function runJourney(
  relay: Relay,
  customer: Customer,
  report: Report,
  patience: Patience,
  signal: AbortSignal,
  say: (line: string) => void,
): Promise<void> {
  const name = customer.provider;
  await report.step(name, "verify", async () => {
    const result = await waitForVerify(relay, customer.storage, true, patience, signal);
    say(`[${name}]   ${describeVerify(result)}`);
  });
  await report.step(name, "deliver", async () => {
    const uri = await deliverIntact(relay, customer, patience);
    say(`[${name}]   ${uri}: size and SHA-256 match what was streamed`);
  });
  let broken = false;
  try {
    await report.step(name, "break trust", async () => {
      // Created while the trust holds (S3 checks the role when a conversation is created): the
      // broken trust must show on the delivery, as when a customer changes it later.
      const conversationId = await relay.conversation(customer.storage);
      say(`[${name}]   ${customer.breakDescription}`);
      broken = true;
      await customer.breakTrust();
      signal.throwIfAborted();
      const refused = await waitForVerify(relay, customer.storage, false, patience, signal);
      say(`[${name}]   verify now: ${describeVerify(refused)}`);
      const delivery = await relay.deliver(conversationId, {
        bytes: 64 * 1024,
        timeoutMs: patience.deliveryMs,
      });
      const p = delivery.event.properties;
      if (delivery.event.event_type !== "application.recording_copy_failed") {
        throw new Error(`expected recording_copy_failed, got ${delivery.event.event_type}`);
      }
      const message = String(p.error_message ?? "");
      if (
        p.error_code !== TRUST_REFUSED ||
        !message.includes("Hint:") ||
        !customer.expectedHint.test(message)
      ) {
        throw new Error(
          `expected ${TRUST_REFUSED} with a hint matching ${customer.expectedHint}, got ${p.error_code}: ${message}`,
        );
      }
      say(`[${name}]   recording_copy_failed ${p.error_code}: ${message}`);
    });
  } finally {
    if (broken) {
      await report.step(name, "restore trust", async () => {
        await customer.restoreTrust();
        await waitForVerify(relay, customer.storage, true, patience, signal);
        const uri = await deliverIntact(relay, customer, patience);
        say(`[${name}]   trust restored; delivered again to ${uri}`);
      });
    } else {
      report.skip(name, "restore trust", "the trust was not broken");
    }
  }
}
