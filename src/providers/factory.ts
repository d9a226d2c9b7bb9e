/**
 * Picks the adapter for a `recording_storage` object from the provider registry and binds it to
 * one workspace, reusing the workspace's cached authenticated clients (one identity exchange per
 * credential lifetime).
 */
import {
  type DestinationContext,
  type DestinationSettings,
  defaultProviderSettings,
  providerOf,
  type RecordingStorage,
} from "./index.ts";

/** What every destination of a relay shares: the trust, all settings, minting, the cache. */
export type DestinationFactoryDeps = AdapterDeps<DestinationSettings>;

import type { AdapterDeps } from "../destinations/adapter.ts";
import type { Destination } from "../destinations/contract.ts";
import { defaultCommonDestinationSettings } from "../destinations/settings.ts";

export type { DestinationContext } from "./index.ts";

/** The real clouds, with the documented retry and timeout defaults. */
export const defaultDestinationSettings: DestinationSettings = {
  ...defaultProviderSettings(),
  ...defaultCommonDestinationSettings,
};

/** Builds a factory: `createDestination(storage, { workspaceId })` picks and binds the adapter. */
export function destinationFactory(deps: DestinationFactoryDeps) {
  return function createDestination(
    storage: RecordingStorage,
    context: DestinationContext,
  ): Destination {
    return providerOf(storage).createDestination(storage, context, deps);
  };
}

/** The function {@link destinationFactory} returns. */
export type CreateDestination = ReturnType<typeof destinationFactory>;
