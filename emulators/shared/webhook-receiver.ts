/**
 * A webhook receiver on loopback that verifies every Standard Webhooks signature: what the demo
 * and the end-to-end tests stand up as "the customer's endpoint".
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

/** A verified webhook as the receiver got it. */
export interface ReceivedEvent {
  id: string;
  /** `performance.now()` when it first arrived (for latency measurements). */
  receivedAtMs: number;
  // biome-ignore lint/suspicious/noExplicitAny: callers read whatever the relay sent.
  body: any;
}

/** A webhook receiver on loopback that verifies Standard Webhooks signatures. */
export interface WebhookReceiver {
  url: string;
  /** Verified events, in arrival order (retries of one id appear once). */
  events: ReceivedEvent[];
  /** Deliveries whose signature did not verify (must stay empty). */
  rejected: string[];
  setSecret(secret: string): void;
  /** Resolves once `predicate` holds for the events received. */
  waitFor(predicate: (events: ReceivedEvent[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts a receiver; events arriving before `setSecret` are refused with 503 (and retried). */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  let verifier: Webhook | undefined;
  const events: ReceivedEvent[] = [];
  const seen = new Set<string>();
  const rejected: string[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      if (!verifier) return void response.writeHead(503).end();
      try {
        verifier.verify(body, request.headers as Record<string, string>);
      } catch (error) {
        rejected.push(String(error));
        return void response.writeHead(400).end();
      }
      const id = String(request.headers["webhook-id"]);
      if (!seen.has(id)) {
        seen.add(id);
        events.push({ id, receivedAtMs: performance.now(), body: JSON.parse(body) });
      }
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  return {
    url,
    events,
    rejected,
    setSecret(secret) {
      verifier = new Webhook(secret);
    },
    async waitFor(predicate, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(events)) {
        if (Date.now() > deadline) {
          throw new Error(
            `webhooks not as expected within ${timeoutMs} ms: ${JSON.stringify(events)}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
