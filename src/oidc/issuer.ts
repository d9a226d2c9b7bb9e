/**
 * The relay's OIDC issuer, as one factory: the HTTP routes read its documents, delivery adapters
 * (GCS, Azure) call `mintToken`, `serve` schedules `rotate`, and the CLI lists and rotates keys.
 */
import type { Db, Queryable } from "../db/index.ts";
import { type Clock, systemClock } from "../lib/clock.ts";
import {
  type DiscoveryDocument,
  discoveryDocument,
  type JwksDocument,
  jwksDocument,
} from "./documents.ts";
import {
  type EmergencyRotation,
  emergencyRotateKeys,
  type RotationOutcome,
  rotateKeys,
} from "./rotation.ts";
import { openPrivateKey } from "./sealed-keys.ts";
import {
  listKeyRecords,
  publishedKeys,
  type SigningKeyRecord,
  sealedLiveKeys,
  signingKeyAt,
} from "./store.ts";
import { signToken } from "./tokens.ts";

/** Dependencies and policy of {@link createIssuer}. */
export interface IssuerOptions {
  db: Db;
  /** The exact issuer string (`iss`, discovery `issuer`); no trailing slash. */
  issuerUrl: string;
  /** 32 bytes that encrypt the private keys at rest. */
  masterKey: Uint8Array;
  /** Defaults to the system clock. */
  clock?: Clock;
  /** Lifetime of minted tokens in seconds, 1-600; default 300. */
  tokenLifetimeSeconds?: number;
  /** How long each key signs before its successor takes over, in hours; default 720. */
  rotationIntervalHours?: number;
}

/** One token request: the workspace that owns the recording, and the cloud's audience. */
export interface MintTokenRequest {
  /** Becomes `sub` and `customer_id`. */
  workspaceId: string;
  /** `aud`: the GCP provider resource name, `api://AzureADTokenExchange`, `sts.amazonaws.com`. */
  audience: string;
  signal?: AbortSignal;
}

/** Where a key is in its life at a given moment. */
export type KeyState = "published" | "signing" | "retired" | "withdrawn";

/** A stored key as `keys list` shows it (public facts only). */
export interface KeyStatus {
  kid: string;
  state: KeyState;
  publishAt: Date;
  activateAt: Date;
  retireAt: Date | null;
  unpublishAt: Date | null;
}

/** The issuer. */
export interface Issuer {
  readonly issuerUrl: string;
  /**
   * Call once at start: creates the first key when there is none, and proves the master key opens
   * every key still in use (MASTER_KEY_MISMATCH otherwise; never a silent new key).
   */
  prepare(signal?: AbortSignal): Promise<void>;
  /** Mints a fresh signed token (new `jti`, `iat` now) with the key signing at this moment. */
  mintToken(request: MintTokenRequest): Promise<string>;
  /** The discovery document. */
  discovery(): DiscoveryDocument;
  /** The JWKS at this moment: every published, not yet withdrawn key. */
  jwks(signal?: AbortSignal): Promise<JwksDocument>;
  /** Runs the rotation schedule once; `force` schedules a successor now (manual rotation). */
  rotate(options?: { force?: boolean; signal?: AbortSignal }): Promise<RotationOutcome>;
  /** Every stored key with its state at this moment. */
  listKeys(signal?: AbortSignal): Promise<KeyStatus[]>;
  /** A new key signs now; every other key leaves the JWKS now (a compromised key). */
  emergencyRotate(): Promise<EmergencyRotation>;
}

/** The state of `key` at `now`. */
export function keyState(key: SigningKeyRecord, now: number): KeyState {
  if (key.unpublishAt !== null && now >= key.unpublishAt) return "withdrawn";
  if (key.retireAt !== null && now >= key.retireAt) return "retired";
  if (now >= key.activateAt) return "signing";
  return "published";
}

/** Every stored key with its state at `now`; needs no master key (public facts only). */
export async function listSigningKeys(q: Queryable, now: number): Promise<KeyStatus[]> {
  return (await listKeyRecords(q)).map((key) => ({
    kid: key.kid,
    state: keyState(key, now),
    publishAt: new Date(key.publishAt),
    activateAt: new Date(key.activateAt),
    retireAt: key.retireAt === null ? null : new Date(key.retireAt),
    unpublishAt: key.unpublishAt === null ? null : new Date(key.unpublishAt),
  }));
}

const HOUR_MS = 3_600_000;

/** Builds the issuer; it does no I/O until called. */
export function createIssuer(options: IssuerOptions): Issuer {
  const { db, issuerUrl, masterKey } = options;
  const clock = options.clock ?? systemClock;
  const lifetimeSeconds = options.tokenLifetimeSeconds ?? 300;
  const rotationIntervalMs = (options.rotationIntervalHours ?? 720) * HOUR_MS;
  const rotate = async ({
    force = false,
    signal,
  }: {
    force?: boolean;
    signal?: AbortSignal;
  } = {}) => {
    signal?.throwIfAborted();
    return await rotateKeys(db, { now: clock.now(), masterKey, rotationIntervalMs, force });
  };

  return {
    issuerUrl,
    async prepare(signal) {
      await rotate({ ...(signal ? { signal } : {}) });
      signal?.throwIfAborted();
      for (const { kid, sealed } of await sealedLiveKeys(db, clock.now())) {
        // Only the GCM tag check matters here; the plaintext is dropped at once.
        openPrivateKey(masterKey, kid, sealed);
      }
    },
    async mintToken({ workspaceId, audience, signal }) {
      signal?.throwIfAborted();
      let key = await signingKeyAt(db, clock.now());
      if (!key) {
        // Only before `prepare` ran somewhere: create the first key rather than fail a delivery.
        await rotate({ ...(signal ? { signal } : {}) });
        key = await signingKeyAt(db, clock.now());
        if (!key) throw new Error("no signing key is active after bootstrapping one");
      }
      signal?.throwIfAborted();
      const pkcs8Pem = openPrivateKey(masterKey, key.kid, key.sealed);
      return await signToken(
        { issuerUrl, workspaceId, audience, now: clock.now(), lifetimeSeconds },
        { kid: key.kid, pkcs8Pem },
      );
    },
    discovery: () => discoveryDocument(issuerUrl),
    async jwks(signal) {
      signal?.throwIfAborted();
      const keys = await publishedKeys(db, clock.now());
      return jwksDocument(keys.map((key) => key.publicJwk));
    },
    rotate,
    async listKeys(signal) {
      signal?.throwIfAborted();
      return await listSigningKeys(db, clock.now());
    },
    emergencyRotate: () => emergencyRotateKeys(db, { now: clock.now(), masterKey }),
  };
}
