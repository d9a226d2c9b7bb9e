/** Builds the destination factory of a process from its configuration (endpoints, CA, retries). */
import { readFileSync } from "node:fs";
import type { Config } from "../config/index.ts";
import type { IdentityExchangeObserver } from "../destinations/adapter.ts";
import { CredentialCache, verifyDestination } from "../destinations/index.ts";
import { MiB } from "../destinations/parts.ts";
import type { RelayTrust } from "../domain/index.ts";
import type { DestinationVerifier } from "../http/routes/conversations.ts";
import type { Issuer } from "../oidc/index.ts";
import { type CreateDestination, destinationFactory } from "../providers/factory.ts";
import { type DestinationSettings, providerSettingsFrom } from "../providers/index.ts";
import { issuerUrlOf } from "./issuer-url.ts";

/** The trust customers configure, from the configuration. */
export function trustFrom(config: Config): RelayTrust {
  return {
    issuerUrl: issuerUrlOf(config).url,
    awsAuthMode: config.awsAuthMode,
    awsAccountId: config.awsAccountId,
    awsExternalIdMode: config.awsExternalIdMode,
    awsExternalId: config.awsExternalId,
    awsRoleSessionSeconds: config.awsRoleSessionSeconds,
  };
}

/**
 * The adapters' settings from the configuration: each provider maps its own settings
 * (`settingsFrom` in `src/providers/<cloud>/settings.ts`); reads the extra CA file once.
 */
export function destinationSettingsFrom(config: Config): DestinationSettings {
  return {
    ...providerSettingsFrom(config),
    extraCaPem: config.extraCaFile ? readFileSync(config.extraCaFile, "utf8") : undefined,
    maxAttempts: config.destinationMaxAttempts,
    retryBaseDelayMs: 500,
    requestTimeoutMs: config.destinationRequestTimeoutMs,
    partsInFlight: config.deliveryPartsInFlight,
    memoryBudgetBytes: config.deliveryMemoryBudgetMib * MiB,
  };
}

/** One factory (and credential cache) per process; `onIdentityExchange` feeds the metrics. */
export function destinationsFrom(
  config: Config,
  trust: RelayTrust,
  issuer: Pick<Issuer, "mintToken">,
  onIdentityExchange?: IdentityExchangeObserver,
): CreateDestination {
  return destinationFactory({
    trust,
    settings: destinationSettingsFrom(config),
    mintToken: (request) => issuer.mintToken(request),
    cache: new CredentialCache(),
    ...(onIdentityExchange ? { onIdentityExchange } : {}),
  });
}

/** The verify diagnostic over a destination factory. */
export function verifierOf(createDestination: CreateDestination): DestinationVerifier {
  return async (destination, { workspaceId, signal }) =>
    await verifyDestination(
      createDestination(destination, { workspaceId }),
      destination.key_template,
      signal,
    );
}
