import type { S3Action, S3Permission } from "./config.ts";

/** What an S3 request needs: an action on a bucket, an object key, or a listing prefix. */
export type S3Resource =
  | { kind: "object"; bucket: string; key: string }
  | { kind: "bucket"; bucket: string }
  | { kind: "listing"; bucket: string; prefix: string };

/**
 * Whether the permissions grant the action on the resource. A permission with a `prefix` is
 * like an IAM statement on `arn:aws:s3:::bucket/prefix*` (object actions) plus `s3:ListBucket`
 * with an `s3:prefix` condition; it grants no other bucket-level action.
 */
export function isAllowed(
  permissions: readonly S3Permission[],
  action: S3Action,
  resource: S3Resource,
): boolean {
  return permissions.some((p) => {
    if (p.bucket !== resource.bucket && p.bucket !== "*") return false;
    if (!p.actions.includes(action) && !p.actions.includes("s3:*")) return false;
    const prefix = p.prefix ?? "";
    switch (resource.kind) {
      case "object":
        return resource.key.startsWith(prefix);
      case "listing":
        return resource.prefix.startsWith(prefix);
      case "bucket":
        return prefix === "";
      default:
        return false;
    }
  });
}

/** Whether the principal may learn that a key does not exist (404 rather than 403). */
export function mayListBucket(
  permissions: readonly S3Permission[],
  bucket: string,
  key: string,
): boolean {
  return isAllowed(permissions, "s3:ListBucket", { kind: "listing", bucket, prefix: key });
}
