/** The address rules of the SSRF guard and the save-time check of callback URLs. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { callbackUrlProblem } from "../conversations/properties.ts";
import {
  callbackHostProblem,
  parseAllowedNetworks,
  refusedAddressReason,
} from "./callback-address.ts";

describe("refusedAddressReason", () => {
  it("refuses every internal range, IPv4-mapped forms included, and names the rule", () => {
    const refused: Record<string, RegExp> = {
      "127.0.0.1": /loopback/,
      "127.255.0.9": /loopback/,
      "10.0.0.1": /private/,
      "172.16.5.4": /private/,
      "172.31.255.255": /private/,
      "192.168.1.1": /private/,
      "100.64.0.1": /CGNAT/,
      "100.127.255.254": /CGNAT/,
      "169.254.169.254": /metadata/,
      "169.254.1.1": /link-local/,
      "0.0.0.0": /unspecified/,
      "224.0.0.251": /multicast/,
      "255.255.255.255": /reserved/,
      "::1": /loopback/,
      "::": /unspecified/,
      "fe80::1": /link-local/,
      "fc00::1": /unique-local/,
      "fd12:3456::1": /unique-local/,
      "fd00:ec2::254": /metadata/,
      "ff02::1": /multicast/,
      "::ffff:127.0.0.1": /loopback/,
      "::ffff:a00:1": /private/,
      "::ffff:169.254.169.254": /metadata/,
      "[::1]": /loopback/,
    };
    for (const [address, reason] of Object.entries(refused)) {
      assert.match(refusedAddressReason(address) ?? "accepted", reason, address);
    }
  });

  it("accepts public addresses", () => {
    for (const address of [
      "93.184.216.34",
      "8.8.8.8",
      "172.32.0.1",
      "100.128.0.1",
      "2606:4700::1111",
      "::ffff:8.8.8.8",
    ]) {
      assert.equal(refusedAddressReason(address), undefined, address);
    }
  });

  it("accepts exactly the networks the operator allows, and nothing next to them", () => {
    const allowed = parseAllowedNetworks("127.0.0.1/32, ::1/128");
    assert.equal(refusedAddressReason("127.0.0.1", allowed), undefined);
    assert.equal(refusedAddressReason("::1", allowed), undefined);
    assert.match(refusedAddressReason("127.0.0.2", allowed) ?? "", /loopback/);
    assert.match(refusedAddressReason("10.0.0.1", allowed) ?? "", /private/);
    assert.match(refusedAddressReason("169.254.169.254", allowed) ?? "", /metadata/);
  });

  it("rejects malformed networks by name", () => {
    for (const text of ["127.0.0.1", "10.0.0.0/33", "::1/129", "example.com/8", "1.2.3.4/x"]) {
      assert.throws(() => parseAllowedNetworks(text), /is not a network/, text);
    }
    assert.deepEqual(parseAllowedNetworks("").cidrs, []);
  });
});

describe("save-time callback URL check", () => {
  it("refuses IP literals of internal addresses and internal names with a clear message", () => {
    const cases: Record<string, RegExp> = {
      "https://127.0.0.1/hooks":
        /must not point at 127\.0\.0\.1: it is a loopback address; callbacks must reach a public address/,
      "https://10.0.0.1/hooks": /10\.0\.0\.1: it is a private address/,
      "https://169.254.169.254/latest/meta-data": /a cloud metadata address/,
      "https://[::1]:8443/": /::1: it is a loopback address/,
      "https://[::ffff:10.0.0.1]/": /a private address/,
      "https://[fd00:ec2::254]/": /a cloud metadata address/,
      "https://0x7f.1/": /127\.0\.0\.1: it is a loopback address/,
      "https://2130706433/": /127\.0\.0\.1/,
      "https://localhost/hooks": /localhost: it is an internal host name/,
      "https://metadata.google.internal/computeMetadata/v1/": /internal host name/,
      "https://app.localhost/": /internal host name/,
    };
    for (const [url, message] of Object.entries(cases)) {
      assert.match(callbackUrlProblem(url, false) ?? "accepted", message, url);
    }
  });

  it("accepts public hosts, and loopback only when the operator allows it", () => {
    assert.equal(callbackUrlProblem("https://hooks.example.com/x", false), undefined);
    assert.equal(callbackUrlProblem("https://93.184.216.34/x", false), undefined);
    const loopback = parseAllowedNetworks("127.0.0.1/32");
    assert.equal(callbackUrlProblem("http://127.0.0.1:9000/x", true, loopback), undefined);
    assert.equal(callbackUrlProblem("http://localhost:9000/x", true, loopback), undefined);
    assert.match(callbackHostProblem("10.0.0.1", loopback) ?? "", /private/);
    assert.match(callbackHostProblem("metadata.google.internal", loopback) ?? "", /internal/);
  });
});
