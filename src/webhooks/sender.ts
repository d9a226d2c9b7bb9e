/**
 * The webhook sender: claims due events from the outbox, POSTs each signed to its callback URL
 * through the SSRF guard, logs the attempt and schedules the next one (docs/api.md, Events). Time
 * comes from an injected clock, so tests walk the whole retry schedule without sleeping.
 */
import type { Db } from "../db/index.ts";
import type { AllowedNetworks, AllowedPorts } from "../domain/index.ts";
import type { Clock } from "../lib/clock.ts";
import type { EventEnvelope } from "./events.ts";
import {
  type AttemptOutcome,
  type AttemptRecord,
  type ClaimedEvent,
  claimDueEvents,
  recordAttempt,
} from "./outbox.ts";
import { nextEventAttempt } from "./schedule.ts";
import { openSigningSecrets, signingSecrets } from "./secrets.ts";
import { signatureHeaders } from "./signing.ts";
import {
  callbackUrlRefusal,
  createGuardedAgent,
  REFUSED_ADDRESS,
  type ResolveAll,
  type SsrfPolicy,
} from "./ssrf.ts";

/** Bytes of a response read before the connection is dropped: receivers answer small. */
export const MAX_RESPONSE_BYTES = 64 * 1024;
/** Characters of the response kept in the attempt log. */
export const EXCERPT_CHARS = 1024;
const MAX_ERROR_CHARS = 500;

/** What the sender needs. */
export interface SenderDeps {
  db: Db;
  masterKey: Uint8Array;
  clock: Clock;
  /** Accept `http://` callbacks (development). */
  allowHttp: boolean;
  /** Networks allowed despite the SSRF rules (development and tests). */
  allowedNetworks: AllowedNetworks;
  /** Ports allowed beyond 443, 80 and 8443 (`*` in development and tests). */
  allowedPorts: AllowedPorts;
  /** Name resolution; the system resolver by default (tests inject one). */
  resolveAll?: ResolveAll;
  /** Bound of one attempt, connection to last byte, in milliseconds. */
  timeoutMs: number;
  /** Jitter source in [0, 1); `Math.random` by default (tests pass `() => 0`). */
  random?: () => number;
  /** Events claimed per round. */
  batchSize?: number;
  /** Pause between rounds that found nothing due, in milliseconds (real time). */
  pollIntervalMs?: number;
  /** Where failures of the loop itself are reported (never secrets). */
  onError?: (error: unknown) => void;
  /** Told of every attempt once recorded (the process's metrics). */
  observeAttempt?: (report: WebhookAttemptReport) => void;
  userAgent?: string;
}

/** One webhook attempt as recorded: what followed it, how long it took, the receiver's status. */
export interface WebhookAttemptReport {
  outcome: AttemptOutcome["kind"];
  latencyMs: number;
  /** `null` when no response arrived. */
  status: number | null;
}

/** A running or runnable sender. */
export interface WebhookSender {
  /** Sends every event due now (one attempt each); resolves with how many were attempted. */
  runOnce(): Promise<number>;
  /** Starts the background loop. */
  start(): void;
  /** Ends the poll pause early: something just became due (a resend, a new event). */
  wake(): void;
  /** Stops the loop; an attempt in flight is aborted, logged, and retried on the schedule. */
  stop(): Promise<void>;
}

/** The envelope's fields in the documented order (jsonb storage does not keep key order). */
function bodyOf(payload: EventEnvelope): string {
  return JSON.stringify({
    event_type: payload.event_type,
    message_type: payload.message_type,
    conversation_id: payload.conversation_id,
    webhook_url: payload.webhook_url,
    timestamp: payload.timestamp,
    properties: payload.properties,
  });
}

/** Reads at most {@link MAX_RESPONSE_BYTES}, then drops the rest; returns the excerpt. */
async function readExcerpt(body: AsyncIterable<Uint8Array> & { destroy(): void }): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    chunks.push(Buffer.from(chunk));
    total += chunk.byteLength;
    if (total >= MAX_RESPONSE_BYTES) {
      body.destroy();
      break;
    }
  }
  // PostgreSQL text cannot hold NUL; a binary answer is shown as its printable remains.
  return Buffer.concat(chunks)
    .subarray(0, EXCERPT_CHARS * 4)
    .toString("utf8")
    .replaceAll("\u0000", "")
    .slice(0, EXCERPT_CHARS);
}

function describeError(error: unknown): string {
  const value = error as { name?: string; message?: string; code?: string; cause?: unknown };
  if (value?.code === REFUSED_ADDRESS) return String(value.message);
  if (value?.name === "TimeoutError") return "no answer within the webhook timeout";
  const cause = value?.cause as { code?: string; message?: string } | undefined;
  if (cause?.code === REFUSED_ADDRESS) return String(cause.message);
  const text = `${value?.code ?? value?.name ?? "Error"}: ${value?.message ?? String(error)}`;
  return text.slice(0, MAX_ERROR_CHARS);
}

