/**
 * Picks the adapter for a `recording_storage` object from the provider registry and binds it to
 * one workspace, reusing the workspace's cached authenticated clients (one identity exchange per
 * credential lifetime).
 */
import type { RelayTrust } from "../domain/trust.ts";
import {
  type DestinationContext,
  defaultProviderSettings,
  providerOf,
  type RecordingStorage,
} from "../providers/index.ts";
import type { MintToken } from "./adapter.ts";
import type { Destination } from "./contract.ts";
import type { CredentialCache } from "./credential-cache.ts";
import { type DestinationSettings, defaultCommonDestinationSettings } from "./settings.ts";

export type { DestinationContext } from "../providers/index.ts";

/** What every destination of a relay shares. */
export interface DestinationFactoryDeps {
  trust: RelayTrust;
  settings: DestinationSettings;
  mintToken: MintToken;
  /** Shared across calls so clients (and their credentials) are reused; one per process. */
  cache: CredentialCache;
}

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
