import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { storageUri } from "../providers/index.ts";
import {
  encodeKeyPath,
  keyTemplatePermissionPrefix,
  keyTemplateProblem,
  renderKey,
  SEED_DEFAULT_KEY_TEMPLATE,
  verifyProbePrefix,
} from "./index.ts";

const conversationId = "c0ffee00-1234-4abc-8def-0123456789ab";

describe("key templates", () => {
  it("renders the seed's shapes", () => {
    const values = { conversationId, epochMs: 1_714_000_000_123 };
    assert.equal(
      renderKey(SEED_DEFAULT_KEY_TEMPLATE, values),
      `tavus/${conversationId}/1714000000123`,
    );
    assert.equal(
      renderKey("my-org/recs/{conversation_id}/{epoch_ms}.mp4", values),
      `my-org/recs/${conversationId}/1714000000123.mp4`,
    );
    assert.equal(renderKey("{epoch_ms}-{epoch_ms}", values), "1714000000123-1714000000123");
    assert.throws(() => renderKey("{epoch_ms}", { conversationId, epochMs: 1.5 }), RangeError);
  });

  it("finds the prefix a permission must cover, and the probe folder under it", () => {
    assert.equal(keyTemplatePermissionPrefix(SEED_DEFAULT_KEY_TEMPLATE), "tavus/");
    assert.equal(keyTemplatePermissionPrefix("my-org/recs/{conversation_id}.mp4"), "my-org/recs/");
    assert.equal(keyTemplatePermissionPrefix("my-org/recs-{epoch_ms}"), "my-org/");
    assert.equal(keyTemplatePermissionPrefix("{conversation_id}/{epoch_ms}"), "");
    assert.equal(verifyProbePrefix(SEED_DEFAULT_KEY_TEMPLATE), "tavus/.recording-relay-verify/");
    assert.equal(verifyProbePrefix("{epoch_ms}"), ".recording-relay-verify/");
  });

  it("accepts exactly 512 characters that render within 1024", () => {
    assert.equal(keyTemplateProblem(`${"a".repeat(502)}{epoch_ms}`), undefined);
    assert.match(keyTemplateProblem("{conversation_id}".repeat(30)) ?? "", /up to 1080/);
  });

  it("refuses templates that render a . or .. segment, an empty segment or a trailing /", () => {
    const refused: Record<string, RegExp> = {
      "./{epoch_ms}": /must not have a \. segment/,
      "rec/./{epoch_ms}": /must not have a \. segment/,
      "rec/{epoch_ms}/.": /must not have a \. segment/,
      ".": /must not have a \. segment/,
      "rec/../{epoch_ms}": /\.\./,
      "rec/{epoch_ms}/": /must not end with \//,
      "rec//{epoch_ms}": /must not contain \/\//,
    };
    for (const [template, message] of Object.entries(refused)) {
      assert.match(keyTemplateProblem(template) ?? "accepted", message, template);
    }
    // A dot inside a segment, or a segment starting with one, is an ordinary name.
    for (const template of [".hidden/{epoch_ms}", "rec/{epoch_ms}.mp4", "a.b/.c/{epoch_ms}"]) {
      assert.equal(keyTemplateProblem(template), undefined, template);
    }
  });
});

describe("storage_uri", () => {
  const key = `tavus/${conversationId}/1714000000123`;
  it("is s3://, gs:// or the blob endpoint URL", () => {
    assert.equal(
      storageUri(
        {
          provider: "s3",
          bucket_name: "acme-recs",
          bucket_region: "eu-west-1",
          assume_role_arn: "arn:aws:iam::123456789012:role/W",
        },
        key,
      ),
      `s3://acme-recs/${key}`,
    );
    assert.equal(
      storageUri(
        {
          provider: "gcs",
          bucket_name: "acme.recs",
          project_number: "1",
          workload_identity_pool_id: "pool",
          workload_identity_provider_id: "prov",
          service_account_email: "writer@acme-prod.iam.gserviceaccount.com",
        },
        key,
      ),
      `gs://acme.recs/${key}`,
    );
    assert.equal(
      storageUri(
        {
          provider: "azure_blob",
          tenant_id: "72f988bf-86f1-41af-91ab-2d7cd011db47",
          client_id: "0f3a1c2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
          storage_account: "acmerecordings",
          container: "recs",
        },
        key,
      ),
      `https://acmerecordings.blob.core.windows.net/recs/${key}`,
    );
  });

  it("percent-encodes each segment as RFC 3986 does, keeping the slashes", () => {
    assert.equal(encodeKeyPath("a b/c+d/é/x(1)!*'"), "a%20b/c%2Bd/%C3%A9/x%281%29%21%2A%27");
    assert.equal(encodeKeyPath("A-Z_a.z/0-9~"), "A-Z_a.z/0-9~");
  });
});
