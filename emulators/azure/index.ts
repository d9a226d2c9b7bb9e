/**
 * Local stand-in for Entra ID (federated client credentials) and Azure Blob Storage (with RBAC),
 * served over HTTPS on one loopback port. See README.md for how to point the Azure SDKs at it.
 */
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { type OidcFetchStats, OidcKeyCache } from "../shared/oidc-keys.ts";
import { AccessTokenSigner } from "./access-tokens.ts";
import { type BlobContext, handleBlob } from "./blob.ts";
import {
  type AzureEmulatorConfig,
  type FederatedCredentialInput,
  parseAzureConfig,
  type RoleAssignment,
  type RoleAssignmentInput,
} from "./config.ts";
import { Directory, looksLikeTenant } from "./directory.ts";
import { type EntraContext, handleEntra, sendEntraJson } from "./entra.ts";
import { entraErrorBody, entraErrors } from "./entra-errors.ts";
import { FaultInjector, type FaultSettings } from "./faults.ts";
import type { StoredBlobDigest } from "./store.ts";
import { BlobStore } from "./store.ts";
import { generateLoopbackTls } from "./tls.ts";

export type {
  AzureEmulatorConfig,
  FederatedCredentialInput,
  RoleAssignmentInput,
} from "./config.ts";
export { buildAzureDemoConfig } from "./demo.ts";
export type { FaultSettings } from "./faults.ts";
export type { StoredBlobDigest } from "./store.ts";

/** Request counters, for tests that check caching, retries and fault behaviour. */
export interface AzureEmulatorStats extends OidcFetchStats {
  tokenRequests: number;
  tokensIssued: number;
  blobRequests: number;
  /** Blob requests by operation name (PutBlock, PutBlockList, GetBlob, …). */
  operations: Record<string, number>;
  faultsInjected: number;
}

/** A running emulator. */
export interface AzureEmulator {
  /** `https://127.0.0.1:<port>`: the `authorityHost` for @azure/identity. */
  authorityHost: string;
  /** Same as authorityHost; the single origin both halves share. */
  origin: string;
  port: number;
  /** Blob service URL of an account, path-style: `https://127.0.0.1:<port>/<account>`. */
  blobEndpoint(account: string): string;
  /** PEM of the CA that signed the emulator's TLS certificate; trust it to connect. */
  caCertPem: string;
  /** Directory holding blob bytes. */
  dataDir: string;
  /** Reads a committed blob back and returns its size, SHA-256 (hex) and MD5 (base64). */
  blobDigest(
    account: string,
    container: string,
    blob: string,
  ): Promise<StoredBlobDigest | undefined>;
  /** Names of committed blobs in a container, sorted. */
  blobNames(account: string, container: string): string[];
  /**
   * Blobs of a container with staged, uncommitted blocks (what an unfinished upload leaves; Azure
   * drops them after 7 days, or when the blob is next committed), by name.
   */
  uncommittedBlocks(
    account: string,
    container: string,
  ): { blob: string; blocks: number; bytes: number }[];
  /** Creates a container (true) or reports it existed (false). */
  createContainer(account: string, container: string): boolean;
  /** Deletes a container and its blobs. */
  deleteContainer(account: string, container: string): Promise<boolean>;
  /** Adds a federated credential to an app; honoured after `federatedCredentialPropagationMs`. */
  addFederatedCredential(
    tenantId: string,
    clientId: string,
    credential: FederatedCredentialInput,
  ): void;
  /** Removes a federated credential by name. */
  removeFederatedCredential(tenantId: string, clientId: string, name: string): boolean;
  /** Adds a role assignment (in the tenant owning the scope's account). */
  addRoleAssignment(assignment: RoleAssignmentInput): RoleAssignment;
  /** Removes matching role assignments; returns how many. */
  removeRoleAssignments(assignment: RoleAssignmentInput): number;
  /** Changes fault injection at runtime. */
  setFaults(faults: Partial<FaultSettings>): void;
  /** Changes the lifetime of access tokens issued from now on. */
  setAccessTokenLifetimeSeconds(seconds: number): void;
  /** Forgets cached issuer discovery documents and JWKS. */
  clearIssuerKeyCache(): void;
  /** Request counters. */
  stats(): AzureEmulatorStats;
  /** Closes the listener and connections and removes a temporary data directory. */
  stop(): Promise<void>;
}

