/**
 * Which addresses a webhook may reach (docs/api.md, Events): never loopback, private, shared (CGNAT),
 * link-local, site-local, multicast, unspecified, unique-local IPv6, documentation (TEST-NET) or
 * cloud metadata addresses, nor an IPv6 form that carries one of them (NAT64, 6to4,
 * IPv4-compatible), unless the operator explicitly allows a network (development and tests). Host
 * names that can only be internal (single-label names, `.internal`, `.local`, `metadata.goog`…)
 * and ports other than 443, 80 and 8443 (unless the operator allows them) are refused too. Pure
 * rules, shared by the save-time check of `callback_url` and the sender's checks before each
 * attempt and of every resolved address at connect time.
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
  {
    network: "192.0.2.0",
    prefix: 24,
    family: "ipv4",
    reason: "a documentation (TEST-NET) address",
  },
  {
    network: "198.51.100.0",
    prefix: 24,
    family: "ipv4",
    reason: "a documentation (TEST-NET) address",
  },
  {
    network: "203.0.113.0",
    prefix: 24,
    family: "ipv4",
    reason: "a documentation (TEST-NET) address",
  },
  { network: "192.168.0.0", prefix: 16, family: "ipv4", reason: "a private address" },
  { network: "198.18.0.0", prefix: 15, family: "ipv4", reason: "a benchmarking address" },
  { network: "224.0.0.0", prefix: 4, family: "ipv4", reason: "a multicast address" },
  { network: "240.0.0.0", prefix: 4, family: "ipv4", reason: "a reserved address" },
  { network: "::", prefix: 128, family: "ipv6", reason: "an unspecified address" },
  { network: "::1", prefix: 128, family: "ipv6", reason: "a loopback address" },
  // ::a.b.c.d, deprecated since RFC 4291 and never a real destination.
  { network: "::", prefix: 96, family: "ipv6", reason: "a deprecated IPv4-compatible address" },
  { network: "64:ff9b:1::", prefix: 48, family: "ipv6", reason: "a local-use NAT64 address" },
  { network: "100::", prefix: 64, family: "ipv6", reason: "a discard-only address" },
  { network: "2001::", prefix: 32, family: "ipv6", reason: "a Teredo tunnel address" },
  { network: "2001:db8::", prefix: 32, family: "ipv6", reason: "a documentation address" },
  { network: "fc00::", prefix: 7, family: "ipv6", reason: "a unique-local address" },
  { network: "fe80::", prefix: 10, family: "ipv6", reason: "a link-local address" },
  { network: "fec0::", prefix: 10, family: "ipv6", reason: "a site-local address" },
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
  if (family === 6) {
    // A NAT64 gateway or a 6to4 relay turns these into the IPv4 address they carry, so they are
    // judged by it (the operator's allowed networks do not extend to them: the gateway's loopback
    // is not the relay's).
    const carried = embeddedIpv4(ip);
    if (carried) {
      const reason = refusedAddressReason(carried.ipv4);
      if (reason) return `a ${carried.form} form of ${carried.ipv4}, ${reason}`;
    }
  }
  return undefined;
}

/** The eight 16-bit groups of an IPv6 address (a valid one, as `isIP` accepts). */
function ipv6Groups(ip: string): number[] {
  let text = ip.replace(/%.*$/, "");
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const parse = (part: string) => (part ? part.split(":").map((group) => parseInt(group, 16)) : []);
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  return [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
}

/** The IPv4 address a NAT64 (64:ff9b::/96) or 6to4 (2002::/16) address carries. */
function embeddedIpv4(ip: string): { form: string; ipv4: string } | undefined {
  const groups = ipv6Groups(ip);
  const ipv4 = (high: number, low: number) =>
    [high >> 8, high & 0xff, low >> 8, low & 0xff].join(".");
  if (groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((g) => g === 0)) {
    return { form: "NAT64", ipv4: ipv4(groups[6]!, groups[7]!) };
  }
  if (groups[0] === 0x2002) return { form: "6to4", ipv4: ipv4(groups[1]!, groups[2]!) };
  return undefined;
}

// Names that are internal by definition: RFC 6761 `localhost`, mDNS `.local`, `.home.arpa` and
// the other reverse/infrastructure names under `.arpa`, the `.internal` names clouds give private
// hosts (`metadata.google.internal`, `instance-data.ec2.internal`), GCP's `metadata.goog`,
// Kubernetes service names (`kubernetes.default.svc`) and `.localdomain`. A single-label name
// (`metadata`, `instance-data`, `hooks`) only resolves through a local search domain, so it is
// internal too. Any other name is judged by what it resolves to.
const internalNames = [
  /^localhost$/,
  /\.localhost$/,
  /\.internal$/,
  /\.local$/,
  /\.localdomain$/,
  /\.arpa$/,
  /\.svc$/,
  /^metadata\.goog$/,
];

const normalizedName = (host: string) => host.toLowerCase().replace(/\.$/, "");

/** Whether a host name is internal by its name alone (`localhost`, `metadata.google.internal`). */
export function isInternalHostName(host: string): boolean {
  const name = normalizedName(host);
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
  if (!normalizedName(host).includes(".")) {
    return `must not point at ${host}: it is a single-label name, which only an internal resolver answers; use the receiver's public DNS name`;
  }
  return undefined;
}

/** Ports a callback may use beyond the standard ones (`RELAY_WEBHOOK_ALLOWED_PORTS`). */
export interface AllowedPorts {
  /** The setting as configured, e.g. `8080,9000-9010` or `*`. */
  readonly text: string;
  /** `*`: every port (development and tests). */
  readonly any: boolean;
  readonly ranges: readonly (readonly [number, number])[];
}

/** The ports every callback may use: https, http (when allowed) and the common alternative. */
const standardPorts = [443, 80, 8443];

/** No port beyond the standard ones: the production default. */
export const noAllowedPorts: AllowedPorts = { text: "", any: false, ranges: [] };

/** Parses a comma-separated list of ports and ranges (`8080,9000-9010`), or `*` for any port. */
export function parseAllowedPorts(text: string): AllowedPorts {
  const items = text
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);
  if (items.length === 1 && items[0] === "*") return { text: "*", any: true, ranges: [] };
  const ranges: [number, number][] = [];
  for (const item of items) {
    const match = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(item);
    const low = match ? Number(match[1]) : Number.NaN;
    const high = match?.[2] === undefined ? low : Number(match[2]);
    if (!match || low < 1 || high > 65535 || high < low) {
      throw new TypeError(
        `${JSON.stringify(item)} is not a port (1-65535), a range like 9000-9010, or * alone`,
      );
    }
    ranges.push([low, high]);
  }
  return { text: items.join(", "), any: false, ranges };
}

/** Why a callback may not use `port`, or `undefined` when it may. */
export function callbackPortProblem(
  port: number,
  allowed: AllowedPorts = noAllowedPorts,
): string | undefined {
  if (standardPorts.includes(port) || allowed.any) return undefined;
  if (allowed.ranges.some(([low, high]) => port >= low && port <= high)) return undefined;
  const extra = allowed.text ? `, or a port of RELAY_WEBHOOK_ALLOWED_PORTS (${allowed.text})` : "";
  return `port ${port} is not allowed: callbacks use 443, 80 or 8443${extra}`;
}

/** The port a parsed http(s) URL connects to. */
export function urlPort(url: URL): number {
  if (url.port) return Number(url.port);
  return url.protocol === "http:" ? 80 : 443;
}
