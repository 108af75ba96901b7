import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AppError } from '../../backend/src/errors.js';
import { HubSpotHttpError } from '../../backend/src/hubspot/http-error.js';
import { HubSpotScheduler } from '../../backend/src/hubspot/scheduler.js';

const ok = async () => 'ok';
const httpError = (status: number, headers: Record<string, string> = {}) => new HubSpotHttpError(status, headers, { message: 'x' });

describe('HubSpot call scheduler', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('lets 110 calls through in 10 s and holds the 111th until the oldest leaves the rolling window', async () => {
    const scheduler = new HubSpotScheduler({ maxConcurrentPerAccount: 200 });
    const started: number[] = [];
    const call = async () => {
      started.push(Date.now());
      return 'ok';
    };
    await Promise.all(Array.from({ length: 100 }, () => scheduler.run(1, call)));
    await vi.advanceTimersByTimeAsync(4_000);
    const late = Array.from({ length: 11 }, () => scheduler.run(1, call));
    await vi.advanceTimersByTimeAsync(0);
    expect(started).toHaveLength(110);
    await vi.advanceTimersByTimeAsync(5_999);
    expect(started).toHaveLength(110);
    await vi.advanceTimersByTimeAsync(1);
    await Promise.all(late);
    // Rolling, not fixed: the 111th starts exactly when the first call is 10 s old.
    expect(started[110]).toBe(1_000_000 + 10_000);
  });

  it('keeps accounts independent', async () => {
    const scheduler = new HubSpotScheduler({ maxRequestsPerWindow: 2, maxConcurrentPerAccount: 10 });
    await Promise.all([scheduler.run('a', ok), scheduler.run('a', ok)]);
    const blocked = scheduler.run('a', ok);
    await expect(scheduler.run('b', ok)).resolves.toBe('ok');
    let done = false;
    void blocked.then(() => (done = true));
    await vi.advanceTimersByTimeAsync(100);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(done).toBe(true);
  });

  it('caps concurrency per account and serves waiters first come, first served', async () => {
    const scheduler = new HubSpotScheduler({ maxConcurrentPerAccount: 2 });
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    const call = (n: number) => async () => {
      running += 1;
      peak = Math.max(peak, running);
      order.push(n);
      await new Promise((resolve) => setTimeout(resolve, 50));
      running -= 1;
    };
    const all = Promise.all([1, 2, 3, 4, 5].map((n) => scheduler.run(1, call(n))));
    await vi.advanceTimersByTimeAsync(500);
    await all;
    expect(peak).toBe(2);
    expect(order).toEqual([1, 2, 3, 4, 5]);
  });

  it('retries 5xx and network failures, then succeeds', async () => {
    const scheduler = new HubSpotScheduler({ random: () => 1 });
    const failures = [httpError(502), Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNRESET' } })];
    const call = vi.fn(async () => {
      const next = failures.shift();
      if (next !== undefined) throw next;
      return 'ok';
    });
    const result = scheduler.run(1, call);
    await vi.advanceTimersByTimeAsync(2_000);
    await expect(result).resolves.toBe('ok');
    expect(call).toHaveBeenCalledTimes(3);
  });

  it('gives up with HUBSPOT_UNAVAILABLE after the last attempt, keeping the cause', async () => {
    const scheduler = new HubSpotScheduler({ maxAttempts: 3, random: () => 1 });
    const last = httpError(503);
    const call = vi.fn(async () => {
      throw last;
    });
    const result = scheduler.run(1, call).catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(5_000);
    const error = await result;
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('HUBSPOT_UNAVAILABLE');
    expect((error as AppError).cause).toBe(last);
    expect(call).toHaveBeenCalledTimes(3);
  });

  it('honours Retry-After on 429 and pauses the whole account meanwhile', async () => {
    const scheduler = new HubSpotScheduler({ random: () => 0 });
    let first = true;
    const starts: Array<[string, number]> = [];
    const limited = scheduler.run(1, async () => {
      starts.push(['limited', Date.now()]);
      if (first) {
        first = false;
        throw httpError(429, { 'Retry-After': '3' });
      }
      return 'ok';
    });
    await vi.advanceTimersByTimeAsync(10);
    const other = scheduler.run(1, async () => {
      starts.push(['other', Date.now()]);
      return 'ok';
    });
    await vi.advanceTimersByTimeAsync(2_900);
    expect(starts.map(([name]) => name)).toEqual(['limited']);
    await vi.advanceTimersByTimeAsync(200);
    await Promise.all([limited, other]);
    expect(starts.every(([, at], index) => index === 0 || at >= 1_000_000 + 3_000)).toBe(true);
  });

  it('answers HUBSPOT_RATE_LIMITED at once when HubSpot asks for a pause longer than the budget', async () => {
    const scheduler = new HubSpotScheduler({ maxTotalWaitMs: 5_000 });
    const call = vi.fn(async () => {
      throw httpError(429, { 'retry-after': '60' });
    });
    const error = await scheduler.run(1, call).catch((e: unknown) => e);
    expect((error as AppError).code).toBe('HUBSPOT_RATE_LIMITED');
    expect(call).toHaveBeenCalledTimes(1);
  });

  it('rethrows other 4xx unchanged and does not retry them', async () => {
    const scheduler = new HubSpotScheduler();
    for (const status of [400, 401, 403, 404]) {
      const original = httpError(status);
      const call = vi.fn(async () => {
        throw original;
      });
      await expect(scheduler.run(1, call)).rejects.toBe(original);
      expect(call).toHaveBeenCalledTimes(1);
    }
  });

  it('rethrows programming errors unchanged', async () => {
    const scheduler = new HubSpotScheduler();
    const bug = new RangeError('bug');
    await expect(scheduler.run(1, async () => { throw bug; })).rejects.toBe(bug);
  });

  it('forgets idle accounts', async () => {
    const scheduler = new HubSpotScheduler();
    await Promise.all(Array.from({ length: 50 }, (_, i) => scheduler.run(`account-${i}`, ok)));
    expect(scheduler.trackedAccounts).toBe(50);
    await vi.advanceTimersByTimeAsync(10_001);
    await scheduler.run('account-0', ok);
    expect(scheduler.trackedAccounts).toBe(1);
  });
});