/** Starts the emulator on one loopback HTTPS port (0 = any free port). */
export async function startAzureEmulator(input: AzureEmulatorConfig): Promise<AzureEmulator> {
  const config = parseAzureConfig(input);
  const [tls, signer, store] = await Promise.all([
    generateLoopbackTls(),
    AccessTokenSigner.create(),
    BlobStore.open(config.dataDir),
  ]);
  const directory = new Directory(config);
  for (const tenant of config.tenants) {
    for (const account of tenant.storageAccounts) {
      store.addAccount(account.name);
      for (const container of account.containers)
        store.createContainer(account.name, container, config.now());
    }
  }
  const faults = new FaultInjector(config.seed, config.faults);
  const issuerKeys = new OidcKeyCache({
    // Entra supports RS256 only for federated issuers (§3.2 of the research notes).
    algorithms: ["RS256"],
    allowHttp: () => config.allowHttpIssuers,
    fetchTimeoutMs: config.issuerFetchTimeoutMs,
    ttlMs: config.jwksCacheTtlMs,
    refetchCooldownMs: config.jwksRefetchCooldownMs,
    now: config.now,
  });
  let accessTokenLifetimeSeconds = config.accessTokenLifetimeSeconds;
  const counters = { tokenRequests: 0, tokensIssued: 0, blobRequests: 0, operations: {} };
  let earlyExpiries = 0;

  const server: Server = createServer({
    key: tls.serverKeyPem,
    cert: tls.serverCertPem,
    keepAlive: true,
  });
  // Placeholders until the port is known; both contexts read origin lazily through these objects.
  const entra: EntraContext = {
    origin: "",
    directory,
    signer,
    issuerKeys,
    accessTokenLifetimeSeconds: () => accessTokenLifetimeSeconds,
    now: config.now,
    stats: counters,
  };
  const blob: BlobContext = {
    origin: "",
    directory,
    store,
    auth: {
      signer,
      authorityHost: "",
      now: config.now,
      revokedTokenIds: new Set(),
      onEarlyExpiry: () => {
        earlyExpiries++;
      },
    },
    now: config.now,
    maxUncommittedBlocks: config.maxUncommittedBlocks,
    stats: counters,
  };

  server.on("request", (req, res) => {
    const url = new URL(req.url ?? "/", entra.origin);
    const first = url.pathname.split("/")[1] ?? "";
    const surface = looksLikeTenant(first) ? "entra" : "blob";
    const decision = faults.decide(surface);
    const run = async () => {
      if (surface === "entra") {
        if (decision.resetAfterFraction !== undefined) {
          req.socket.destroy();
          return;
        }
        if (decision.errorStatus) {
          req.resume();
          const err = entraErrors.transient();
          sendEntraJson(res, err.status, entraErrorBody(err, config.now(), undefined));
          return;
        }
        await handleEntra(entra, req, res, url);
      } else {
        await handleBlob(blob, req, res, url, decision);
      }
    };
    const start = () =>
      run().catch(() => {
        if (!res.headersSent) {
          res.writeHead(500, { "content-type": "text/plain" });
          res.end("emulator error");
        } else {
          res.destroy();
        }
      });
    if (decision.delayMs > 0) setTimeout(start, decision.delayMs);
    else start();
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  const origin = `https://${host}:${port}`;
  entra.origin = origin;
  blob.origin = origin;
  blob.auth.authorityHost = origin;

  return {
    authorityHost: origin,
    origin,
    port,
    blobEndpoint: (account) => `${origin}/${account}`,
    caCertPem: tls.caCertPem,
    dataDir: store.dir,
    blobDigest: (account, container, name) => store.digest(account, container, name),
    blobNames: (account, container) =>
      [...(store.container(account, container)?.blobs.keys() ?? [])].sort(),
    uncommittedBlocks: (account, container) =>
      [...(store.container(account, container)?.uncommitted.entries() ?? [])]
        .filter(([, blocks]) => blocks.size > 0)
        .map(([blob, blocks]) => ({
          blob,
          blocks: blocks.size,
          bytes: [...blocks.values()].reduce((sum, block) => sum + block.size, 0),
        }))
        .sort((a, b) => a.blob.localeCompare(b.blob)),
    createContainer: (account, container) => {
      if (!directory.accountTenant(account)) throw new Error(`no storage account ${account}`);
      return store.createContainer(account, container, config.now());
    },
    deleteContainer: (account, container) => store.deleteContainer(account, container),
    addFederatedCredential: (tenantId, clientId, credential) =>
      directory.addFederatedCredential(tenantId, clientId, credential),
    removeFederatedCredential: (tenantId, clientId, name) =>
      directory.removeFederatedCredential(tenantId, clientId, name),
    addRoleAssignment: (assignment) => directory.addRoleAssignment(assignment),
    removeRoleAssignments: (assignment) => directory.removeRoleAssignments(assignment),
    setFaults: (settings) => faults.update(settings),
    setAccessTokenLifetimeSeconds: (seconds) => {
      if (!(Number.isInteger(seconds) && seconds >= 1)) throw new Error("lifetime must be >= 1 s");
      accessTokenLifetimeSeconds = seconds;
    },
    clearIssuerKeyCache: () => issuerKeys.clear(),
    stats: () => ({
      ...issuerKeys.stats,
      tokenRequests: counters.tokenRequests,
      tokensIssued: counters.tokensIssued,
      blobRequests: counters.blobRequests,
      operations: { ...counters.operations },
      faultsInjected: faults.injectedCount + earlyExpiries,
    }),
    stop: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await store.close();
    },
  };
}
