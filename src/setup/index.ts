/** Customer setup guides: each provider writes its own; the shared helpers are in `./guide.ts`. */
import { providerNamed, type StorageProvider } from "../providers/index.ts";
import type { SetupGuide, SetupInput } from "./guide.ts";

export { requireAwsAccount } from "../providers/index.ts";
export type { Placeholder, SetupGuide, SetupInput } from "./guide.ts";

/** The complete setup of `provider` for one workspace. */
export function generateSetup(provider: StorageProvider, input: SetupInput): SetupGuide {
  const found = providerNamed(provider);
  if (!found) throw new Error(`unknown storage provider ${provider}`);
  return found.setupGuide(input);
}
