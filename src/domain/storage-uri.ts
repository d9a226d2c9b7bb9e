/** Object keys in URLs (each provider builds its `storage_uri` with it: src/providers/index.ts). */

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
