/** Customer setup guides: each provider writes its own; the shared helpers are in src/setup/guide.ts. */

import type { SetupGuide, SetupInput } from "../setup/guide.ts";
import { providerNamed, type RecordingStorage, type StorageProvider } from "./index.ts";

export type { SetupGuide, SetupInput } from "../setup/guide.ts";
export { requireAwsAccount } from "./index.ts";

/** The complete setup of `provider` for one workspace. */
export function generateSetup(
  provider: StorageProvider,
  input: SetupInput<RecordingStorage>,
): SetupGuide {
  const found = providerNamed(provider);
  if (!found) throw new Error(`unknown storage provider ${provider}`);
  // A saved default of another provider knows nothing about this one.
  const known = input.known?.provider === provider ? input.known : undefined;
  return found.setupGuide({ ...input, known });
}
