/**
 * Who is calling GCS and what they may do: bearer token → principal, OAuth scope check, and
 * bucket grants (optionally limited to an object-name prefix, like an IAM condition on
 * `resource.name.startsWith(...)`).
 */
import type { IncomingMessage } from "node:http";
import { bearerToken } from "../shared/http.ts";
import type { Bucket, CustomerModel, StoragePermission } from "./config.ts";
import { STORAGE_ROLES } from "./config.ts";
import { type GcsErrorBody, gcsError } from "./google-errors.ts";
import { describePrincipal, memberMatches, type Principal } from "./principals.ts";
import type { TokenRegistry } from "./tokens.ts";

const WRITE_SCOPES = [
  "https://www.googleapis.com/auth/cloud-platform",
  "https://www.googleapis.com/auth/devstorage.full_control",
  "https://www.googleapis.com/auth/devstorage.read_write",
];
const READ_SCOPES = [
  ...WRITE_SCOPES,
  "https://www.googleapis.com/auth/cloud-platform.read-only",
  "https://www.googleapis.com/auth/devstorage.read_only",
];

/** A refusal ready to send. */
export interface GcsDenial {
  status: number;
  body: GcsErrorBody;
}

/** Outcome of authenticating a GCS request. */
export type GcsCaller = { ok: true; principal: Principal } | ({ ok: false } & GcsDenial);

const resourceKind = (permission: StoragePermission) =>
  permission.startsWith("storage.objects.") && permission !== "storage.objects.list"
    ? "object"
    : "bucket";

/** Authenticates the bearer token and checks its OAuth scopes for `permission`. */
export function authenticate(
  req: IncomingMessage,
  tokens: TokenRegistry,
  permission: StoragePermission,
): GcsCaller {
  const bearer = bearerToken(req);
  if (!bearer) {
    const message = `Anonymous caller does not have ${permission} access to the Google Cloud Storage ${resourceKind(permission)}. Permission '${permission}' denied on resource (or it may not exist).`;
    return {
      ok: false,
      status: 401,
      body: gcsError(401, "required", message, {
        locationType: "header",
        location: "Authorization",
      }),
    };
  }
  const lookup = tokens.lookup(bearer);
  if (lookup.status !== "valid") {
    return {
      ok: false,
      status: 401,
      body: gcsError(401, "authError", "Invalid Credentials", {
        locationType: "header",
        location: "Authorization",
      }),
    };
  }
  const needed =
    permission === "storage.objects.get" ||
    permission === "storage.objects.list" ||
    permission === "storage.buckets.get"
      ? READ_SCOPES
      : WRITE_SCOPES;
  if (!lookup.token.scopes.some((scope) => needed.includes(scope))) {
    return {
      ok: false,
      status: 403,
      body: gcsError(403, "insufficientPermissions", "Insufficient Permission"),
    };
  }
  return { ok: true, principal: lookup.token.principal };
}

/** The bucket, or GCS's 404. */
export function findBucket(
  model: CustomerModel,
  name: string,
): { ok: true; bucket: Bucket } | ({ ok: false } & GcsDenial) {
  const bucket = model.buckets.find((b) => b.name === name);
  if (bucket) return { ok: true, bucket };
  return {
    ok: false,
    status: 404,
    body: gcsError(404, "notFound", "The specified bucket does not exist."),
  };
}

/** Checks a permission on an object name (or, for list, on the listed prefix). */
export function authorize(
  bucket: Bucket,
  principal: Principal,
  permission: StoragePermission,
  objectName: string,
): GcsDenial | undefined {
  const granted = bucket.grants.some((grant) => {
    const permissions = grant.permissions ?? STORAGE_ROLES[grant.role!] ?? [];
    return (
      permissions.includes(permission) &&
      memberMatches(grant.member, principal) &&
      (grant.prefix === undefined || objectName.startsWith(grant.prefix))
    );
  });
  if (granted) return undefined;
  const message = `${describePrincipal(principal)} does not have ${permission} access to the Google Cloud Storage ${resourceKind(permission)}. Permission '${permission}' denied on resource (or it may not exist).`;
  return { status: 403, body: gcsError(403, "forbidden", message) };
}
