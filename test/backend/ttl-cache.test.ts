import { describe, expect, it, vi } from 'vitest';
import { BoundedCache, createCacheRegistry } from '../../backend/src/lib/bounded-cache.js';
import { approximateBytes } from '../../backend/src/lib/byte-size.js';
import { createTtlCache } from '../../backend/src/lib/ttl-cache.js';

const KiB = 1024;

describe('TTL cache', () => {
  it('coalesces concurrent loads and expires once the TTL has passed', async () => {
    let now = 0;
    const cache = createTtlCache<number>({ name: 'test', ttlMs: 1000, maxBytes: 64 * KiB, now: () => now });
    const load = vi.fn(async () => 42);
    const results = await Promise.all(Array.from({ length: 20 }, () => cache.getOrLoad('k', load)));
    expect(results.every((value) => value === 42)).toBe(true);
    expect(load).toHaveBeenCalledTimes(1);
    now = 1000;
    await cache.getOrLoad('k', load);
    expect(load).toHaveBeenCalledTimes(1);
    now = 1001;
    await cache.getOrLoad('k', load);
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('counts the TTL from the start of the load that read the value, not from its end', async () => {
    let now = 0;
    const cache = createTtlCache<number>({ name: 'test', ttlMs: 1000, maxBytes: 64 * KiB, now: () => now });
    let finish: (value: number) => void = () => undefined;
    const slow = cache.getOrLoad('k', () => new Promise<number>((resolve) => (finish = resolve)));
    now = 900;
    finish(1);
    await slow;
    now = 1001;
    const load = vi.fn(async () => 2);
    await expect(cache.getOrLoad('k', load)).resolves.toBe(2);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('forgets a failed load so the next call tries again', async () => {
    const cache = createTtlCache<number>({ name: 'test', ttlMs: 1000, maxBytes: 64 * KiB, now: () => 0 });
    await expect(
      cache.getOrLoad('k', async () => {
        throw new Error('hiccup');
      }),
    ).rejects.toThrow('hiccup');
    await expect(cache.getOrLoad('k', async () => 7)).resolves.toBe(7);
  });

  it('does not store a value whose key was deleted while it loaded: the invalidation wins', async () => {
    const cache = createTtlCache<number>({ name: 'test', ttlMs: 1000, maxBytes: 64 * KiB, now: () => 0 });
    let finish: (value: number) => void = () => undefined;
    const before = cache.getOrLoad('k', () => new Promise<number>((resolve) => (finish = resolve)));
    cache.delete('k');
    finish(1);
    await expect(before).resolves.toBe(1);
    await expect(cache.getOrLoad('k', async () => 2)).resolves.toBe(2);
  });

  it('keeps nothing with a TTL of 0, but still shares a load in progress', async () => {
    const cache = createTtlCache<number>({ name: 'test', ttlMs: 0, maxBytes: 64 * KiB, now: () => 0 });
    const load = vi.fn(async () => 1);
    await Promise.all([cache.getOrLoad('k', load), cache.getOrLoad('k', load)]);
    await cache.getOrLoad('k', load);
    expect(load).toHaveBeenCalledTimes(2);
    expect(cache.size).toBe(0);
  });

  it('evicts the least recently used entries once its bytes would pass the bound, and counts hits and misses', async () => {
    const registry = createCacheRegistry();
    const value = 'x'.repeat(1000);
    const cache = createTtlCache<string>({ name: 'small', ttlMs: 60_000, maxBytes: 4 * KiB, now: () => 0, registry });
    for (const key of ['a', 'b', 'c']) await cache.getOrLoad(key, async () => value);
    // a is used again, so b is the least recently used when d needs room.
    await cache.getOrLoad('a', async () => 'reloaded');
    for (const key of ['d', 'e']) await cache.getOrLoad(key, async () => value);
    const [stats] = registry.stats();
    expect(stats).toMatchObject({ name: 'small', maxBytes: 4 * KiB, hits: 1, misses: 5 });
    expect(stats!.bytes).toBeLessThanOrEqual(4 * KiB);
    expect(stats!.evictions).toBeGreaterThan(0);
    expect(stats!.entries).toBe(cache.size);
    const reload = vi.fn(async () => value);
    await cache.getOrLoad('a', reload);
    await cache.getOrLoad('b', reload);
    // a survived (recently used), b did not.
    expect(reload).toHaveBeenCalledTimes(1);
  });

  it('never stores a value bigger than its whole bound, and still answers it', async () => {
    const cache = createTtlCache<string>({ name: 'tiny', ttlMs: 60_000, maxBytes: 1 * KiB, now: () => 0 });
    await expect(cache.getOrLoad('big', async () => 'y'.repeat(4 * KiB))).resolves.toHaveLength(4 * KiB);
    expect(cache.size).toBe(0);
  });

  it('drops every entry whose key matches, loads in progress included', async () => {
    const cache = createTtlCache<number>({ name: 'test', ttlMs: 60_000, maxBytes: 64 * KiB, now: () => 0 });
    for (const key of ['1:a', '1:b', '2:a']) await cache.getOrLoad(key, async () => 1);
    let finish: (value: number) => void = () => undefined;
    const pending = cache.getOrLoad('1:c', () => new Promise<number>((resolve) => (finish = resolve)));
    cache.deleteWhere((key) => key.startsWith('1:'));
    finish(1);
    await pending;
    expect(cache.size).toBe(1);
  });
});

describe('sizes in bytes', () => {
  it('grows with what a value holds, and counts two-byte strings twice', () => {
    const owner = { id: 1, name: 'Ana Silva', email: 'ana@example.com', teamIds: ['1', '2'] };
    expect(approximateBytes([owner, owner])).toBeGreaterThan(2 * approximateBytes(owner) - 1);
    expect(approximateBytes('ü'.repeat(100)) - approximateBytes('u'.repeat(100))).toBe(0);
    expect(approximateBytes('ā'.repeat(96)) - approximateBytes('a'.repeat(96))).toBe(96);
    expect(approximateBytes(new Uint8Array(1000))).toBeGreaterThan(1000);
  });

  it('a bounded cache without a TTL keeps entries until they are evicted or deleted', () => {
    const cache = new BoundedCache<number, { text: string }>({ name: 'plain', maxBytes: 2 * KiB });
    cache.set(1, { text: 'a'.repeat(600) });
    cache.set(2, { text: 'b'.repeat(600) });
    cache.set(3, { text: 'c'.repeat(600) });
    expect(cache.get(1)).toBeUndefined();
    expect(cache.get(3)?.text).toHaveLength(600);
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 1, evictions: 1, entries: 2 });
  });

  it('refuses a TTL of 0, which lru-cache would read as "forever"', () => {
    expect(() => new BoundedCache({ name: 'forever', maxBytes: KiB, ttlMs: 0 })).toThrow(/ttlMs must be positive/);
  });
});