/** Builds a sender; nothing runs until `runOnce` or `start`. */
export function createWebhookSender(deps: SenderDeps): WebhookSender {
  const policy: SsrfPolicy = {
    allowHttp: deps.allowHttp,
    allowed: deps.allowedNetworks,
    allowedPorts: deps.allowedPorts,
    ...(deps.resolveAll ? { resolveAll: deps.resolveAll } : {}),
  };
  const agent = createGuardedAgent(policy, deps.timeoutMs);
  const random = deps.random ?? Math.random;
  const batchSize = deps.batchSize ?? 16;
  const pollIntervalMs = deps.pollIntervalMs ?? 1_000;
  const stopController = new AbortController();
  let loop: Promise<void> | undefined;
  let wakeUp: (() => void) | undefined;
  /** A wake came since the last claim (a new event may be due). */
  let woken = false;

  async function post(
    event: ClaimedEvent,
  ): Promise<Omit<AttemptRecord, "attempt" | "startedAt" | "latencyMs">> {
    const url = event.payload.webhook_url;
    const refusal = callbackUrlRefusal(url, policy);
    if (refusal) return { status: null, responseExcerpt: null, error: refusal };
    // Read with the claim; a workspace without a current secret yet gets one here.
    const secrets =
      event.sealedSecrets.length > 0
        ? openSigningSecrets(deps.masterKey, event.workspaceId, event.sealedSecrets)
        : await signingSecrets(deps.db, {
            workspaceId: event.workspaceId,
            masterKey: deps.masterKey,
            nowMs: deps.clock.now(),
          });
    const body = bodyOf(event.payload);
    const headers = {
      "content-type": "application/json",
      "user-agent": deps.userAgent ?? "recording-relay-webhooks",
      ...signatureHeaders(secrets, event.id, Math.floor(deps.clock.now() / 1000), body),
    };
    try {
      const target = new URL(url);
      const response = await agent.request({
        origin: target.origin,
        path: `${target.pathname}${target.search}`,
        method: "POST",
        headers,
        body,
        signal: AbortSignal.any([AbortSignal.timeout(deps.timeoutMs), stopController.signal]),
      });
      const excerpt = await readExcerpt(response.body);
      const status = response.statusCode;
      if (status >= 200 && status < 300) return { status, responseExcerpt: excerpt, error: null };
      const error =
        status >= 300 && status < 400
          ? `the receiver answered ${status} (a redirect): redirects are not followed; set callback_url to the final URL`
          : `the receiver answered ${status}`;
      return { status, responseExcerpt: excerpt, error };
    } catch (error) {
      if (stopController.signal.aborted) {
        return {
          status: null,
          responseExcerpt: null,
          error: "the relay stopped during the attempt",
        };
      }
      return { status: null, responseExcerpt: null, error: describeError(error) };
    }
  }

  async function attempt(event: ClaimedEvent): Promise<void> {
    const startedAtMs = deps.clock.now();
    const started = performance.now();
    let result: Awaited<ReturnType<typeof post>>;
    try {
      result = await post(event);
    } catch (error) {
      // Signing failed (e.g. a master key that does not open the secret): retried like any failure.
      result = { status: null, responseExcerpt: null, error: describeError(error) };
    }
    const record: AttemptRecord = {
      attempt: event.attempt,
      startedAt: new Date(startedAtMs),
      latencyMs: Math.max(0, Math.round(performance.now() - started)),
      ...result,
    };
    let outcome: AttemptOutcome;
    if (result.error === null) {
      outcome = { kind: "delivered" };
    } else {
      const decision = nextEventAttempt(event.attempt, random);
      switch (decision.kind) {
        case "retry":
          outcome = { kind: "retry", nextAttemptAtMs: deps.clock.now() + decision.delayMs };
          break;
        case "give_up":
          outcome = { kind: "failed" };
          break;
      }
    }
    await recordAttempt(deps.db, event.id, record, outcome);
    try {
      deps.observeAttempt?.({
        outcome: outcome.kind,
        latencyMs: record.latencyMs,
        status: record.status,
      });
    } catch {
      // Metrics never fail a send.
    }
  }

  async function runOnce(): Promise<number> {
    const claimed = await claimDueEvents(deps.db, {
      nowMs: deps.clock.now(),
      limit: batchSize,
      // Past the attempt's own bound, so a live sender always records before anyone reclaims.
      leaseMs: deps.timeoutMs + 60_000,
    });
    await Promise.all(claimed.map(attempt));
    return claimed.length;
  }

  async function run(): Promise<void> {
    while (!stopController.signal.aborted) {
      woken = false;
      let attempted = 0;
      try {
        attempted = await runOnce();
      } catch (error) {
        deps.onError?.(error);
      }
      // A full batch may have left more due: look again at once. Otherwise what was due was
      // taken, so wait for the poll or a wake (one that came while sending counts): an immediate
      // second look would find nothing, one wasted statement per event as they trickle in.
      if (attempted < batchSize && !woken && !stopController.signal.aborted) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pollIntervalMs);
          wakeUp = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wakeUp = undefined;
      }
    }
  }

  return {
    runOnce,
    start() {
      loop ??= run();
    },
    wake() {
      woken = true;
      wakeUp?.();
    },
    async stop() {
      stopController.abort();
      wakeUp?.();
      await loop;
      await agent.close();
    },
  };
}
