import { describe, expect, it, vi } from 'vitest';
import { createTtlCache } from '../../backend/src/lib/ttl-cache.js';

describe('TTL cache', () => {
  it('coalesces concurrent loads and expires after the TTL', async () => {
    let now = 0;
    const cache = createTtlCache<number>({ ttlMs: 1000, maxEntries: 10, now: () => now });
    const load = vi.fn(async () => 42);
    const results = await Promise.all(Array.from({ length: 20 }, () => cache.getOrLoad('k', load)));
    expect(results.every((value) => value === 42)).toBe(true);
    expect(load).toHaveBeenCalledTimes(1);
    now = 999;
    await cache.getOrLoad('k', load);
    expect(load).toHaveBeenCalledTimes(1);
    now = 1000;
    await cache.getOrLoad('k', load);
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('forgets a failed load so the next call tries again', async () => {
    const cache = createTtlCache<number>({ ttlMs: 1000, maxEntries: 10, now: () => 0 });
    await expect(
      cache.getOrLoad('k', async () => {
        throw new Error('hiccup');
      }),
    ).rejects.toThrow('hiccup');
    await expect(cache.getOrLoad('k', async () => 7)).resolves.toBe(7);
  });

  it('keeps at most maxEntries, dropping the oldest', async () => {
    const cache = createTtlCache<number>({ ttlMs: 1000, maxEntries: 3, now: () => 0 });
    for (const key of ['a', 'b', 'c', 'd']) await cache.getOrLoad(key, async () => 1);
    expect(cache.size).toBe(3);
    const load = vi.fn(async () => 2);
    await cache.getOrLoad('a', load);
    expect(load).toHaveBeenCalledTimes(1);
  });
});
