/**
 * Destinations against the emulators: the relay's real OIDC issuer (embedded database, discovery
 * and JWKS served on loopback), the three cloud emulators set up per test, and the settings that
 * point the adapters at them.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { after, before } from "node:test";
import {
  DEMO as AWS_DEMO,
  type AwsEmulatorConfigInput,
  demoAwsConfig,
  startAwsEmulator,
} from "../../emulators/aws/index.ts";
import {
  type AzureEmulatorConfig,
  buildAzureDemoConfig,
  startAzureEmulator,
} from "../../emulators/azure/index.ts";
import {
  type CustomerModelInput,
  demoGcpSetup,
  startGcpEmulator,
} from "../../emulators/gcp/index.ts";
import type { Db } from "../../src/db/index.ts";
import {
  CredentialCache,
  type Destination,
  type DestinationError,
  uploadStream,
} from "../../src/destinations/index.ts";
import type { RelayTrust } from "../../src/domain/index.ts";
import { createIssuer, DISCOVERY_PATH, type Issuer, JWKS_PATH } from "../../src/oidc/index.ts";
import { defaultDestinationSettings, destinationFactory } from "../../src/providers/factory.ts";
import type { DestinationSettings, RecordingStorage } from "../../src/providers/index.ts";
import { testBytes, testSignal } from "./bytes.ts";
import { openTestDatabase } from "./databases.ts";

/** The relay's issuer, served on loopback, counting the tokens it mints. */
export interface RelayIssuer {
  url: string;
  issuer: Issuer;
  /** Tokens minted so far, by audience. */
  minted: string[];
  mintToken: Issuer["mintToken"];
  stop(): Promise<void>;
}

/** Starts the relay's real issuer on an embedded database, discovery + JWKS on http loopback. */
export async function startRelayIssuer(): Promise<RelayIssuer> {
  const db: Db = await openTestDatabase("embedded");
  let issuer: Issuer | undefined;
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const send = (body: unknown) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (!issuer) return void res.writeHead(503).end();
    if (path === DISCOVERY_PATH) return send(issuer.discovery());
    if (path === JWKS_PATH) {
      issuer.jwks().then(send, () => res.writeHead(500).end());
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  issuer = createIssuer({
    db,
    issuerUrl: url,
    masterKey: crypto.getRandomValues(new Uint8Array(32)),
  });
  await issuer.prepare();
  const minted: string[] = [];
  const bound = issuer;
  return {
    url,
    issuer,
    minted,
    mintToken: async (request) => {
      minted.push(request.audience);
      return await bound.mintToken(request);
    },
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await db.close();
    },
  };
}

/** Fast retries for tests: same bounds as production, shorter waits. */
export const testRetry = { maxAttempts: 4, retryBaseDelayMs: 20, requestTimeoutMs: 60_000 };

/** The trust of a test relay (workspace-mode ExternalId, 12 h sessions). */
export function destinationTrust(
  issuerUrl: string,
  overrides: Partial<RelayTrust> = {},
): RelayTrust {
  return {
    issuerUrl,
    awsAuthMode: "assume_role",
    awsAccountId: AWS_DEMO.operatorAccountId,
    awsExternalIdMode: "workspace",
    awsExternalId: undefined,
    awsRoleSessionSeconds: 43_200,
    ...overrides,
  };
}

/** A destination factory against running emulators. */
export function factoryFor(options: {
  issuer: RelayIssuer;
  settings: DestinationSettings;
  trust?: Partial<RelayTrust>;
  cache?: CredentialCache;
}) {
  return destinationFactory({
    trust: destinationTrust(options.issuer.url, options.trust),
    settings: options.settings,
    mintToken: options.issuer.mintToken,
    cache: options.cache ?? new CredentialCache(),
  });
}

/** Settings pointing every adapter at the given endpoints. */
export function emulatorSettings(endpoints: {
  aws?: string;
  gcp?: string;
  azure?: { origin: string; caCertPem: string };
  awsAuthMode?: "assume_role" | "web_identity";
}): DestinationSettings {
  return {
    ...defaultDestinationSettings,
    ...testRetry,
    aws: {
      endpointUrl: endpoints.aws,
      authMode: endpoints.awsAuthMode ?? "assume_role",
      operatorCredentials: {
        accessKeyId: AWS_DEMO.operatorAccessKeyId,
        secretAccessKey: AWS_DEMO.operatorSecretAccessKey,
      },
    },
    gcp: endpoints.gcp
      ? {
          stsTokenUrl: `${endpoints.gcp}/v1/token`,
          iamCredentialsUrl: endpoints.gcp,
          storageUrl: endpoints.gcp,
        }
      : defaultDestinationSettings.gcp,
    azure: endpoints.azure
      ? {
          authorityHost: endpoints.azure.origin,
          blobEndpointTemplate: `${endpoints.azure.origin}/{account}`,
        }
      : defaultDestinationSettings.azure,
    extraCaPem: endpoints.azure?.caCertPem,
  };
}

/** One provider's emulator with a customer trusting `workspaceId`, and its destination object. */
export interface ProviderRig {
  storage: RecordingStorage;
  settings: DestinationSettings;
  /** Size and a digest of a stored object (undefined when absent). */
  stored(key: string): Promise<{ size: number; sha256: string } | undefined>;
  /** Identity exchanges so far (STS AssumeRole / GCP STS / Entra token requests). */
  exchanges(): number;
  stop(): Promise<void>;
}

