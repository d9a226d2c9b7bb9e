/**
 * The customer model the emulator enforces: Entra tenants with App Registrations and their
 * federated identity credentials, storage accounts with containers, and Azure RBAC role
 * assignments. Parsed with zod so a wrong test or demo setup fails loudly at start, with the same
 * limits Azure applies when the customer creates these objects.
 */
import { z } from "zod";
import type { FaultSettings } from "./faults.ts";

/** The only audience Entra accepts in a federated credential (and so in our assertions). */
export const tokenExchangeAudience = "api://AzureADTokenExchange";
/** The resource (and access-token `aud`) of Azure Storage. */
export const storageResource = "https://storage.azure.com";

/** Data-plane roles grant blob actions; the control-plane roles grant none (a classic mistake). */
export const roleNames = [
  "Storage Blob Data Owner",
  "Storage Blob Data Contributor",
  "Storage Blob Data Reader",
  "Owner",
  "Contributor",
  "Reader",
] as const;
/** A built-in Azure role the emulator knows. */
export type RoleName = (typeof roleNames)[number];

const guid = z.guid();
const accountName = z
  .string()
  .regex(/^[a-z0-9]{3,24}$/, "storage account names are 3-24 lowercase letters and digits");
const containerName = z
  .string()
  .regex(
    /^(?=.{3,63}$)[a-z0-9](?!.*--)[a-z0-9-]*[a-z0-9]$/,
    "container names are 3-63 lowercase letters, digits and single dashes, alphanumeric at both ends",
  );

const federatedCredentialSchema = z
  .strictObject({
    name: z.string().min(3).max(120),
    // Entra stores issuer and subject verbatim and compares them exactly; whitespace is kept.
    issuer: z.string().min(1).max(600),
    subject: z.string().min(1).max(600).optional(),
    /**
     * A flexible federated identity credential (Entra preview): instead of an exact `subject`, an
     * expression over the assertion's claims, here only `claims['sub'] matches '<pattern>'` with
     * `*` wildcards. Entra offers it for a few issuers; the emulator admits it for any, so tests
     * can build the unsafe "any subject" trust the relay's confused-deputy self-check warns about.
     */
    claimsMatchingExpression: z
      .strictObject({
        value: z
          .string()
          .regex(
            /^claims\['sub'\] matches '[^']+'$/,
            "only claims['sub'] matches '<pattern>' is emulated",
          ),
        languageVersion: z.literal(1).default(1),
      })
      .optional(),
    audiences: z.array(z.string()).length(1).default([tokenExchangeAudience]),
    description: z.string().optional(),
  })
  .refine(
    (c) => (c.subject === undefined) !== (c.claimsMatchingExpression === undefined),
    "a federated credential has either a subject or a claimsMatchingExpression",
  );

/** Whether a federated credential admits an assertion's `sub`. */
export function credentialAdmitsSubject(credential: FederatedCredential, sub: string): boolean {
  if (credential.subject !== undefined) return credential.subject === sub;
  const pattern = /'([^']+)'$/.exec(credential.claimsMatchingExpression?.value ?? "")?.[1];
  if (pattern === undefined) return false;
  const regex = new RegExp(
    `^${pattern
      .split("*")
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*")}$`,
  );
  return regex.test(sub);
}

const appSchema = z.strictObject({
  displayName: z.string().min(1),
  /** Application (client) id: what the customer gives us as `client_id`. */
  clientId: guid,
  /** Object id of the app's service principal in the tenant: what role assignments name. */
  servicePrincipalObjectId: guid,
  federatedCredentials: z.array(federatedCredentialSchema).max(20).default([]),
});

const roleAssignmentSchema = z.strictObject({
  principalId: guid,
  role: z.enum(roleNames),
  scope: z.strictObject({ storageAccount: accountName, container: containerName.optional() }),
  /** ABAC condition on the blob path, the common "only under this prefix" customer setup. */
  condition: z.strictObject({ blobPathPrefix: z.string().min(1) }).optional(),
});

const storageAccountSchema = z.strictObject({
  name: accountName,
  containers: z.array(containerName).default([]),
});

const tenantSchema = z.strictObject({
  tenantId: guid,
  /** Verified domains (e.g. `contoso.onmicrosoft.com`) also usable as the tenant in URLs. */
  domains: z.array(z.string().regex(/^[a-z0-9.-]+\.[a-z]+$/i)).default([]),
  apps: z.array(appSchema).default([]),
  storageAccounts: z.array(storageAccountSchema).default([]),
  roleAssignments: z.array(roleAssignmentSchema).default([]),
});

