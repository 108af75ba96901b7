import { LRUCache } from 'lru-cache';
import { approximateBytes, stringBytes } from './byte-size.js';

/** What a cache may hold: anything but null and undefined, which mean "not cached". */
export type CacheValue = object | string | number | boolean;

/** What a cache has done since the backend started, for /metrics. */
export interface CacheStats {
  name: string;
  entries: number;
  /** The entries' estimated size, keys included. */
  bytes: number;
  maxBytes: number;
  /** Lookups answered from a stored entry, and those that were not (the caller then loads). */
  hits: number;
  misses: number;
  /** Entries dropped to make room (not those expired, invalidated or replaced). */
  evictions: number;
}

/** The caches of one backend instance, so /metrics reports each without any global state. */
export interface CacheRegistry {
  add(cache: { stats(): CacheStats }): void;
  stats(): CacheStats[];
}

export function createCacheRegistry(): CacheRegistry {
  const caches: Array<{ stats(): CacheStats }> = [];
  return {
    add: (cache) => caches.push(cache),
    stats: () => caches.map((cache) => cache.stats()),
  };
}

export interface BoundedCacheOptions<K, V> {
  /** The cache's name in /metrics: lower case, no ids. */
  name: string;
  /** The most the entries may hold together, by `sizeOf` plus their keys; least recently used go first. */
  maxBytes: number;
  /** An entry's size in bytes; approximateBytes by default. */
  sizeOf?: (value: V) => number;
  /** How long an entry is used after the time `set` is told it was read (none: until evicted or deleted). */
  ttlMs?: number;
  /** The clock `ttlMs` is measured on (injectable for tests). */
  now?: () => number;
  registry?: CacheRegistry;
  /** Told of each entry evicted to make room. */
  onEvict?: (key: K, value: V) => void;
}

/** lru-cache's own bookkeeping per entry (its key map, key, value, links, size, TTL start and length), roughly. */
const ENTRY_OVERHEAD = 160;

/** lru-cache reads an entry's start time of 0 as "no TTL", and a test clock may well start at 0. */
const TIME_OFFSET = 1;

const keyBytes = (key: string | number) => (typeof key === 'string' ? stringBytes(key) : 16);

/**
 * A map bounded in bytes (lru-cache's maxSize), with an optional TTL, that counts its hits, misses and evictions. An
 * entry larger than the whole bound is not stored (the caller still has its value).
 */
export class BoundedCache<K extends string | number, V extends CacheValue> {
  readonly #name: string;
  readonly #clock: () => number;
  readonly #lru: LRUCache<K, V>;
  #hits = 0;
  #misses = 0;
  #evictions = 0;

  constructor(options: BoundedCacheOptions<K, V>) {
    // lru-cache reads a TTL of 0 as "no TTL": an entry would then live until evicted.
    if (options.ttlMs !== undefined && !(options.ttlMs > 0))
      throw new Error(`${options.name}: ttlMs must be positive; a cache that keeps nothing needs no storage`);
    this.#name = options.name;
    this.#clock = options.now ?? Date.now;
    const sizeOf = options.sizeOf ?? approximateBytes;
    const onEvict = options.onEvict;
    this.#lru = new LRUCache<K, V>({
      maxSize: options.maxBytes,
      sizeCalculation: (value, key) => Math.max(1, Math.ceil(sizeOf(value) + keyBytes(key) + ENTRY_OVERHEAD)),
      dispose: (value, key, reason) => {
        if (reason !== 'evict') return;
        this.#evictions += 1;
        onEvict?.(key, value);
      },
      ...(options.ttlMs === undefined
        ? {}
        : {
            ttl: options.ttlMs,
            // Checked against the clock on every read (no 1 ms memo, which a test clock would outrun).
            ttlResolution: 0,
            perf: { now: () => this.#clock() + TIME_OFFSET },
          }),
    });
    options.registry?.add(this);
  }

  /** The entry, fresh, counted as a hit or a miss. */
  get(key: K): V | undefined {
    const value = this.#lru.get(key);
    if (value === undefined) this.#misses += 1;
    else this.#hits += 1;
    return value;
  }

  /** `readAt`: when the value was read from its source, where its TTL starts (default: now). */
  set(key: K, value: V, readAt?: number): void {
    this.#lru.set(key, value, readAt === undefined ? {} : { start: readAt + TIME_OFFSET });
  }

  delete(key: K): void {
    this.#lru.delete(key);
  }

  /** Drops every entry whose key matches (a walk over all keys: for rare invalidations only). */
  deleteWhere(matches: (key: K) => boolean): void {
    for (const key of [...this.#lru.keys()]) if (matches(key)) this.#lru.delete(key);
  }

  get size(): number {
    return this.#lru.size;
  }

  stats(): CacheStats {
    return {
      name: this.#name,
      entries: this.#lru.size,
      bytes: this.#lru.calculatedSize,
      maxBytes: this.#lru.maxSize,
      hits: this.#hits,
      misses: this.#misses,
      evictions: this.#evictions,
    };
  }
}
