/**
 * Test support (not a test file): the Google client libraries configured for the emulator.
 *
 * `@google-cloud/storage` 7 bundles google-auth-library 9 and only understands that major's
 * clients (a v10 client's Fetch `Headers` are silently dropped, so storage sends no
 * Authorization at all). Storage therefore gets the v9 `IdentityPoolClient` from its own
 * dependency tree; STS/IAM tests use the top-level google-auth-library 10.
 */
import { createRequire } from "node:module";
import { Storage } from "@google-cloud/storage";
import { IdentityPoolClient } from "google-auth-library";
import type { GcpEmulator } from "./index.ts";

/** Scopes a storage writer asks for. */
export const STORAGE_SCOPES = ["https://www.googleapis.com/auth/devstorage.read_write"];

/** How to build an external_account credential against the emulator. */
export interface FederationOptions {
  emulator: GcpEmulator;
  audience: string;
  /** Impersonate this service account; omit to use the federated token directly. */
  serviceAccountEmail?: string;
  getSubjectToken: () => Promise<string>;
  scopes?: string[];
  tokenLifetimeSeconds?: number;
}

/** The external_account options (the JSON a credentials file would hold, plus the supplier). */
export function externalAccountOptions(options: FederationOptions) {
  return {
    type: "external_account" as const,
    audience: options.audience,
    subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
    token_url: options.emulator.stsTokenUrl,
    ...(options.serviceAccountEmail
      ? {
          service_account_impersonation_url: options.emulator.impersonationUrl(
            options.serviceAccountEmail,
          ),
          service_account_impersonation: {
            token_lifetime_seconds: options.tokenLifetimeSeconds ?? 3600,
          },
        }
      : {}),
    subject_token_supplier: { getSubjectToken: options.getSubjectToken },
    scopes: options.scopes ?? STORAGE_SCOPES,
    universe_domain: "googleapis.com",
  };
}

/** A google-auth-library 10 client (the major the relay uses for STS + impersonation). */
export function identityPoolClientV10(options: FederationOptions): IdentityPoolClient {
  return new IdentityPoolClient(externalAccountOptions(options));
}

const storageRequire = createRequire(import.meta.resolve("@google-cloud/storage"));
const authV9 = storageRequire("google-auth-library") as {
  IdentityPoolClient: new (options: ReturnType<typeof externalAccountOptions>) => unknown;
};

/** The google-auth-library 9 client bundled with @google-cloud/storage 7. */
export function identityPoolClientV9(options: FederationOptions): unknown {
  return new authV9.IdentityPoolClient(externalAccountOptions(options));
}

/** A Storage client for the emulator, authenticated with `authClient`. */
export function storageFor(emulator: GcpEmulator, authClient: unknown, maxRetries = 0): Storage {
  return new Storage({
    apiEndpoint: emulator.endpoint,
    useAuthWithCustomEndpoint: true,
    projectId: "acme-prod",
    authClient: authClient as never,
    retryOptions: {
      autoRetry: maxRetries > 0,
      maxRetries,
      retryDelayMultiplier: 1.1,
      maxRetryDelay: 1,
      totalTimeout: 30,
    },
  });
}
