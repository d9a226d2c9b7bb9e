/**
 * Test support: catches any outgoing request to a non-loopback host (a real cloud endpoint or a
 * metadata server), so a test that would silently talk to the internet fails instead.
 */
import { subscribe } from "node:diagnostics_channel";

/** Recorded foreign requests and the check to run in an `after` hook. */
export interface LoopbackGuard {
  foreign: string[];
  assertLoopbackOnly(): void;
}

const isLoopback = (host: string) =>
  /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]|::1)(:\d+)?$/.test(host);

/** Records every outgoing HTTP request (node:http and fetch/undici) whose host is not loopback. */
export function guardLoopbackOnly(): LoopbackGuard {
  const foreign: string[] = [];
  subscribe("http.client.request.start", (message) => {
    const request = (message as { request: { host?: string; getHeader(name: string): unknown } })
      .request;
    const host = String(request.getHeader("host") ?? request.host ?? "");
    if (!isLoopback(host)) foreign.push(`http ${host}`);
  });
  subscribe("undici:request:create", (message) => {
    const origin = String((message as { request: { origin?: string } }).request.origin ?? "");
    if (origin && !isLoopback(new URL(origin).host)) foreign.push(`fetch ${origin}`);
  });
  return {
    foreign,
    assertLoopbackOnly() {
      if (foreign.length > 0)
        throw new Error(`non-loopback requests were made: ${foreign.join(", ")}`);
    },
  };
}
