/** The fully-qualified `storage_uri` of a delivered object (SPEC §3.2). */
import type { RecordingStorage } from "./recording-storage.ts";

/**
 * Percent-encodes each `/`-separated segment the way the clouds' own URLs do (RFC 3986: all but
 * unreserved characters). Templates only admit unreserved characters today, so this is a no-op for
 * every valid key, and stays correct if the allowed set ever grows.
 */
export function encodeKeyPath(key: string): string {
  return key
    .split("/")
    .map((segment) =>
      encodeURIComponent(segment).replace(
        /[!'()*]/g,
        (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
      ),
    )
    .join("/");
}

/** `s3://bucket/key`, `gs://bucket/key` or `https://<account>.blob.core.windows.net/<container>/<key>`. */
export function storageUri(destination: RecordingStorage, key: string): string {
  const path = encodeKeyPath(key);
  switch (destination.provider) {
    case "s3":
      return `s3://${destination.bucket_name}/${path}`;
    case "gcs":
      return `gs://${destination.bucket_name}/${path}`;
    case "azure_blob":
      return `https://${destination.storage_account}.blob.core.windows.net/${destination.container}/${path}`;
  }
}
