// Secret reads kept for a short while: a busy operation (or a busy site) costs one read of a secret, and a rotated
// secret is picked up within SECRET_CACHE_MS. A failed read is not remembered: the next call asks the store again.
import type { SecretStore } from './secret-store.js';

/** How long a secret read from the store is reused. */
export const SECRET_CACHE_MS = 15_000;

export interface SecretReader {
  read(vault: string, secret: string): Promise<Record<string, unknown>>;
  /** Drops a kept read, when its value was just refused (e.g. a token a site no longer accepts). */
  forget(vault: string, secret: string): void;
}

export function cachedSecretReads(store: SecretStore, cacheMs = SECRET_CACHE_MS): SecretReader {
  const cache = new Map<string, { data: Promise<Record<string, unknown>>; until: number }>();
  const keyOf = (vault: string, secret: string) => `${vault}\u0000${secret}`;
  return {
    read(vault, secret) {
      const key = keyOf(vault, secret);
      const cached = cache.get(key);
      if (cached && cached.until > Date.now()) return cached.data;
      const data = store.readKv2(vault, secret);
      cache.set(key, { data, until: Date.now() + cacheMs });
      data.catch(() => {
        if (cache.get(key)?.data === data) cache.delete(key);
      });
      return data;
    },
    forget(vault, secret) {
      cache.delete(keyOf(vault, secret));
    },
  };
}
