import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  defaultProviderSettings,
  providerNamed,
  providerOf,
  providers,
  storageProviders,
  storageUri,
} from "./index.ts";

describe("the provider registry", () => {
  it("lists s3, gcs and azure_blob in documentation order, each with its own settings key", () => {
    assert.deepEqual(storageProviders, ["s3", "gcs", "azure_blob"]);
    assert.deepEqual(
      providers.map((provider) => provider.settingsKey),
      ["aws", "gcp", "azure"],
    );
    assert.deepEqual(Object.keys(defaultProviderSettings()), ["aws", "gcp", "azure"]);
  });

  it("finds a provider by name and by destination", () => {
    assert.equal(providerNamed("gcs")?.name, "gcs");
    assert.equal(providerNamed("dropbox"), undefined);
    const storage = {
      provider: "azure_blob" as const,
      tenant_id: "72f988bf-86f1-41af-91ab-2d7cd011db47",
      client_id: "0f8fad5b-d9cb-469f-a165-70867728950e",
      storage_account: "acmerecordings",
      container: "recordings",
    };
    assert.equal(providerOf(storage).name, "azure_blob");
    assert.equal(
      storageUri(storage, "rec/a b.mp4"),
      "https://acmerecordings.blob.core.windows.net/recordings/rec/a%20b.mp4",
    );
  });

  it("no two providers claim the same field", () => {
    const seen = new Map<string, string>();
    for (const provider of providers) {
      for (const field of Object.keys(provider.fields)) {
        if (field === "bucket_name") continue; // S3 and GCS both name a bucket, with different rules
        assert.equal(seen.get(field), undefined, `${field} of ${provider.name}`);
        seen.set(field, provider.name);
      }
    }
  });
});
