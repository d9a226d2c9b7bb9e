/**
 * The SSRF guard of the webhook sender (docs/api.md, Events). A callback URL is the customer's
 * input, and the relay runs inside the operator's network, so every request is checked twice:
 *
 * 1. before sending, on the URL: scheme (`https`, `http` only when the operator allows it), no
 *    credentials, the port, and an IP-literal host or an internal name refused outright (literal
 *    addresses never go through DNS, so this is their only check) — the save-time rules of
 *    `src/domain/callback-address.ts`, applied again;
 * 2. at connect time, on every address the name resolves to: the undici agent's `connect.lookup`
 *    drops refused addresses, so the socket can only open to an address that passed — a name that
 *    re-resolves to 10.0.0.1 after passing a save-time check (DNS rebinding) is still refused.
 *
 * Redirects are never followed (undici's `request` does not), so a public receiver cannot bounce
 * the relay to an internal address.
 */
import { lookup as dnsLookup } from "node:dns";
import type { LookupFunction } from "node:net";
import { Agent } from "undici";
import {
  type AllowedNetworks,
  type AllowedPorts,
  callbackHostProblem,
  callbackPortProblem,
  refusedAddressReason,
  urlPort,
} from "../domain/index.ts";

/** One resolved address. */
export interface ResolvedAddress {
  address: string;
  family: number;
}

/** Resolves a name to all its addresses (injectable: tests resolve names to private addresses). */
export type ResolveAll = (hostname: string) => Promise<ResolvedAddress[]>;

/** The system resolver (getaddrinfo, as sockets use), every address in resolver order. */
export const systemResolveAll: ResolveAll = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, order: "verbatim" }, (error, addresses) =>
      error ? reject(error) : resolve(addresses),
    );
  });

/** What the guard allows. */
export interface SsrfPolicy {
  /** Accept `http://` callback URLs (development). */
  allowHttp: boolean;
  /** Networks the operator allows despite the rules (development and tests). */
  allowed: AllowedNetworks;
  /** Ports allowed beyond 443, 80 and 8443 (none by default). */
  allowedPorts?: AllowedPorts;
  /** Name resolution; the system resolver by default. */
  resolveAll?: ResolveAll;
}

/** The error code of a refusal raised inside the connector, to tell it from network failures. */
export const REFUSED_ADDRESS = "ERELAY_REFUSED_ADDRESS";

/** An address the guard refused, raised from `connect.lookup`. */
export class RefusedAddressError extends Error {
  readonly code = REFUSED_ADDRESS;
  constructor(message: string) {
    super(message);
    this.name = "RefusedAddressError";
  }
}

/** Why the relay will not send to `url` at all, or `undefined` when it may try. */
export function callbackUrlRefusal(url: string, policy: SsrfPolicy): string | undefined {
  if (!URL.canParse(url)) return "the callback URL is not an absolute URL";
  const parsed = new URL(url);
  if (parsed.protocol !== "https:" && !(policy.allowHttp && parsed.protocol === "http:")) {
    return `the callback URL must be https:// (it is ${parsed.protocol}//)`;
  }
  if (parsed.username || parsed.password) return "the callback URL must not contain credentials";
  const problem =
    callbackHostProblem(parsed.hostname, policy.allowed) ??
    callbackPortProblem(urlPort(parsed), policy.allowedPorts);
  return problem ? `the callback URL ${problem}` : undefined;
}

/**
 * A `net` lookup function that resolves with `policy.resolveAll` and keeps only addresses the
 * guard allows; when none is left it fails with {@link RefusedAddressError} naming each address.
 */
export function guardedLookup(policy: SsrfPolicy): LookupFunction {
  const resolveAll = policy.resolveAll ?? systemResolveAll;
  return (hostname, options, callback) => {
    resolveAll(hostname).then(
      (addresses) => {
        const refused: string[] = [];
        const usable = addresses.filter((entry) => {
          const reason = refusedAddressReason(entry.address, policy.allowed);
          if (reason) refused.push(`${entry.address} (${reason})`);
          return reason === undefined && (!options.family || options.family === entry.family);
        });
        if (usable.length === 0) {
          const why =
            refused.length > 0
              ? `it resolves only to refused addresses: ${refused.join(", ")}`
              : "it has no usable address";
          callback(new RefusedAddressError(`refused to connect to ${hostname}: ${why}`), "", 0);
          return;
        }
        if (options.all) {
          // Node's types describe only the single-address form; `all` wants the array.
          (callback as unknown as (error: null, addresses: ResolvedAddress[]) => void)(
            null,
            usable,
          );
        } else {
          callback(null, usable[0]!.address, usable[0]!.family);
        }
      },
      (error: NodeJS.ErrnoException) => callback(error, "", 0),
    );
  };
}

/** An undici agent whose every connection goes through the guard, with bounded timeouts. */
export function createGuardedAgent(policy: SsrfPolicy, timeoutMs: number): Agent {
  return new Agent({
    connect: { lookup: guardedLookup(policy), timeout: timeoutMs },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    // One short-lived request per event: keeping sockets around only holds customers' servers.
    keepAliveTimeout: 1_000,
    connections: 8,
  });
}
