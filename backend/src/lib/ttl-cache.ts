/**
 * A small TTL cache that also coalesces concurrent loads of the same key into one promise, and forgets failed
 * loads so a HubSpot hiccup is not remembered. Hand-written because the clock must be injectable for tests and
 * coalescing is the point; the LRU libraries at hand read Date.now() and cache values, not in-flight promises.
 */
export interface TtlCache<V> {
  getOrLoad(key: string, load: () => Promise<V>): Promise<V>;
  delete(key: string): void;
  readonly size: number;
}

export function createTtlCache<V>(options: { ttlMs: number; maxEntries: number; now: () => number }): TtlCache<V> {
  const entries = new Map<string, { expiresAt: number; value: Promise<V> }>();

  return {
    getOrLoad(key, load) {
      const now = options.now();
      const hit = entries.get(key);
      if (hit !== undefined && hit.expiresAt > now) return hit.value;
      entries.delete(key);
      const value = load();
      entries.set(key, { expiresAt: now + options.ttlMs, value });
      value.catch(() => {
        if (entries.get(key)?.value === value) entries.delete(key);
      });
      // Map keeps insertion order, so the first key is the oldest: a cheap bound on memory.
      if (entries.size > options.maxEntries) {
        const oldest = entries.keys().next().value;
        if (oldest !== undefined) entries.delete(oldest);
      }
      return value;
    },
    delete(key) {
      entries.delete(key);
    },
    get size() {
      return entries.size;
    },
  };
}
