/** The address rules of the SSRF guard and the save-time check of callback URLs. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { callbackUrlProblem } from "../conversations/properties.ts";
import {
  callbackHostProblem,
  callbackPortProblem,
  parseAllowedNetworks,
  parseAllowedPorts,
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
      // IPv6 forms that carry an IPv4 address: judged by the address they carry.
      "64:ff9b::7f00:1": /NAT64 form of 127\.0\.0\.1, a loopback address/,
      "64:ff9b::a9fe:a9fe": /NAT64 form of 169\.254\.169\.254, a cloud metadata address/,
      "64:ff9b::10.1.2.3": /NAT64 form of 10\.1\.2\.3, a private address/,
      "64:ff9b:1::1": /local-use NAT64/,
      "2002:7f00:1::": /6to4 form of 127\.0\.0\.1, a loopback address/,
      "2002:a9fe:a9fe::1": /6to4 form of 169\.254\.169\.254/,
      "::127.0.0.1": /IPv4-compatible/,
      "::8.8.8.8": /IPv4-compatible/,
      "fec0::1": /site-local/,
      "192.0.2.1": /documentation \(TEST-NET\)/,
      "198.51.100.7": /documentation \(TEST-NET\)/,
      "203.0.113.200": /documentation \(TEST-NET\)/,
      "2001:db8::1": /documentation/,
      "100::1": /discard-only/,
      "::ffff:192.0.2.1": /documentation/,
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
      "64:ff9b::808:808",
      "2002:808:808::1",
      "192.0.3.1",
      "203.0.114.1",
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
      "https://[64:ff9b::7f00:1]/": /NAT64 form of 127\.0\.0\.1/,
      "https://[64:ff9b::a9fe:a9fe]/": /cloud metadata address/,
      "https://[2002:7f00:1::]/": /6to4 form of 127\.0\.0\.1/,
      "https://[::127.0.0.1]/": /IPv4-compatible/,
      "https://[fec0::1]/": /site-local/,
      "https://192.0.2.10/": /documentation \(TEST-NET\)/,
      "https://198.51.100.1/": /documentation \(TEST-NET\)/,
      "https://203.0.113.5/": /documentation \(TEST-NET\)/,
      "https://metadata/computeMetadata/v1/": /metadata: it is a single-label name/,
      "https://metadata.goog/": /metadata\.goog: it is an internal host name/,
      "https://instance-data/latest/": /single-label name/,
      "https://instance-data.ec2.internal/": /internal host name/,
      "https://kubernetes.default.svc/api": /kubernetes\.default\.svc: it is an internal host name/,
      "https://kubernetes.default.svc.cluster.local/": /internal host name/,
      "https://hooks/": /single-label name/,
      "https://hooks./": /single-label name/,
      "https://api.internal/": /internal host name/,
      "https://printer.local/": /internal host name/,
      "https://router.localdomain/": /internal host name/,
      "https://nas.home.arpa/": /internal host name/,
      "https://hooks.example.com:8080/x": /port 8080 is not allowed: callbacks use 443, 80 or 8443/,
      "https://hooks.example.com:22/x": /port 22 is not allowed/,
      "https://hooks.example.com:0/x": /port 0 is not allowed/,
    };
    for (const [url, message] of Object.entries(cases)) {
      assert.match(callbackUrlProblem(url, false) ?? "accepted", message, url);
    }
  });

  it("accepts public hosts, and loopback only when the operator allows it", () => {
    assert.equal(callbackUrlProblem("https://hooks.example.com/x", false), undefined);
    assert.equal(callbackUrlProblem("https://93.184.216.34/x", false), undefined);
    const loopback = parseAllowedNetworks("127.0.0.1/32");
    const port9000 = parseAllowedPorts("9000");
    assert.equal(
      callbackUrlProblem("http://127.0.0.1:9000/x", true, loopback, port9000),
      undefined,
    );
    assert.equal(
      callbackUrlProblem("http://localhost:9000/x", true, loopback, port9000),
      undefined,
    );
    assert.match(callbackHostProblem("10.0.0.1", loopback) ?? "", /private/);
    assert.match(callbackHostProblem("metadata.google.internal", loopback) ?? "", /internal/);
    assert.match(callbackHostProblem("metadata", loopback) ?? "", /single-label/);
  });

  it("accepts the standard ports, and others only when the operator allows them", () => {
    for (const url of [
      "https://hooks.example.com/x",
      "https://hooks.example.com:443/x",
      "https://hooks.example.com:8443/x",
      "https://hooks.example.com.:8443/x",
      "https://hooks.example.com:80/x",
    ]) {
      assert.equal(callbackUrlProblem(url, false), undefined, url);
    }
    assert.equal(callbackUrlProblem("http://hooks.example.com/x", true), undefined);
    const ports = parseAllowedPorts("8080, 9000-9010");
    assert.equal(
      callbackUrlProblem("https://hooks.example.com:8080/x", false, undefined, ports),
      undefined,
    );
    assert.equal(
      callbackUrlProblem("https://hooks.example.com:9005/x", false, undefined, ports),
      undefined,
    );
    assert.match(
      callbackUrlProblem("https://hooks.example.com:9011/x", false, undefined, ports) ?? "",
      /port 9011 is not allowed: callbacks use 443, 80 or 8443, or a port of RELAY_WEBHOOK_ALLOWED_PORTS \(8080, 9000-9010\)/,
    );
    const any = parseAllowedPorts("*");
    assert.equal(callbackPortProblem(65535, any), undefined);
    assert.match(callbackPortProblem(8080) ?? "", /not allowed/);
    for (const text of ["0", "65536", "x", "10-5", "80-", "1.5"]) {
      assert.throws(() => parseAllowedPorts(text), /is not a port/, text);
    }
    assert.equal(parseAllowedPorts("").text, "");
  });
});
