/**
 * Pieces every destination adapter shares, written once: the relay-token minting function they
 * receive, the integrity-check failure, the one retry after the cloud refused a cached credential,
 * and the per-process TLS agents (one per endpoint and extra CA, kept alive and reused).
 */
import { Agent as HttpsAgent } from "node:https";
import { createSecureContext, rootCertificates, type SecureContext } from "node:tls";
import { Agent as UndiciAgent } from "undici";
import type { RelayTrust } from "../domain/trust.ts";
import { DestinationError } from "./contract.ts";
import type { CachedCredential, CredentialCache } from "./credential-cache.ts";
import type { CommonDestinationSettings } from "./settings.ts";

/** Mints a relay OIDC token for a workspace and audience (the issuer's `mintToken`). */
export type MintToken = (request: {
  workspaceId: string;
  audience: string;
  signal?: AbortSignal;
}) => Promise<string>;

/** What every destination of a relay shares; `Settings` is what one provider reads of them. */
export interface AdapterDeps<Settings = CommonDestinationSettings> {
  trust: RelayTrust;
  settings: Settings;
  mintToken: MintToken;
  /** Shared across calls so clients (and their credentials) are reused; one per process. */
  cache: CredentialCache;
  /** Told of every identity exchange and whether the cloud granted a credential (metrics). */
  onIdentityExchange?: IdentityExchangeObserver;
}

/**
 * Told of every identity exchange (AWS STS, GCP STS with impersonation, Entra ID) and whether the
 * cloud granted a credential: the process's metrics. Never told who (no workspace).
 */
export type IdentityExchangeObserver = (provider: string, outcome: "success" | "failure") => void;

/** What an adapter is built from: one destination, its workspace's credential, settings, hints. */
export interface AdapterInputs<Storage, Credential, Hints, Settings> {
  destination: Storage;
  /** The workspace's cached credential, replaced after the cloud refused its token. */
  credential: CachedCredential<Credential>;
  settings: Settings;
  /** Facts of the destination that make failure hints concrete. */
  hints: Hints;
}

/**
 * The failure of a completed upload whose stored checksum or size differs from what was sent
 * (docs/errors.md, INTEGRITY_CHECK_FAILED): transient, delivery uploads again from the staged copy.
 * `stored` names what the cloud stored ("the object S3 stored").
 */
export function integrityError(stored: string, detail: string): DestinationError {
  return new DestinationError(`${stored} does not match the bytes sent`, {
    code: "INTEGRITY_CHECK_FAILED",
    transient: true,
    cloudCode: "ChecksumMismatch",
    cloudMessage: detail,
    hint: "the relay uploads the recording again from its staged copy",
    stage: "storage",
  });
}

/** How an adapter classifies failures and renews a credential the cloud refused. */
export interface FreshCredentialPolicy {
  /** The failure as a {@link DestinationError} (an existing one is returned unchanged). */
  classify(error: unknown): DestinationError | Promise<DestinationError>;
  /** Whether new credentials may succeed where the cached ones failed (expired or revoked token). */
  isStale(classified: DestinationError, error: unknown): boolean;
  /** Drops or force-refreshes the cached credential; throws a classified failure if it cannot. */
  refresh(): void | Promise<void>;
}

/**
 * Runs `run`; when the cloud refused the cached credential, renews it once and runs again.
 * Every failure leaves classified.
 */
export async function withFreshCredentialRetry<T>(
  run: () => Promise<T>,
  policy: FreshCredentialPolicy,
): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const classified = await policy.classify(error);
    if (!policy.isStale(classified, error)) throw classified;
    await policy.refresh();
    try {
      return await run();
    } catch (retryError) {
      throw await policy.classify(retryError);
    }
  }
}

const httpsAgents = new Map<string, HttpsAgent>();
const dispatchers = new Map<string, UndiciAgent>();

const secureContexts = new Map<string, SecureContext>();

/** The CA list trusting `extraCaPem` on top of the built-in roots (`ca` alone replaces them). */
export function caWithExtra(extraCaPem: string): string[] {
  return [...rootCertificates, extraCaPem];
}

/**
 * The process's one TLS context trusting `extraCaPem` on top of the built-in roots. Passing `ca`
 * instead makes Node parse the whole root list into a new context for every connection, and makes
 * `https.Agent` join it into the pool name of every request: both showed in worker profiles.
 */
function sharedSecureContext(extraCaPem: string): SecureContext {
  let context = secureContexts.get(extraCaPem);
  if (!context) {
    context = createSecureContext({ ca: caWithExtra(extraCaPem) });
    secureContexts.set(extraCaPem, context);
  }
  return context;
}

/**
 * The process's keep-alive `https.Agent` for `endpoint` (an origin; "" for the cloud's default
 * endpoints) trusting `extraCaPem`, for the AWS and Azure SDKs: every client of the process reuses
 * its connections instead of opening (and leaking) its own pool.
 */
export function sharedHttpsAgent(endpoint: string, extraCaPem: string | undefined): HttpsAgent {
  const key = JSON.stringify([endpoint, extraCaPem ?? ""]);
  let agent = httpsAgents.get(key);
  if (!agent) {
    agent = new HttpsAgent({
      keepAlive: true,
      ...(extraCaPem ? { secureContext: sharedSecureContext(extraCaPem) } : {}),
    });
    httpsAgents.set(key, agent);
  }
  return agent;
}

/**
 * The process's undici dispatcher for `endpoint` when an extra CA must be trusted; undefined
 * otherwise (undici's global dispatcher then serves, itself one per process).
 */
export function sharedDispatcher(
  endpoint: string,
  extraCaPem: string | undefined,
): UndiciAgent | undefined {
  if (!extraCaPem) return undefined;
  const key = JSON.stringify([new URL(endpoint).origin, extraCaPem]);
  let dispatcher = dispatchers.get(key);
  if (!dispatcher) {
    dispatcher = new UndiciAgent({ connect: { secureContext: sharedSecureContext(extraCaPem) } });
    dispatchers.set(key, dispatcher);
  }
  return dispatcher;
}

/** Closes every shared agent and dispatcher (at shutdown; later calls create new ones). */
export async function closeSharedAgents(): Promise<void> {
  for (const agent of httpsAgents.values()) agent.destroy();
  httpsAgents.clear();
  secureContexts.clear();
  const closing = [...dispatchers.values()].map((dispatcher) => dispatcher.close());
  dispatchers.clear();
  await Promise.allSettled(closing);
}
