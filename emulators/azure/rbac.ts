/**
 * Azure RBAC for blob data: which built-in role grants which data action, and whether a
 * principal holds it at the account or container scope, optionally narrowed by an ABAC
 * condition on the blob path. The control-plane roles (Owner, Contributor, Reader) grant no data
 * actions, which is what produces AuthorizationPermissionMismatch for a principal that "is Owner".
 */
import type { RoleAssignment, RoleName } from "./config.ts";

/** Blob data actions (Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*). */
export type BlobDataAction = "read" | "write" | "delete" | "add";
/** Container actions a data-plane request may need. */
export type ContainerAction = "containers/read" | "containers/write";
/** Anything a request may need. */
export type RequiredAction = BlobDataAction | ContainerAction;

const grants: Record<RoleName, readonly RequiredAction[]> = {
  "Storage Blob Data Owner": [
    "read",
    "write",
    "delete",
    "add",
    "containers/read",
    "containers/write",
  ],
  "Storage Blob Data Contributor": [
    "read",
    "write",
    "delete",
    "add",
    "containers/read",
    "containers/write",
  ],
  "Storage Blob Data Reader": ["read", "containers/read"],
  Owner: [],
  Contributor: [],
  Reader: [],
};

/** What a request touches: a blob path, a listing prefix, or the container itself. */
export interface AccessTarget {
  account: string;
  container: string;
  /** The blob name for blob operations. */
  blob?: string;
  /** The `prefix` of a List Blobs request. */
  listPrefix?: string;
}

/** True when some assignment of `principalId` grants `action` on `target`. */
export function isAllowed(
  assignments: readonly RoleAssignment[],
  principalId: string,
  action: RequiredAction,
  target: AccessTarget,
): boolean {
  const principal = principalId.toLowerCase();
  return assignments.some((a) => {
    if (a.principalId.toLowerCase() !== principal) return false;
    if (!grants[a.role].includes(action)) return false;
    if (a.scope.storageAccount !== target.account) return false;
    if (a.scope.container !== undefined && a.scope.container !== target.container) return false;
    if (!a.condition) return true;
    // The condition is `blobs:path StringStartsWith prefix` (path without the container). A
    // listing is covered only when its own prefix lies under the allowed one.
    const allowed = a.condition.blobPathPrefix;
    if (target.blob !== undefined) return target.blob.startsWith(allowed);
    if (target.listPrefix !== undefined) return target.listPrefix.startsWith(allowed);
    return action.startsWith("containers/");
  });
}
