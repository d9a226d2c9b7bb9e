/**
 * Which addresses a webhook may reach (SPEC §8): never loopback, private, shared (CGNAT),
 * link-local, multicast, unspecified, unique-local IPv6 or cloud metadata addresses, unless the
 * operator explicitly allows a network (development and tests). Pure rules, shared by the save-time
 * check of `callback_url` and the sender's connect-time check of every resolved address.
 */
import { BlockList, isIP } from "node:net";

/** One refused range and why, as the message names it. */
interface Range {
  network: string;
  prefix: number;
  family: "ipv4" | "ipv6";
  reason: string;
}

// Metadata addresses come first so they are named as such rather than as link-local/unique-local.
const refusedRanges: readonly Range[] = [
  { network: "169.254.169.254", prefix: 32, family: "ipv4", reason: "a cloud metadata address" },
  { network: "fd00:ec2::254", prefix: 128, family: "ipv6", reason: "a cloud metadata address" },
  { network: "0.0.0.0", prefix: 8, family: "ipv4", reason: "an unspecified address" },
  { network: "10.0.0.0", prefix: 8, family: "ipv4", reason: "a private address" },
  { network: "100.64.0.0", prefix: 10, family: "ipv4", reason: "a shared (CGNAT) address" },
  { network: "127.0.0.0", prefix: 8, family: "ipv4", reason: "a loopback address" },
  { network: "169.254.0.0", prefix: 16, family: "ipv4", reason: "a link-local address" },
  { network: "172.16.0.0", prefix: 12, family: "ipv4", reason: "a private address" },
  { network: "192.0.0.0", prefix: 24, family: "ipv4", reason: "a protocol-assignment address" },
  { network: "192.168.0.0", prefix: 16, family: "ipv4", reason: "a private address" },
  { network: "198.18.0.0", prefix: 15, family: "ipv4", reason: "a benchmarking address" },
  { network: "224.0.0.0", prefix: 4, family: "ipv4", reason: "a multicast address" },
  { network: "240.0.0.0", prefix: 4, family: "ipv4", reason: "a reserved address" },
  { network: "::", prefix: 128, family: "ipv6", reason: "an unspecified address" },
  { network: "::1", prefix: 128, family: "ipv6", reason: "a loopback address" },
  { network: "fc00::", prefix: 7, family: "ipv6", reason: "a unique-local address" },
  { network: "fe80::", prefix: 10, family: "ipv6", reason: "a link-local address" },
  { network: "ff00::", prefix: 8, family: "ipv6", reason: "a multicast address" },
];

// One BlockList per range, so a match can say which rule it hit. Node's BlockList also matches
// IPv4-mapped IPv6 addresses (::ffff:127.0.0.1) against IPv4 rules.
const compiled = refusedRanges.map((range) => {
  const list = new BlockList();
  list.addSubnet(range.network, range.prefix, range.family);
  return { list, reason: range.reason };
});

/** Networks the operator allows despite the rules (`RELAY_WEBHOOK_ALLOWED_NETWORKS`). */
export interface AllowedNetworks {
  /** The networks as configured, e.g. `["127.0.0.1/32"]`. */
  readonly cidrs: readonly string[];
  readonly list: BlockList;
}

/** No network allowed beyond the rules: the production default. */
export const noAllowedNetworks: AllowedNetworks = { cidrs: [], list: new BlockList() };

/** Parses a comma-separated list of CIDRs (`127.0.0.1/32,::1/128`); throws naming the bad entry. */
export function parseAllowedNetworks(text: string): AllowedNetworks {
  const cidrs = text
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);
  const list = new BlockList();
  for (const cidr of cidrs) {
    const match = /^([^/]+)\/(\d{1,3})$/.exec(cidr);
    const family = match ? isIP(match[1]!) : 0;
    const prefix = match ? Number(match[2]) : Number.NaN;
    if (!match || family === 0 || prefix > (family === 4 ? 32 : 128)) {
      throw new TypeError(`${JSON.stringify(cidr)} is not a network like 127.0.0.1/32 or ::1/128`);
    }
    list.addSubnet(match[1]!, prefix, family === 4 ? "ipv4" : "ipv6");
  }
  return { cidrs, list };
}

/** Strips the brackets of an IPv6 URL host (`[::1]` → `::1`). */
export function unbracket(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/**
 * Why a webhook may not reach `address` (an IP literal), or `undefined` when it may. An address
 * inside an allowed network is always accepted.
 */
export function refusedAddressReason(
  address: string,
  allowed: AllowedNetworks = noAllowedNetworks,
): string | undefined {
  const ip = unbracket(address);
  const family = isIP(ip);
  if (family === 0) return "not an IP address";
  const type = family === 4 ? "ipv4" : "ipv6";
  if (allowed.list.check(ip, type)) return undefined;
  for (const { list, reason } of compiled) {
    if (list.check(ip, type)) return reason;
  }
  return undefined;
}

// Names that are internal by definition (RFC 6761 `localhost`, GCP's metadata server, the
// `.internal` names clouds give private hosts); any other name is judged by what it resolves to.
const internalNames = [
  /^localhost$/,
  /\.localhost$/,
  /^metadata\.google\.internal$/,
  /\.internal$/,
];

/** Whether a host name is internal by its name alone (`localhost`, `metadata.google.internal`). */
export function isInternalHostName(host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, "");
  return internalNames.some((pattern) => pattern.test(name));
}

/**
 * The save-time check of a callback URL's host (the sender checks every resolved address again at
 * connect time): an IP literal must be allowed, and an internal name is refused unless the
 * operator allows loopback (so `localhost` works in development).
 */
export function callbackHostProblem(
  hostname: string,
  allowed: AllowedNetworks = noAllowedNetworks,
): string | undefined {
  const host = unbracket(hostname);
  if (isIP(host)) {
    const reason = refusedAddressReason(host, allowed);
    return reason ? `must not point at ${host}: it is ${reason}` : undefined;
  }
  if (isInternalHostName(host)) {
    const loopbackAllowed =
      allowed.list.check("127.0.0.1", "ipv4") || allowed.list.check("::1", "ipv6");
    if (/(^|\.)localhost\.?$/i.test(host) && loopbackAllowed) return undefined;
    return `must not point at ${host}: it is an internal host name`;
  }
  return undefined;
}
