/** Customer setup guides, one generator per provider. */
import type { StorageProvider } from "../domain/index.ts";
import { awsSetup } from "./aws.ts";
import { azureSetup } from "./azure.ts";
import { gcpSetup } from "./gcp.ts";
import type { SetupGuide, SetupInput } from "./guide.ts";

export { requireAwsAccount } from "./aws.ts";
export type { Placeholder, SetupGuide, SetupInput } from "./guide.ts";

/** The complete setup of `provider` for one workspace. */
export function generateSetup(provider: StorageProvider, input: SetupInput): SetupGuide {
  switch (provider) {
    case "s3":
      return awsSetup(input);
    case "gcs":
      return gcpSetup(input);
    case "azure_blob":
      return azureSetup(input);
  }
}