/** Starts the AWS emulator; `tweak` edits the demo customer (misconfiguration tests). */
export async function awsRig(
  issuerUrl: string,
  workspaceId: string,
  tweak: (config: AwsEmulatorConfigInput) => void = () => {},
  storageOverrides: Partial<RecordingStorage> = {},
): Promise<ProviderRig & { aws: Awaited<ReturnType<typeof startAwsEmulator>> }> {
  const config = demoAwsConfig({
    externalId: workspaceId,
    webIdentity: { issuerUrl, workspaceId },
  });
  tweak(config);
  const aws = await startAwsEmulator(config);
  return {
    aws,
    storage: {
      provider: "s3",
      bucket_name: AWS_DEMO.bucket,
      bucket_region: AWS_DEMO.region,
      assume_role_arn: AWS_DEMO.roleArn,
      ...storageOverrides,
    } as RecordingStorage,
    settings: emulatorSettings({ aws: aws.endpoint }),
    async stored(key) {
      const info = aws.objectInfo(AWS_DEMO.bucket, key);
      return info && { size: info.size, sha256: info.sha256Hex };
    },
    exchanges: () =>
      aws
        .requests()
        .filter((r) => r.operation === "AssumeRole" || r.operation === "AssumeRoleWithWebIdentity")
        .length,
    stop: () => aws.stop(),
  };
}

/** Starts the GCP emulator; `tweak` edits the demo customer model. */
export async function gcpRig(
  issuerUrl: string,
  workspaceId: string,
  tweak: (customers: CustomerModelInput) => void = () => {},
  setupOptions: { objectPrefix?: string } = {},
): Promise<ProviderRig & { gcp: Awaited<ReturnType<typeof startGcpEmulator>> }> {
  const setup = demoGcpSetup({ issuerUrl, workspaceId, ...setupOptions });
  tweak(setup.customers);
  const gcp = await startGcpEmulator({ customers: setup.customers });
  return {
    gcp,
    storage: setup.destination,
    settings: emulatorSettings({ gcp: gcp.endpoint }),
    async stored(key) {
      const object = gcp.getObject(setup.destination.bucket_name, key);
      return object && { size: object.sizeBytes, sha256: object.sha256Hex };
    },
    exchanges: () => gcp.requests.filter((r) => r.path === "/v1/token").length,
    stop: () => gcp.stop(),
  };
}

/** Starts the Azure emulator; `tweak` edits the demo tenant. */
export async function azureRig(
  issuerUrl: string,
  workspaceId: string,
  tweak: (config: AzureEmulatorConfig) => void = () => {},
): Promise<ProviderRig & { azure: Awaited<ReturnType<typeof startAzureEmulator>> }> {
  const setup = buildAzureDemoConfig({ issuer: issuerUrl, workspaceId });
  tweak(setup.config);
  const azure = await startAzureEmulator(setup.config);
  return {
    azure,
    storage: setup.destination,
    settings: emulatorSettings({ azure: { origin: azure.origin, caCertPem: azure.caCertPem } }),
    async stored(key) {
      const digest = await azure.blobDigest(
        setup.destination.storage_account,
        setup.destination.container,
        key,
      );
      return digest && { size: digest.size, sha256: digest.sha256 };
    },
    exchanges: () => azure.stats().tokenRequests,
    stop: () => azure.stop(),
  };
}

/** A fresh workspace id (what the relay puts in `sub`). */
export function newWorkspaceId(): string {
  return randomUUID();
}

/**
 * The relay issuer the tests of one file share: started before them, stopped after them. Read its
 * fields inside tests (they exist once the suite has started).
 */
export function suiteRelayIssuer(): RelayIssuer {
  let started: RelayIssuer | undefined;
  before(async () => {
    started = await startRelayIssuer();
  });
  after(async () => await started?.stop());
  const current = (): RelayIssuer => {
    if (!started) throw new Error("the suite's relay issuer is used before the suite started");
    return started;
  };
  return {
    get url() {
      return current().url;
    },
    get issuer() {
      return current().issuer;
    },
    get minted() {
      return current().minted;
    },
    mintToken: (request) => current().mintToken(request),
    stop: async () => await current().stop(),
  };
}

/** The destination operations a misconfiguration test runs. */
export type DestinationAttempt = "identity" | "upload" | "stat" | "put" | "delete";

/** Runs one operation through `destination` at `key` and returns the DestinationError it failed with. */
export async function failureOf(
  destination: Destination,
  attempt: DestinationAttempt,
  key = "tavus/c1/1",
): Promise<DestinationError> {
  const runs: Record<DestinationAttempt, () => Promise<unknown>> = {
    identity: () => destination.checkIdentity(testSignal()),
    upload: () =>
      uploadStream(destination, key, Readable.from([testBytes(1000)]), { signal: testSignal() }),
    stat: () => destination.stat(key, testSignal()),
    put: () => destination.putSmallObject(`${key}.probe`, testBytes(10), testSignal()),
    delete: () => destination.deleteObject(`${key}.probe`, testSignal()),
  };
  let caught: unknown;
  await runs[attempt]().catch((error: unknown) => {
    caught = error;
  });
  assert.ok(caught, `expected ${attempt} to fail`);
  assert.equal((caught as Error).name, "DestinationError", String(caught));
  return caught as DestinationError;
}
