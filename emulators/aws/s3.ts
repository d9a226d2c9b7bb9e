import type { BucketConfig, S3Action } from "./config.ts";
import { s3Errors } from "./errors.ts";
import { type S3Request, send, sendXml } from "./http.ts";
import {
  abortMultipartUpload,
  completeMultipartUpload,
  createMultipartUpload,
  listMultipartUploads,
  listParts,
  type MultipartEnv,
  uploadPart,
} from "./multipart.ts";
import { deleteObject, deleteObjects, getObject, listObjects, putObject } from "./objects.ts";
import { isAllowed, type S3Resource } from "./permissions.ts";
import { s3Document, xmlElement, xmlNode } from "./xml.ts";

/** Bucket sub-resources S3 has but the emulator does not implement (answered NotImplemented). */
const UNSUPPORTED_SUBRESOURCES = [
  "acl",
  "policy",
  "cors",
  "lifecycle",
  "versioning",
  "versions",
  "tagging",
  "website",
  "logging",
  "notification",
  "replication",
  "encryption",
  "object-lock",
  "retention",
  "legal-hold",
  "ownershipControls",
  "publicAccessBlock",
  "accelerate",
  "requestPayment",
  "analytics",
  "inventory",
  "metrics",
  "intelligent-tiering",
  "attributes",
  "restore",
  "select",
  "torrent",
];

/** Names the S3 operation of a request (path-style), as AWS spells it. */
export function s3Operation(
  method: string,
  bucket: string,
  key: string,
  query: ReadonlyMap<string, string>,
  headers: ReadonlyMap<string, readonly string[]>,
): string {
  if (UNSUPPORTED_SUBRESOURCES.some((s) => query.has(s))) return "NotImplemented";
  if (bucket === "") return method === "GET" ? "ListBuckets" : "MethodNotAllowed";
  if (key === "") {
    switch (method) {
      case "HEAD":
        return "HeadBucket";
      case "GET":
        if (query.has("location")) return "GetBucketLocation";
        if (query.has("uploads")) return "ListMultipartUploads";
        return query.get("list-type") === "2" ? "ListObjectsV2" : "ListObjects";
      case "POST":
        return query.has("delete") ? "DeleteObjects" : "MethodNotAllowed";
      case "PUT":
      case "DELETE":
        return "NotImplemented";
      default:
        return "MethodNotAllowed";
    }
  }
  switch (method) {
    case "PUT":
      if (headers.has("x-amz-copy-source")) return "NotImplemented";
      return query.has("uploadId") || query.has("partNumber") ? "UploadPart" : "PutObject";
    case "POST":
      if (query.has("uploads")) return "CreateMultipartUpload";
      if (query.has("uploadId")) return "CompleteMultipartUpload";
      return "MethodNotAllowed";
    case "GET":
      return query.has("uploadId") ? "ListParts" : "GetObject";
    case "HEAD":
      return "HeadObject";
    case "DELETE":
      return query.has("uploadId") ? "AbortMultipartUpload" : "DeleteObject";
    default:
      return "MethodNotAllowed";
  }
}

/** The IAM action and resource an operation is authorised against (undefined: checked inside). */
function requiredPermission(r: S3Request): { action: S3Action; resource: S3Resource } | undefined {
  const object: S3Resource = { kind: "object", bucket: r.bucket, key: r.key };
  const bucket: S3Resource = { kind: "bucket", bucket: r.bucket };
  switch (r.operation) {
    case "PutObject":
    case "CreateMultipartUpload":
    case "UploadPart":
    case "CompleteMultipartUpload":
      return { action: "s3:PutObject", resource: object };
    case "GetObject":
    case "HeadObject":
      return { action: "s3:GetObject", resource: object };
    case "DeleteObject":
      return { action: "s3:DeleteObject", resource: object };
    case "AbortMultipartUpload":
      return { action: "s3:AbortMultipartUpload", resource: object };
    case "ListParts":
      return { action: "s3:ListMultipartUploadParts", resource: object };
    case "ListMultipartUploads":
      return { action: "s3:ListBucketMultipartUploads", resource: bucket };
    case "ListObjects":
    case "ListObjectsV2":
      return {
        action: "s3:ListBucket",
        resource: { kind: "listing", bucket: r.bucket, prefix: r.query.get("prefix") ?? "" },
      };
    case "HeadBucket":
      return { action: "s3:ListBucket", resource: bucket };
    case "GetBucketLocation":
      return { action: "s3:GetBucketLocation", resource: bucket };
    default:
      return undefined;
  }
}

/** Authorises and runs one authenticated S3 request. */
export async function runS3Operation(
  r: S3Request,
  env: MultipartEnv & { buckets: ReadonlyMap<string, BucketConfig> },
): Promise<void> {
  const needed = requiredPermission(r);
  if (needed && !isAllowed(r.principal.permissions, needed.action, needed.resource)) {
    throw s3Errors.accessDenied();
  }
  switch (r.operation) {
    case "ListBuckets":
      return listBuckets(r, env.buckets);
    case "HeadBucket":
      send(r.res, 200, { "x-amz-bucket-region": env.buckets.get(r.bucket)!.region });
      return;
    case "GetBucketLocation": {
      const region = env.buckets.get(r.bucket)!.region;
      // us-east-1 is reported as an empty constraint, for historical reasons.
      sendXml(
        r.res,
        200,
        `<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${region === "us-east-1" ? "" : region}</LocationConstraint>`,
      );
      return;
    }
    case "ListObjects":
      return listObjects(r, env, 1);
    case "ListObjectsV2":
      return listObjects(r, env, 2);
    case "ListMultipartUploads":
      return listMultipartUploads(r, env);
    case "DeleteObjects":
      return deleteObjects(r, env);
    case "PutObject":
      return putObject(r, env);
    case "GetObject":
      return getObject(r, env, false);
    case "HeadObject":
      return getObject(r, env, true);
    case "DeleteObject":
      return deleteObject(r, env);
    case "CreateMultipartUpload":
      return createMultipartUpload(r, env);
    case "UploadPart":
      return uploadPart(r, env);
    case "CompleteMultipartUpload":
      return completeMultipartUpload(r, env);
    case "AbortMultipartUpload":
      return abortMultipartUpload(r, env);
    case "ListParts":
      return listParts(r, env);
    case "MethodNotAllowed":
      throw s3Errors.methodNotAllowed(r.method);
    default:
      throw s3Errors.notImplemented();
  }
}

function listBuckets(r: S3Request, buckets: ReadonlyMap<string, BucketConfig>): void {
  // Every bucket the caller holds any permission on (s3:ListAllMyBuckets is not modelled).
  const visible = [...buckets.values()].filter((b) =>
    r.principal.permissions.some((p) => p.bucket === b.name || p.bucket === "*"),
  );
  sendXml(
    r.res,
    200,
    s3Document("ListAllMyBucketsResult", [
      xmlNode(
        "Owner",
        xmlElement("ID", r.principal.accountId) + xmlElement("DisplayName", r.principal.accountId),
      ),
      xmlNode(
        "Buckets",
        visible.map((b) =>
          xmlNode("Bucket", [
            xmlElement("Name", b.name),
            xmlElement("CreationDate", "2024-01-01T00:00:00.000Z"),
            xmlElement("BucketRegion", b.region),
          ]),
        ),
      ),
    ]),
  );
}
