import { BoundedCache, type CacheRegistry, type CacheValue } from './bounded-cache.js';

/**
 * A TTL cache bounded in bytes that also coalesces concurrent loads of the same key into one promise, and forgets
 * failed loads so a HubSpot hiccup is not remembered. Values are stored once loaded (lru-cache, least recently used
 * evicted first); loads in progress are kept beside them, bounded by the requests in flight. A key deleted while its
 * load runs is not stored when the load ends, so an invalidation always wins over the read it overtook.
 */
export interface TtlCache<V> {
  getOrLoad(key: string, load: () => Promise<V>): Promise<V>;
  delete(key: string): void;
  /** Drops every stored entry and load in progress whose key matches: for rare invalidations only (walks every key). */
  deleteWhere(matches: (key: string) => boolean): void;
  /** Stored entries (loads in progress not counted). */
  readonly size: number;
}

export interface TtlCacheOptions<V> {
  /** The cache's name in /metrics. */
  name: string;
  /** From the start of the load that read the value; 0 keeps nothing (concurrent loads are still shared). */
  ttlMs: number;
  /** The stored entries' estimated bytes, keys included, at most. */
  maxBytes: number;
  /** An entry's size in bytes; approximateBytes (lib/byte-size.ts) by default. */
  sizeOf?: (value: V) => number;
  now: () => number;
  registry?: CacheRegistry;
}

export function createTtlCache<V extends CacheValue>(options: TtlCacheOptions<V>): TtlCache<V> {
  const stored =
    options.ttlMs > 0
      ? new BoundedCache<string, V>({
          name: options.name,
          maxBytes: options.maxBytes,
          ttlMs: options.ttlMs,
          now: options.now,
          ...(options.sizeOf === undefined ? {} : { sizeOf: options.sizeOf }),
          ...(options.registry === undefined ? {} : { registry: options.registry }),
        })
      : undefined;
  const loading = new Map<string, Promise<V>>();

  return {
    getOrLoad(key, load) {
      // A load in progress is joined without counting: the cache's hits are answers it stored, its misses the loads.
      const pending = loading.get(key);
      if (pending !== undefined) return pending;
      const hit = stored?.get(key);
      if (hit !== undefined) return Promise.resolve(hit);
      // The TTL counts from here: the value can be no older than this read.
      const readAt = options.now();
      const value = load();
      loading.set(key, value);
      void value.then(
        (loaded) => {
          if (loading.get(key) !== value) return;
          loading.delete(key);
          stored?.set(key, loaded, readAt);
        },
        () => {
          if (loading.get(key) === value) loading.delete(key);
        },
      );
      return value;
    },
    delete(key) {
      loading.delete(key);
      stored?.delete(key);
    },
    deleteWhere(matches) {
      for (const key of [...loading.keys()]) if (matches(key)) loading.delete(key);
      stored?.deleteWhere(matches);
    },
    get size() {
      return stored?.size ?? 0;
    },
  };
}
