/**
 * Local stand-in for GCP STS (Workload Identity Federation), IAM Credentials and GCS, served on
 * one loopback port. See README.md for what is and is not emulated.
 */
import { createReadStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { isLoopbackUrl, OidcKeyCache } from "../shared/oidc-keys.ts";
import {
  type CustomerModel,
  type CustomerModelInput,
  parseCustomerModel,
  providerResourceName,
} from "./config.ts";
import { FaultInjector, type GcpFaults } from "./faults.ts";
import { ResumableSessions } from "./resumable.ts";
import { type RequestLogEntry, startServer } from "./server.ts";
import { ObjectStore, type StoredObject } from "./store.ts";
import { SUBJECT_TOKEN_ALGORITHMS } from "./sts.ts";
import { TokenRegistry } from "./tokens.ts";

export type { CustomerModel, CustomerModelInput } from "./config.ts";
export { demoGcpSetup, UNSAFE_PROVIDER_ID } from "./demo-setup.ts";
export type { GcpFaults } from "./faults.ts";
export type { RequestLogEntry } from "./server.ts";
export type { StoredObject } from "./store.ts";

/** Options of {@link startGcpEmulator}. */
export interface GcpEmulatorOptions {
  /** The customer-side setup (projects, pools, providers, service accounts, buckets). */
  customers: CustomerModelInput;
  /** Listen address; loopback by default. */
  host?: string;
  /** Listen port; 0 (any free port) by default. */
  port?: number;
  /** Where objects live; a fresh temporary directory (removed on stop) by default. */
  dataDir?: string;
  /**
   * Accept `http://` issuer URIs and JWKS URLs: `true`, `false`, or `"loopback"` (the default:
   * only 127.0.0.0/8, ::1 and localhost). Google itself requires https.
   */
  allowHttpIssuers?: boolean | "loopback";
  /** Initial fault settings. */
  faults?: Partial<GcpFaults>;
  /** Injected clock in ms (defaults to Date.now). */
  now?: () => number;
  /** How long fetched JWKS stay trusted before a refetch (default 5 min). */
  jwksCacheTtlMs?: number;
  /** Timeout of discovery/JWKS fetches (default 5 s). */
  jwksFetchTimeoutMs?: number;
  /** Lifetime of resumable upload sessions (default one week, like GCS). */
  resumableSessionTtlMs?: number;
}

/** A running emulator. */
export interface GcpEmulator {
  /** Base URL, e.g. `http://127.0.0.1:41234`; use as `apiEndpoint` of `@google-cloud/storage`. */
  endpoint: string;
  /** STS token endpoint (`token_url` of an external_account credential). */
  stsTokenUrl: string;
  /** The generateAccessToken URL for a service account (`service_account_impersonation_url`). */
  impersonationUrl(serviceAccountEmail: string): string;
  /** The default audience of a provider (its full resource name). */
  audience(projectNumber: string, poolId: string, providerId: string): string;
  /** The live customer model; mutate it to change trust or permissions at runtime. */
  customers: CustomerModel;
  /** Current fault settings. */
  readonly faults: GcpFaults;
  /** Changes fault settings at runtime (a `seed` restarts the schedule). */
  setFaults(update: Partial<GcpFaults>): void;
  /** Expires every token issued so far, as if they had all reached their end. */
  expireTokens(): void;
  /** Forgets cached issuer JWKS so the next exchange fetches them again. */
  clearIssuerKeys(): void;
  /** The live version of an object with its size, md5, crc32c, sha256 and file path. */
  getObject(bucket: string, name: string): StoredObject | undefined;
  /** Objects of a bucket (optionally under a prefix), sorted by name. */
  listObjects(bucket: string, prefix?: string): StoredObject[];
  /** The bytes of an object. */
  readObject(bucket: string, name: string): Readable;
  /** Every request served so far (most recent last, capped at 10 000). */
  readonly requests: readonly RequestLogEntry[];
  /**
   * Resumable upload sessions of a bucket still open (not finalized, cancelled or expired), with
   * the bytes persisted so far: what an abandoned upload leaves until GCS expires it (one week).
   */
  openUploads(bucket: string): { name: string; committedBytes: number; createdAtMs: number }[];
  /** Stops listening, closes connections and removes the temporary data directory. */
  stop(): Promise<void>;
}

/** Starts the emulator and resolves once it listens. */
export async function startGcpEmulator(options: GcpEmulatorOptions): Promise<GcpEmulator> {
  const model = parseCustomerModel(options.customers);
  const allowMode = options.allowHttpIssuers ?? "loopback";
  const allowHttpIssuer = (url: URL) => (allowMode === "loopback" ? isLoopbackUrl(url) : allowMode);
  // Google refuses to create a provider with a non-https issuer; so does the emulator (unless allowed).
  for (const project of model.projects) {
    for (const pool of project.workloadIdentityPools) {
      for (const provider of pool.providers) {
        const url = new URL(provider.issuerUri);
        if (url.protocol !== "https:" && !(url.protocol === "http:" && allowHttpIssuer(url))) {
          throw new Error(
            `provider ${pool.poolId}/${provider.providerId}: issuerUri must use https (${provider.issuerUri})`,
          );
        }
      }
    }
  }
  const now = options.now ?? Date.now;
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "gcp-emulator-")));
  const store = new ObjectStore(dataDir);
  await store.init();
  const faults = new FaultInjector(options.faults);
  const tokens = new TokenRegistry(now);
  const keys = new OidcKeyCache({
    algorithms: SUBJECT_TOKEN_ALGORITHMS,
    now,
    ttlMs: options.jwksCacheTtlMs ?? 300_000,
    allowHttp: allowHttpIssuer,
    fetchTimeoutMs: options.jwksFetchTimeoutMs ?? 5_000,
  });
  const sessions = new ResumableSessions();
  const sessionTtlMs = options.resumableSessionTtlMs ?? 7 * 24 * 3_600_000;
  const requests: RequestLogEntry[] = [];
  const { server, endpoint } = await startServer(
    {
      model,
      keys,
      tokens,
      store,
      sessions,
      faults,
      now,
      allowHttpIssuer,
      sessionTtlMs,
      onRequest: (entry) => {
        requests.push(entry);
        if (requests.length > 10_000) requests.shift();
      },
    },
    options.host ?? "127.0.0.1",
    options.port ?? 0,
  );

  return {
    endpoint,
    stsTokenUrl: `${endpoint}/v1/token`,
    impersonationUrl: (email) =>
      `${endpoint}/v1/projects/-/serviceAccounts/${email}:generateAccessToken`,
    audience: providerResourceName,
    customers: model,
    get faults() {
      return faults.current;
    },
    setFaults: (update) => faults.set(update),
    expireTokens: () => tokens.expireAll(),
    clearIssuerKeys: () => keys.clear(),
    getObject: (bucket, name) => store.get(bucket, name),
    listObjects: (bucket, prefix) => store.list(bucket, prefix),
    readObject: (bucket, name) => {
      const object = store.get(bucket, name);
      if (!object) throw new Error(`no object gs://${bucket}/${name}`);
      return createReadStream(object.filePath);
    },
    requests,
    openUploads: (bucket) =>
      sessions
        .open(now(), sessionTtlMs)
        .filter((session) => session.bucket === bucket)
        .map(({ name, committedBytes, createdAtMs }) => ({ name, committedBytes, createdAtMs })),
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await sessions.closeAll();
      if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
