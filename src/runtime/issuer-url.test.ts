import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describeIssuer, issuerUrlOf } from "./issuer-url.ts";

describe("describeIssuer", () => {
  it("warns when a configured issuer is plain http on a host the clouds could reach", () => {
    for (const url of ["http://relay.example.com", "http://10.0.0.5:8080/oidc"]) {
      const text = describeIssuer({ url, derived: false });
      assert.match(text, /^OIDC issuer: http:/);
      assert.match(text, /\nWARNING: the OIDC issuer is http, not https/, url);
      assert.match(text, /Google .*AWS .*Entra/);
      assert.match(text, /reverse proxy with TLS/);
      assert.match(text, /docs\/operations\.md/);
    }
  });

  it("warns for an issuer derived from a non-loopback listen address", () => {
    const issuer = issuerUrlOf({ issuerUrl: undefined, host: "10.0.0.5", port: 8080 });
    assert.equal(issuer.url, "http://10.0.0.5:8080");
    assert.match(describeIssuer(issuer), /WARNING: the OIDC issuer is http/);
  });

  it("says nothing more for https, nor for a loopback http issuer (local use)", () => {
    for (const url of [
      "https://relay.example.com",
      "http://localhost:8080",
      "http://127.0.0.1:9000",
      "http://[::1]:8080",
    ]) {
      assert.doesNotMatch(describeIssuer({ url, derived: false }), /WARNING/, url);
    }
    const derived = describeIssuer(
      issuerUrlOf({ issuerUrl: undefined, host: "127.0.0.1", port: 8080 }),
    );
    assert.match(derived, /derived from the listen address/);
    assert.doesNotMatch(derived, /WARNING/);
  });
});
