/** The connect-time half of the SSRF guard applies the same address and port rules as save time. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { noAllowedNetworks, parseAllowedPorts } from "../domain/index.ts";
import { callbackUrlRefusal, guardedLookup, type ResolveAll, type SsrfPolicy } from "./ssrf.ts";

const names: Record<string, string[]> = {
  "nat64-loopback.example.com": ["64:ff9b::7f00:1"],
  "nat64-metadata.example.com": ["64:ff9b::a9fe:a9fe"],
  "sixtofour.example.com": ["2002:7f00:1::"],
  "compatible.example.com": ["::127.0.0.1"],
  "site-local.example.com": ["fec0::1"],
  "test-net.example.com": ["192.0.2.1", "198.51.100.1", "203.0.113.1"],
  "mixed.example.com": ["64:ff9b::7f00:1", "93.184.216.34"],
};
const resolveAll: ResolveAll = async (hostname) =>
  (names[hostname] ?? []).map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));

const policy: SsrfPolicy = { allowHttp: false, allowed: noAllowedNetworks, resolveAll };

const lookup = (hostname: string) =>
  new Promise<{ error: Error | null; addresses: unknown }>((resolve) => {
    guardedLookup(policy)(hostname, { all: true }, (error, addresses) =>
      resolve({ error, addresses }),
    );
  });

describe("the connect-time guard", () => {
  it("refuses every resolved address the save-time rules refuse, embedded IPv4 included", async () => {
    const expected: Record<string, RegExp> = {
      "nat64-loopback.example.com":
        /64:ff9b::7f00:1 \(a NAT64 form of 127\.0\.0\.1, a loopback address\)/,
      "nat64-metadata.example.com": /a cloud metadata address/,
      "sixtofour.example.com": /6to4 form of 127\.0\.0\.1/,
      "compatible.example.com": /IPv4-compatible/,
      "site-local.example.com": /site-local/,
      "test-net.example.com":
        /192\.0\.2\.1 \(a documentation \(TEST-NET\) address\), 198\.51\.100\.1 .*, 203\.0\.113\.1/,
    };
    for (const [name, message] of Object.entries(expected)) {
      const { error } = await lookup(name);
      assert.match(error?.message ?? "connected", message, name);
    }
    const mixed = await lookup("mixed.example.com");
    assert.equal(mixed.error, null);
    assert.deepEqual(mixed.addresses, [{ address: "93.184.216.34", family: 4 }]);
  });

  it("refuses the URLs the save-time check refuses: internal names, embedded addresses, ports", () => {
    for (const [url, message] of [
      ["https://[64:ff9b::7f00:1]/", /NAT64 form of 127\.0\.0\.1/],
      ["https://metadata/", /single-label name/],
      ["https://metadata.goog/", /internal host name/],
      ["https://kubernetes.default.svc/", /internal host name/],
      ["https://hooks.example.com:8080/", /port 8080 is not allowed/],
    ] as const) {
      assert.match(callbackUrlRefusal(url, policy) ?? "sent", message, url);
    }
    assert.equal(callbackUrlRefusal("https://hooks.example.com:8443/", policy), undefined);
    const ports = { ...policy, allowedPorts: parseAllowedPorts("8080") };
    assert.equal(callbackUrlRefusal("https://hooks.example.com:8080/", ports), undefined);
  });
});