const configSchema = z.strictObject({
  tenants: z.array(tenantSchema),
  /** Tests and the demo serve the relay's issuer on http://127.0.0.1; real Entra demands https. */
  allowHttpIssuers: z.boolean().default(false),
  host: z.string().default("127.0.0.1"),
  port: z.number().int().min(0).max(65_535).default(0),
  /** Where blob bytes live; a fresh temporary directory (removed at stop) when omitted. */
  dataDir: z.string().optional(),
  accessTokenLifetimeSeconds: z.number().int().min(1).max(86_400).default(3599),
  /** How long a federated credential added at runtime answers AADSTS70021 before it works. */
  federatedCredentialPropagationMs: z.number().int().min(0).default(0),
  jwksCacheTtlMs: z.number().int().min(0).default(3_600_000),
  /** Minimum gap between two JWKS refetches of one issuer triggered by an unknown `kid`. */
  jwksRefetchCooldownMs: z.number().int().min(0).default(0),
  issuerFetchTimeoutMs: z.number().int().min(1).default(5000),
  seed: z.number().int().default(1),
  /** Azure allows 100,000 uncommitted blocks per blob; tests lower it to reach the limit fast. */
  maxUncommittedBlocks: z.number().int().min(1).max(100_000).default(100_000),
});

/** Input accepted by `startAzureEmulator` (defaults filled in by `parseAzureConfig`). */
export type AzureEmulatorConfig = z.input<typeof configSchema> & {
  faults?: Partial<FaultSettings>;
  /** Injected clock in epoch milliseconds, for lifetime tests without sleeping. */
  now?: () => number;
};
/** The validated configuration with defaults applied. */
export type ParsedAzureConfig = z.output<typeof configSchema> & {
  faults: Partial<FaultSettings>;
  now: () => number;
};
/** A tenant as the emulator holds it. */
export type Tenant = z.output<typeof tenantSchema>;
/** An App Registration with its service principal. */
export type AppRegistration = z.output<typeof appSchema>;
/** A federated identity credential as configured by the customer. */
export type FederatedCredential = z.output<typeof federatedCredentialSchema>;
/** Input shape of a federated identity credential (audiences default to the exchange one). */
export type FederatedCredentialInput = z.input<typeof federatedCredentialSchema>;
/** One Azure RBAC role assignment. */
export type RoleAssignment = z.output<typeof roleAssignmentSchema>;
/** Input shape of a role assignment. */
export type RoleAssignmentInput = z.input<typeof roleAssignmentSchema>;

/** Validates the config and the cross-object rules Azure enforces at creation time. */
export function parseAzureConfig(input: AzureEmulatorConfig): ParsedAzureConfig {
  const { faults, now, ...rest } = input;
  const parsed = configSchema.parse(rest);
  const accounts = new Set<string>();
  for (const tenant of parsed.tenants) {
    for (const account of tenant.storageAccounts) {
      // Account names are global DNS labels in Azure, unique across every tenant.
      if (accounts.has(account.name))
        throw new Error(`storage account ${account.name} exists twice`);
      accounts.add(account.name);
    }
    for (const app of tenant.apps) {
      for (const credential of app.federatedCredentials) {
        checkFederatedCredential(credential, app, parsed.allowHttpIssuers);
      }
    }
    for (const assignment of tenant.roleAssignments) {
      if (!tenant.storageAccounts.some((a) => a.name === assignment.scope.storageAccount)) {
        throw new Error(
          `role assignment scope names storage account ${assignment.scope.storageAccount}, which tenant ${tenant.tenantId} does not have`,
        );
      }
    }
  }
  return { ...parsed, faults: faults ?? {}, now: now ?? Date.now };
}

/** Parses one federated credential and checks it against its app, as Graph does on create. */
export function parseFederatedCredential(
  input: FederatedCredentialInput,
  app: AppRegistration,
  allowHttpIssuers: boolean,
): FederatedCredential {
  const credential = federatedCredentialSchema.parse(input);
  checkFederatedCredential(credential, app, allowHttpIssuers);
  return credential;
}

/** Parses one role assignment. */
export function parseRoleAssignment(input: RoleAssignmentInput): RoleAssignment {
  return roleAssignmentSchema.parse(input);
}

function checkFederatedCredential(
  credential: FederatedCredential,
  app: AppRegistration,
  allowHttpIssuers: boolean,
): void {
  let url: URL;
  try {
    url = new URL(credential.issuer);
  } catch {
    throw new Error(`federated credential ${credential.name}: issuer is not a URL`);
  }
  const httpAllowed = allowHttpIssuers && url.protocol === "http:";
  if (url.protocol !== "https:" && !httpAllowed) {
    throw new Error(
      `federated credential ${credential.name}: issuer must be an https URL (set allowHttpIssuers for local http issuers)`,
    );
  }
  const sameTrust = app.federatedCredentials.filter(
    (c) =>
      c.issuer === credential.issuer &&
      c.subject === credential.subject &&
      c.claimsMatchingExpression?.value === credential.claimsMatchingExpression?.value,
  );
  if (sameTrust.length > 1 || (sameTrust.length === 1 && sameTrust[0] !== credential)) {
    throw new Error(`app ${app.clientId}: issuer and subject must be unique per app`);
  }
}
