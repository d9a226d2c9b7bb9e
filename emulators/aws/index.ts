import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isLoopbackUrl, OidcKeyCache } from "../shared/oidc-keys.ts";
import {
  type AwsEmulatorConfigInput,
  type FaultConfig,
  type FaultConfigInput,
  parseAwsEmulatorConfig,
  type RoleConfig,
  roleSchema,
} from "./config.ts";
import { type CredentialRecord, CredentialStore } from "./credentials.ts";
import { FaultInjector } from "./faults.ts";
import { UploadRegistry } from "./multipart.ts";
import { describeObject, type ObjectInfo } from "./objects.ts";
import { createRequestHandler, type EmulatorState, type RequestLogEntry } from "./server.ts";
import { ObjectStore } from "./store.ts";

export type {
  AwsEmulatorConfigInput,
  FaultConfig,
  FaultConfigInput,
  RoleConfig,
} from "./config.ts";
export {
  DEMO,
  demoAwsConfig,
  oidcProviderArn,
  oidcProviderHostPath,
  oidcProviderUrlProblem,
} from "./config.ts";
export type { ObjectInfo } from "./objects.ts";
export type { RequestLogEntry } from "./server.ts";

/** A session STS issued, as tests see it. */
export interface IssuedSession {
  accessKeyId: string;
  roleArn: string;
  sessionArn: string;
  expiresAt: Date;
  /** Earlier than `expiresAt` when credentials were made to expire early. */
  invalidAfter: Date;
}

/** Runtime fault controls. */
export interface FaultControls {
  /** Replaces the fault configuration (and reseeds). */
  set(config: FaultConfigInput): void;
  /** Removes every fault. */
  clear(): void;
  /** The configuration in force. */
  current(): FaultConfig;
}

/** A running emulator. */
export interface AwsEmulator {
  /** `http://127.0.0.1:<port>`: the endpoint for both STS and path-style S3. */
  endpoint: string;
  port: number;
  /** Where objects and parts are stored. */
  dataDir: string;
  /** Closes the server (dropping open connections) and removes a temp data dir it created. */
  stop(): Promise<void>;
  faults: FaultControls;
  /** Size, SHA-256, ETag and checksum of a stored object; undefined if absent. */
  objectInfo(bucket: string, key: string): ObjectInfo | undefined;
  /** Keys stored in a bucket, in listing order. */
  keys(bucket: string): string[];
  /** Every session STS issued, oldest first. */
  sessions(): IssuedSession[];
  /** Makes issued sessions (all, or one access key) stop working now; returns how many. */
  expireSessions(accessKeyId?: string): number;
  /** Requests handled so far (most recent last). */
  requests(): readonly RequestLogEntry[];
  /** Forgets the cached discovery documents and JWKS of OIDC issuers. */
  clearIssuerKeyCache(): void;
  /** The multipart uploads in progress in a bucket, with how many parts each holds. */
  pendingUploads(bucket: string): { key: string; uploadId: string; parts: number }[];
  /**
   * Creates or replaces a role (trust policy, maximum session, permissions), effective at once:
   * how a test breaks a customer's trust and repairs it (IAM's UpdateAssumeRolePolicy).
   */
  putRole(role: Parameters<typeof roleSchema.parse>[0]): void;
  /** The role as configured now; undefined when there is none. */
  role(arn: string): RoleConfig | undefined;
  /** Deletes a role (sessions already issued keep working until they expire); whether it existed. */
  deleteRole(arn: string): boolean;
}

/** Starts the AWS emulator (STS + path-style S3 on one loopback port). */
export async function startAwsEmulator(input: AwsEmulatorConfigInput = {}): Promise<AwsEmulator> {
  const config = parseAwsEmulatorConfig(input);
  const ownsDataDir = config.dataDir === undefined;
  const dataDir = config.dataDir ?? (await mkdtemp(join(tmpdir(), "aws-emulator-")));
  const store = new ObjectStore(dataDir);
  await store.init(config.buckets.map((b) => b.name));
  const credentials = new CredentialStore();
  for (const identity of config.identities) credentials.addIdentity(identity);
  const now = config.now ?? Date.now;
  const faults = new FaultInjector(config.faults);
  const oidcKeys = new OidcKeyCache({
    algorithms: ["RS256"],
    allowHttp: (url) => config.allowHttpIssuers && isLoopbackUrl(url),
    fetchTimeoutMs: config.issuerFetchTimeoutMs,
    ttlMs: config.jwksCacheTtlMs,
    now,
  });
  let endpoint = "";
  const roles = new Map(config.roles.map((r) => [r.arn, r]));
  const state: EmulatorState = {
    config,
    credentials,
    roles,
    buckets: new Map(config.buckets.map((b) => [b.name, b])),
    store,
    uploads: new UploadRegistry(),
    faults,
    oidcKeys,
    now,
    endpoint: () => endpoint,
    log: [],
  };
  const handle = createRequestHandler(state);
  const server = createServer({ keepAliveTimeout: 65_000 });
  server.on(
    "request",
    (req, res) => void handle(req, res, { expectsContinue: false, continued: false }),
  );
  server.on(
    "checkContinue",
    (req, res) => void handle(req, res, { expectsContinue: true, continued: false }),
  );
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  endpoint = `http://${config.host}:${port}`;

  const toSession = (r: CredentialRecord): IssuedSession => ({
    accessKeyId: r.accessKeyId,
    roleArn: r.principal.roleArn ?? "",
    sessionArn: r.principal.arn,
    expiresAt: new Date(r.expiresAtMs ?? 0),
    invalidAfter: new Date(r.invalidAfterMs ?? r.expiresAtMs ?? 0),
  });

  return {
    endpoint,
    port,
    dataDir,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
    },
    faults: {
      set: (next) => faults.set(next),
      clear: () => faults.clear(),
      current: () => faults.config,
    },
    objectInfo(bucket, key) {
      const object = store.hasBucket(bucket) ? store.get(bucket, key) : undefined;
      return object && describeObject(object);
    },
    keys: (bucket) => (store.hasBucket(bucket) ? store.list(bucket).map((o) => o.key) : []),
    sessions: () => credentials.issued().map(toSession),
    expireSessions: (accessKeyId) =>
      credentials.expire(now(), (r) => accessKeyId === undefined || r.accessKeyId === accessKeyId),
    requests: () => state.log,
    clearIssuerKeyCache: () => oidcKeys.clear(),
    putRole(input) {
      const role = roleSchema.parse(input);
      roles.set(role.arn, role);
    },
    role: (arn) => roles.get(arn),
    deleteRole: (arn) => roles.delete(arn),
    pendingUploads: (bucket) =>
      state.uploads
        .list(bucket)
        .map((u) => ({ key: u.key, uploadId: u.uploadId, parts: u.parts.size })),
  };
}
