/** Amazon S3: everything the relay knows about it, behind {@link s3Provider}. */
import type { S3Client } from "@aws-sdk/client-s3";
import { credentialKey } from "../../destinations/credential-cache.ts";
import { lazyDestination } from "../../destinations/lazy.ts";
import type { Provider } from "../provider.ts";
import {
  defaultS3Settings,
  type S3AdapterSettings,
  type S3Settings,
  s3SettingsFrom,
} from "./settings.ts";
import { awsSetup } from "./setup.ts";
import { type S3Storage, s3Fields, validateS3 } from "./storage.ts";
import { externalIdFor } from "./trust.ts";

/** The S3 provider. */
export const s3Provider: Provider<S3Storage, S3Settings, S3AdapterSettings> = {
  name: "s3",
  settingsKey: "aws",
  fields: s3Fields,
  validate: validateS3,
  objectUri: (storage, path) => `s3://${storage.bucket_name}/${path}`,
  setupGuide: awsSetup,
  defaultSettings: defaultS3Settings,
  settingsFrom: s3SettingsFrom,

  createDestination(storage, { workspaceId }, deps) {
    const { trust, settings, mintToken, cache, onIdentityExchange } = deps;
    const externalId =
      settings.aws.authMode === "assume_role" ? externalIdFor(trust, workspaceId) : undefined;
    const key = credentialKey(workspaceId, [
      "s3",
      settings.aws.authMode,
      storage.assume_role_arn,
      storage.bucket_region,
      externalId ?? "",
      String(trust.awsRoleSessionSeconds),
    ]);
    return lazyDestination("s3", async () => {
      // The AWS SDK is loaded on first use (see lazyDestination).
      const [{ createS3Client }, { createS3Destination }, { checkS3Safety }] = await Promise.all([
        import("./credentials.ts"),
        import("./upload.ts"),
        import("./safety.ts"),
      ]);
      const inputs = {
        destination: storage,
        workspaceId,
        externalId,
        durationSeconds: trust.awsRoleSessionSeconds,
        settings,
        mintToken,
      };
      const client = cache.getOrCreate<S3Client>(key, () =>
        createS3Client({
          ...inputs,
          ...(onIdentityExchange
            ? { onExchange: (outcome) => onIdentityExchange("s3", outcome) }
            : {}),
        }),
      );
      const destination = createS3Destination({
        destination: storage,
        client,
        settings,
        hints: {
          bucketRegion: storage.bucket_region,
          roleArn: storage.assume_role_arn,
          externalId,
          durationSeconds: trust.awsRoleSessionSeconds,
          trustedAccountId: trust.awsAccountId,
        },
      });
      return {
        ...destination,
        checkSafety: (signal) =>
          checkS3Safety({ ...inputs, trustedAccountId: trust.awsAccountId }, signal),
      };
    });
  },
};
