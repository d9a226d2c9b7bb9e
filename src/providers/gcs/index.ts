/** Google Cloud Storage: everything the relay knows about it, behind {@link gcsProvider}. */
import { cachedCredential, credentialKey } from "../../destinations/credential-cache.ts";
import { lazyDestination } from "../../destinations/lazy.ts";
import type { Provider } from "../provider.ts";
import {
  defaultGcsSettings,
  type GcsAdapterSettings,
  type GcsSettings,
  gcsSettingsFrom,
} from "./settings.ts";
import { gcpSetup } from "./setup.ts";
import { type GcsStorage, gcsFields } from "./storage.ts";
import { audienceOf } from "./trust.ts";

/** The GCS provider. */
export const gcsProvider: Provider<GcsStorage, GcsSettings, GcsAdapterSettings> = {
  name: "gcs",
  settingsKey: "gcp",
  fields: gcsFields,
  validate: (storage) => storage,
  objectUri: (storage, path) => `gs://${storage.bucket_name}/${path}`,
  setupGuide: gcpSetup,
  defaultSettings: defaultGcsSettings,
  settingsFrom: gcsSettingsFrom,

  createDestination(storage, { workspaceId }, deps) {
    const { trust, settings, mintToken, cache, onIdentityExchange } = deps;
    const audience = audienceOf(storage);
    const key = credentialKey(workspaceId, ["gcs", audience, storage.service_account_email]);
    const inputs = { destination: storage, workspaceId, settings, mintToken };
    return lazyDestination("gcs", async () => {
      // google-auth-library is loaded on first use (see lazyDestination).
      const [{ createGcpAuthClient, observedGcp }, { createGcsDestination }, { checkGcsSafety }] =
        await Promise.all([
          import("./credentials.ts"),
          import("./upload.ts"),
          import("./safety.ts"),
        ]);
      const destination = createGcsDestination({
        destination: storage,
        credential: cachedCredential(cache, key, () =>
          observedGcp(createGcpAuthClient(inputs), onIdentityExchange),
        ),
        settings,
        hints: {
          bucket: storage.bucket_name,
          serviceAccountEmail: storage.service_account_email,
          audience,
          issuerUrl: trust.issuerUrl,
          workspaceId,
        },
      });
      return { ...destination, checkSafety: (signal) => checkGcsSafety(inputs, signal) };
    });
  },
};
