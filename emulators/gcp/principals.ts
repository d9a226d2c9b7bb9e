/**
 * Federated principals and how IAM members (`principal://`, `principalSet://`, `serviceAccount:`)
 * match them.
 */
import { poolPrincipalPath } from "./config.ts";

/** The identity STS established from a subject token. */
export interface FederatedPrincipal {
  kind: "federated";
  projectNumber: string;
  poolId: string;
  providerId: string;
  /** `google.subject` as mapped. */
  subject: string;
  /** `attribute.*` values as mapped (without the `attribute.` prefix). */
  attributes: Record<string, string>;
  /** `google.groups` as mapped. */
  groups: string[];
}

/** A service account that a caller impersonated via generateAccessToken. */
export interface ServiceAccountPrincipal {
  kind: "serviceAccount";
  email: string;
}

/** Anyone who can hold a token here. */
export type Principal = FederatedPrincipal | ServiceAccountPrincipal;

/** The canonical `principal://…/subject/<subject>` member for a federated principal. */
export function principalMember(principal: FederatedPrincipal): string {
  return `principal://${poolPrincipalPath(principal.projectNumber, principal.poolId)}/subject/${principal.subject}`;
}

/** A human-readable caller name, as GCS puts it in its 403 messages. */
export function describePrincipal(principal: Principal): string {
  return principal.kind === "serviceAccount" ? principal.email : principalMember(principal);
}

/** True when the IAM member string designates this principal. */
export function memberMatches(member: string, principal: Principal): boolean {
  if (principal.kind === "serviceAccount") return member === `serviceAccount:${principal.email}`;
  const pool = poolPrincipalPath(principal.projectNumber, principal.poolId);
  const single = `principal://${pool}/subject/`;
  if (member.startsWith(single)) return member.slice(single.length) === principal.subject;
  const set = `principalSet://${pool}/`;
  if (!member.startsWith(set)) return false;
  const rest = member.slice(set.length);
  if (rest === "*") return true;
  if (rest.startsWith("group/")) return principal.groups.includes(rest.slice("group/".length));
  const attribute = /^attribute\.([a-z0-9_]+)\/(.*)$/.exec(rest);
  if (attribute) return principal.attributes[attribute[1]!] === attribute[2];
  return false;
}
