/** Secret detection: every credential shape, anywhere in a string, and none of the names customers use. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findSecret } from "./secrets.ts";

const awsSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const sessionToken = `FwoGZXIvYXdzEBYaDH${"Ab1".repeat(40)}`;
const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ3b3Jrc3BhY2UifQ.c2lnbmF0dXJlLWJ5dGVz";
const random32 = "SA26GYUv2HMGpTf8Pq97oqkznhxfGR91";
const entraOld = "nTj.si58E_NM-DZBEs81wEogN6E0JBvw";
const googleKey = "AIza301vCVJqYTyU3jMdkaT1mWtlZkPFlhdScFx";
const hex64 = "ed80b190f0dd07180536cce5d882981402548f89eee8b127ea03ccbc603ab793";
const github = {
  ghp: "ghp_MH0lm5PdYnqOLmARwvaWfPS0RkD2qbKzRNcw",
  gho: "gho_WAaG9Rjk3s8POeYwf6wf4Yk3cUu32LPVDIpy",
  ghs: "ghs_OiRLln44PqHzUTqG0WRldi5b8EkoKlvkD3da",
  pat: "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",
};

const looksLike = (value: string) => findSecret(value, "f")?.looksLike;

describe("secret detection by value", () => {
  it("finds each credential shape on its own", () => {
    const cases: Record<string, RegExp> = {
      [random32]: /client secret or key/,
      [entraOld]: /client secret or key/,
      [googleKey]: /Google API key/,
      [github.ghp]: /GitHub token/,
      [github.gho]: /GitHub token/,
      [github.ghs]: /GitHub token/,
      [github.pat]: /GitHub token/,
      [hex64]: /hex key/,
      [hex64.toUpperCase()]: /hex key/,
    };
    for (const [value, expected] of Object.entries(cases)) {
      assert.match(looksLike(value) ?? "accepted", expected, value);
    }
  });

  it("finds credentials embedded in a longer path, each / segment and around placeholders", () => {
    const cases: Record<string, RegExp> = {
      [`rec/${awsSecret}/{epoch_ms}`]: /AWS secret access key/,
      [`${awsSecret}/{epoch_ms}`]: /AWS secret access key/,
      [`rec/${sessionToken}/{epoch_ms}`]: /AWS session token/,
      [`rec/${jwt}/{epoch_ms}`]: /JWT/,
      [`rec/${random32}/{conversation_id}`]: /client secret or key/,
      [`rec/${random32}{epoch_ms}`]: /client secret or key/,
      [`rec/${googleKey}/{epoch_ms}`]: /Google API key/,
      [`rec/${github.pat}/{epoch_ms}`]: /GitHub token/,
      [`rec/${hex64}/{epoch_ms}`]: /hex key/,
      [`rec/${hex64}.mp4`]: /hex key/,
      [`a/${"1YtV33tdNm54TAzihPDxBlYFFVO096xKuxuTujz0Ki1PafuSwhzFfgxzBJt1xASpPrBJqHYx"}/b`]:
        /token or key/,
    };
    for (const [value, expected] of Object.entries(cases)) {
      assert.match(looksLike(value) ?? "accepted", expected, value);
    }
  });

  it("finds credentials anywhere in a URL: query values and names, userinfo, path segments", () => {
    const cases: Record<string, RegExp> = {
      "https://hooks.example.com/x?aws=AKIAIOSFODNN7EXAMPLE": /AWS access key id/,
      [`https://hooks.example.com/x?k=${encodeURIComponent(awsSecret)}`]: /AWS secret access key/,
      [`https://hooks.example.com/hooks/${awsSecret}`]: /AWS secret access key/,
      [`https://hooks.example.com/x?t=${sessionToken}`]: /AWS session token/,
      "https://hooks.example.com/x?sv=2022-11-02&se=2030-01-01T00%3A00%3A00Z&sp=w&sig=abc%3D":
        /SAS token/,
      "https://hooks.example.com/x?se=2030-01-01&sig=abc": /SAS/,
      "https://hooks.example.com/x?conn=DefaultEndpointsProtocol%3Dhttps%3BAccountName%3Da%3BAccountKey%3Dabc%3D%3D":
        /connection string/,
      "https://hooks.example.com/x?AccountKey=abc": /connection string|storage account key/,
      "https://hooks.example.com/x?storage_key=abc": /storage account key/,
      "https://hooks.example.com/x?client_secret=abc": /a secret/,
      "https://hooks.example.com/x?api_key=abc": /API key/,
      [`https://hooks.example.com/x?state=1#access_token=${jwt}`]: /access token|JWT/,
      [`https://user:${random32}@hooks.example.com/x`]: /client secret or key/,
      [`https://hooks.example.com/${github.ghp}`]: /GitHub token/,
      [`https://hooks.example.com/x?key=${googleKey}`]: /key/,
      [`https://hooks.example.com/x?h=${hex64}`]: /hex key/,
    };
    for (const [value, expected] of Object.entries(cases)) {
      assert.match(looksLike(value) ?? "accepted", expected, value);
    }
  });

  it("accepts the identifiers customers configure: UUIDs, names, ARNs, emails, placeholders", () => {
    for (const value of [
      "72f988bf-86f1-41af-91ab-2d7cd011db47",
      "72F988BF-86F1-41AF-91AB-2D7CD011DB47",
      "acme-recs",
      `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(30)}`,
      "arn:aws:iam::123456789012:role/service-role/RecordingWriter",
      `arn:aws:iam::123456789012:role/${"r".repeat(64)}`,
      "tavus-recording-writer@acme-prod.iam.gserviceaccount.com",
      "tavus/{conversation_id}/{epoch_ms}",
      "my-org/recs/{conversation_id}/{epoch_ms}.mp4",
      "A-Z_a.z/0-9/{conversation_id}-{epoch_ms}",
      "Recordings/Acme/Production/EU/2024/Calls",
      "AcmeCorporation/ProductionRecordings/EuropeWest/{conversation_id}/{epoch_ms}",
      "Recordings2024Q3ForCustomerSuccessTeam/{epoch_ms}",
      "ACMEProductionEUWestRecordings2024/{epoch_ms}",
      "customers/72f988bf-86f1-41af-91ab-2d7cd011db47/{conversation_id}/{epoch_ms}.mp4",
      `${"a".repeat(502)}{epoch_ms}`,
      "1714000000123",
      "https://example.com/hooks",
      "https://hooks.example.com/hooks/72f988bf-86f1-41af-91ab-2d7cd011db47?workspace=0f3a1c2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b&event=recording",
      "https://api.example.com/v1/webhooks/recording-relay?source=tavus&env=production&signature_version=2",
      "https://hooks.example.com:8443/Integrations/RecordingRelay/Production?Region=EU",
    ]) {
      assert.equal(looksLike(value), undefined, value);
    }
  });
});
