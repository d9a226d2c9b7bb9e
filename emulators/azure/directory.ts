/**
 * The live customer model: tenants, App Registrations, federated credentials (with the time each
 * becomes effective, to emulate Entra's propagation delay) and role assignments. Tests change it
 * at runtime through the emulator handle.
 */

import { z } from "zod";
import {
  type AppRegistration,
  type FederatedCredential,
  type FederatedCredentialInput,
  type ParsedAzureConfig,
  parseFederatedCredential,
  parseRoleAssignment,
  type RoleAssignment,
  type RoleAssignmentInput,
  type Tenant,
} from "./config.ts";

/** A federated credential with the moment Entra starts honouring it. */
export interface LiveFederatedCredential {
  credential: FederatedCredential;
  effectiveFromMs: number;
}

const guid = z.guid();

/** True when a first path segment names a tenant (a GUID or a DNS domain), not an account. */
export function looksLikeTenant(segment: string): boolean {
  return guid.safeParse(segment).success || segment.includes(".");
}

/** Mutable directory state shared by the Entra and Blob halves. */
export class Directory {
  readonly #config: ParsedAzureConfig;
  readonly #fics = new Map<AppRegistration, LiveFederatedCredential[]>();

  constructor(config: ParsedAzureConfig) {
    this.#config = config;
    for (const tenant of config.tenants) {
      for (const app of tenant.apps) {
        // Credentials present at start are already propagated.
        this.#fics.set(
          app,
          app.federatedCredentials.map((credential) => ({ credential, effectiveFromMs: 0 })),
        );
      }
    }
  }

  /** Resolves a tenant from an id (case-insensitive) or one of its domains. */
  tenant(segment: string): Tenant | undefined {
    const wanted = segment.toLowerCase();
    return this.#config.tenants.find(
      (t) =>
        t.tenantId.toLowerCase() === wanted || t.domains.some((d) => d.toLowerCase() === wanted),
    );
  }

  /** Finds an app by client id (Entra compares GUIDs case-insensitively). */
  app(tenant: Tenant, clientId: string): AppRegistration | undefined {
    const wanted = clientId.toLowerCase();
    return tenant.apps.find((a) => a.clientId.toLowerCase() === wanted);
  }

  /** The federated credentials of an app, with their propagation times. */
  federatedCredentials(app: AppRegistration): LiveFederatedCredential[] {
    return this.#fics.get(app) ?? [];
  }

  /** The tenant that owns a storage account, if the account exists. */
  accountTenant(account: string): Tenant | undefined {
    return this.#config.tenants.find((t) => t.storageAccounts.some((a) => a.name === account));
  }

  /** Role assignments in force for a tenant. */
  roleAssignments(tenant: Tenant): readonly RoleAssignment[] {
    return tenant.roleAssignments;
  }

  /** Adds a federated credential; it answers AADSTS70021 until the propagation delay passes. */
  addFederatedCredential(
    tenantId: string,
    clientId: string,
    input: FederatedCredentialInput,
  ): void {
    const app = this.#requireApp(tenantId, clientId);
    const live = this.#fics.get(app) ?? [];
    if (live.length >= 20) throw new Error(`app ${clientId} already has 20 federated credentials`);
    const credential = parseFederatedCredential(
      input,
      { ...app, federatedCredentials: live.map((l) => l.credential) },
      this.#config.allowHttpIssuers,
    );
    live.push({
      credential,
      effectiveFromMs: this.#config.now() + this.#config.federatedCredentialPropagationMs,
    });
    this.#fics.set(app, live);
  }

  /** Removes a federated credential by name; returns whether it existed. */
  removeFederatedCredential(tenantId: string, clientId: string, name: string): boolean {
    const app = this.#requireApp(tenantId, clientId);
    const live = this.#fics.get(app) ?? [];
    const kept = live.filter((l) => l.credential.name !== name);
    this.#fics.set(app, kept);
    return kept.length !== live.length;
  }

  /** Adds a role assignment in the tenant that owns the scope's storage account. */
  addRoleAssignment(input: RoleAssignmentInput): RoleAssignment {
    const assignment = parseRoleAssignment(input);
    const tenant = this.accountTenant(assignment.scope.storageAccount);
    if (!tenant) throw new Error(`no storage account ${assignment.scope.storageAccount}`);
    tenant.roleAssignments.push(assignment);
    return assignment;
  }

  /** Removes every assignment of `principalId` matching the role and scope; returns how many. */
  removeRoleAssignments(match: RoleAssignmentInput): number {
    const wanted = parseRoleAssignment(match);
    let removed = 0;
    for (const tenant of this.#config.tenants) {
      const before = tenant.roleAssignments.length;
      tenant.roleAssignments = tenant.roleAssignments.filter(
        (a) =>
          !(
            a.principalId.toLowerCase() === wanted.principalId.toLowerCase() &&
            a.role === wanted.role &&
            a.scope.storageAccount === wanted.scope.storageAccount &&
            a.scope.container === wanted.scope.container
          ),
      );
      removed += before - tenant.roleAssignments.length;
    }
    return removed;
  }

  #requireApp(tenantId: string, clientId: string): AppRegistration {
    const tenant = this.tenant(tenantId);
    const app = tenant && this.app(tenant, clientId);
    if (!app) throw new Error(`no app ${clientId} in tenant ${tenantId}`);
    return app;
  }
}
