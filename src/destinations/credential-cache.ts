/**
 * Per-workspace, per-destination cache of authenticated clients. Each SDK client caches its own
 * short-lived credential and refreshes it shortly before expiry, so keeping the client is what
 * makes one identity exchange serve every upload of its lifetime. The key always starts with the
 * workspace id: a client is never reused for another workspace, even for an identical destination.
 */

/** A bounded map of clients, least recently used evicted first. */
export class CredentialCache {
  readonly #entries = new Map<string, unknown>();
  readonly #maxEntries: number;

  constructor(maxEntries = 1_000) {
    this.#maxEntries = maxEntries;
  }

  /** The cached value of `key`, or the one `create` makes (and caches). */
  getOrCreate<T>(key: string, create: () => T): T {
    if (this.#entries.has(key)) {
      const value = this.#entries.get(key) as T;
      // Re-insert to mark as most recently used.
      this.#entries.delete(key);
      this.#entries.set(key, value);
      return value;
    }
    const value = create();
    this.#entries.set(key, value);
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
    return value;
  }

  /** Forgets `key` (after the cloud refused a cached credential). */
  delete(key: string): void {
    this.#entries.delete(key);
  }

  /** Number of cached clients. */
  get size(): number {
    return this.#entries.size;
  }
}

/** The cache key of a destination for a workspace: workspace id first, then every identifying field. */
export function credentialKey(workspaceId: string, fields: readonly string[]): string {
  return JSON.stringify([workspaceId, ...fields]);
}

/** A workspace's cached client or credential, and how to drop it after the cloud refused it. */
export interface CachedCredential<T> {
  /** The cached value (created on first use, and again after {@link reset}). */
  get(): T;
  /** Forgets the value, so the next {@link get} makes a new one (a new identity exchange). */
  reset(): void;
}

/** The entry `key` of `cache` as a {@link CachedCredential}. */
export function cachedCredential<T>(
  cache: CredentialCache,
  key: string,
  create: () => T,
): CachedCredential<T> {
  return { get: () => cache.getOrCreate<T>(key, create), reset: () => cache.delete(key) };
}
