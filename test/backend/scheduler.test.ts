import { ApiException } from '@hubspot/api-client/lib/codegen/crm/tickets/index.js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AppError } from '../../backend/src/errors.js';
import { HubSpotHttpError, isNetworkFailure, readHttpFailure } from '../../backend/src/hubspot/http-error.js';
import { HubSpotScheduler, type SchedulerEvent } from '../../backend/src/hubspot/scheduler.js';

const T0 = 1_000_000;
const ok = async () => 'ok';
const httpError = (status: number, headers: Record<string, string> = {}) =>
  new HubSpotHttpError(status, headers, { status: 'error', message: 'x', correlationId: 'c-1' });
const fetchFailed = (code: string) => Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error(code), { code }) });

/** A call that records when it started (ms after T0) and then does `then`. */
function timed<T>(starts: number[], then: () => Promise<T> | T) {
  return async () => {
    starts.push(Date.now() - T0);
    return then();
  };
}

/** A call that throws the given failures in turn, then answers 'ok'. */
function failing(starts: number[], ...failures: unknown[]) {
  return vi.fn(
    timed(starts, () => {
      if (failures.length > 0) throw failures.shift();
      return 'ok';
    }),
  );
}

function settled<T>(promise: Promise<T>) {
  const state: { done: boolean; error?: unknown } = { done: false };
  promise.then(
    () => (state.done = true),
    (error: unknown) => Object.assign(state, { done: true, error }),
  );
  return state;
}

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

describe('HubSpot call scheduler', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('lets 110 calls through in 10 s and holds the 111th until the oldest leaves the window', async () => {
    const scheduler = new HubSpotScheduler({ maxConcurrentPerAccount: 200 });
    const starts: number[] = [];
    await Promise.all(Array.from({ length: 100 }, () => scheduler.run(1, timed(starts, ok))));
    await vi.advanceTimersByTimeAsync(4_000);
    const late = Array.from({ length: 11 }, () => scheduler.run(1, timed(starts, ok)));
    await vi.advanceTimersByTimeAsync(0);
    expect(starts).toHaveLength(110);
    await vi.advanceTimersByTimeAsync(5_999);
    expect(starts).toHaveLength(110);
    await vi.advanceTimersByTimeAsync(1);
    await Promise.all(late);
    expect(starts[110]).toBe(10_000);
  });

  it('uses a rolling window, not fixed buckets', async () => {
    const scheduler = new HubSpotScheduler({ maxRequestsPerWindow: 3, windowMs: 1_000 });
    const starts: number[] = [];
    const calls = [scheduler.run(1, timed(starts, ok))];
    await vi.advanceTimersByTimeAsync(600);
    calls.push(scheduler.run(1, timed(starts, ok)), scheduler.run(1, timed(starts, ok)));
    await vi.advanceTimersByTimeAsync(400);
    calls.push(scheduler.run(1, timed(starts, ok)), scheduler.run(1, timed(starts, ok)));
    await vi.advanceTimersByTimeAsync(1_000);
    await Promise.all(calls);
    // A fixed 1 s bucket would have let both calls made at 1000 through at once.
    expect(starts).toEqual([0, 600, 600, 1_000, 1_600]);
  });

  it('keeps accounts independent', async () => {
    const scheduler = new HubSpotScheduler({ maxRequestsPerWindow: 2, maxConcurrentPerAccount: 1 });
    let finishA = () => {};
    const running = scheduler.run('a', () => new Promise<void>((resolve) => (finishA = resolve)));
    await expect(scheduler.run('b', ok)).resolves.toBe('ok');
    finishA();
    await running;
    await scheduler.run('a', ok);
    const blocked = settled(scheduler.run('a', ok));
    await expect(scheduler.run('b', ok)).resolves.toBe('ok');
    await vi.advanceTimersByTimeAsync(9_999);
    expect(blocked.done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(blocked).toEqual({ done: true });
  });

  it('caps concurrent calls per account', async () => {
    const scheduler = new HubSpotScheduler({ maxConcurrentPerAccount: 2 });
    let running = 0;
    let peak = 0;
    const call = async () => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, 50));
      running -= 1;
    };
    const all = Promise.all(Array.from({ length: 5 }, () => scheduler.run(1, call)));
    await vi.advanceTimersByTimeAsync(150);
    await all;
    expect(peak).toBe(2);
  });

  it('serves waiting callers first come, first served', async () => {
    const scheduler = new HubSpotScheduler({ maxRequestsPerWindow: 1, windowMs: 1_000, maxConcurrentPerAccount: 1 });
    const order: number[] = [];
    const starts: number[] = [];
    const all = Promise.all([1, 2, 3, 4, 5].map((n) => scheduler.run(1, timed(starts, () => order.push(n)))));
    await vi.advanceTimersByTimeAsync(4_000);
    await all;
    expect(order).toEqual([1, 2, 3, 4, 5]);
    expect(starts).toEqual([0, 1_000, 2_000, 3_000, 4_000]);
  });

  it('retries 5xx with exponential full-jitter backoff, then succeeds', async () => {
    const events: SchedulerEvent[] = [];
    const scheduler = new HubSpotScheduler({ random: () => 1, onEvent: (event) => events.push(event) });
    const starts: number[] = [];
    const call = failing(starts, httpError(500), httpError(503));
    const result = scheduler.run(7, call);
    await vi.advanceTimersByTimeAsync(750);
    await expect(result).resolves.toBe('ok');
    expect(starts).toEqual([0, 250, 750]);
    expect(events).toEqual([
      { type: 'retry', account: '7', attempt: 1, delayMs: 250, status: 500 },
      { type: 'retry', account: '7', attempt: 2, delayMs: 500, status: 503 },
    ]);
  });

  it('retries network failures and timeouts', async () => {
    const failures = [
      fetchFailed('ECONNREFUSED'),
      fetchFailed('UND_ERR_SOCKET'),
      new DOMException('The operation was aborted due to timeout', 'TimeoutError'),
      new DOMException('This operation was aborted', 'AbortError'),
      Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
      Object.assign(new Error('request failed'), { name: 'FetchError', type: 'system', code: 'ETIMEDOUT' }),
    ];
    for (const failure of failures) {
      const scheduler = new HubSpotScheduler({ random: () => 0 });
      const call = failing([], failure);
      const result = scheduler.run(1, call);
      await vi.advanceTimersByTimeAsync(0);
      await expect(result).resolves.toBe('ok');
      expect(call).toHaveBeenCalledTimes(2);
    }
  });

  it('gives up with HUBSPOT_UNAVAILABLE after the last attempt, keeping the cause', async () => {
    const events: SchedulerEvent[] = [];
    const scheduler = new HubSpotScheduler({ maxAttempts: 3, random: () => 1, onEvent: (event) => events.push(event) });
    const last = fetchFailed('ECONNRESET');
    const call = failing([], httpError(502), httpError(503), last);
    const result = rejection(scheduler.run(1, call));
    await vi.advanceTimersByTimeAsync(750);
    const error = await result;
    expect(error.code).toBe('HUBSPOT_UNAVAILABLE');
    expect(error.cause).toBe(last);
    expect(call).toHaveBeenCalledTimes(3);
    expect(events.at(-1)).toEqual({ type: 'gave_up', account: '1', attempt: 3, delayMs: 0, status: 'network' });
  });

  it('honours Retry-After on 429 and pauses the whole account, not other accounts', async () => {
    const events: SchedulerEvent[] = [];
    const scheduler = new HubSpotScheduler({ random: () => 0, onEvent: (event) => events.push(event) });
    const starts: Record<string, number[]> = { limited: [], other: [], otherAccount: [] };
    // The SDK's own exception, with its header name capitalised as HubSpot sends it.
    const tooMany = new ApiException(429, 'Too Many Requests', { policyName: 'TEN_SECONDLY_ROLLING' }, { 'Retry-After': '3' });
    const limited = scheduler.run(1, failing(starts.limited!, tooMany));
    await vi.advanceTimersByTimeAsync(10);
    const other = scheduler.run(1, timed(starts.other!, ok));
    const otherAccount = scheduler.run(2, timed(starts.otherAccount!, ok));
    await vi.advanceTimersByTimeAsync(2_990);
    await Promise.all([limited, other, otherAccount]);
    expect(starts).toEqual({ limited: [0, 3_000], other: [3_000], otherAccount: [10] });
    expect(events).toEqual([{ type: 'rate_limited', account: '1', attempt: 1, delayMs: 3_000, status: 429 }]);
  });

  it('after a 429 without Retry-After, waits until HubSpot\'s rolling window frees', async () => {
    const scheduler = new HubSpotScheduler({ random: () => 0 });
    await Promise.all(Array.from({ length: 5 }, () => scheduler.run(1, ok)));
    await vi.advanceTimersByTimeAsync(2_000);
    const starts: number[] = [];
    const result = scheduler.run(1, failing(starts, httpError(429, { 'X-HubSpot-RateLimit-Interval-Milliseconds': '10000' })));
    await vi.advanceTimersByTimeAsync(7_999);
    expect(starts).toEqual([2_000]);
    await vi.advanceTimersByTimeAsync(1);
    await expect(result).resolves.toBe('ok');
    expect(starts).toEqual([2_000, 10_000]);
  });

  it('answers HUBSPOT_RATE_LIMITED at once when the pause HubSpot asks for exceeds the budget', async () => {
    const events: SchedulerEvent[] = [];
    const scheduler = new HubSpotScheduler({ maxTotalWaitMs: 5_000, onEvent: (event) => events.push(event) });
    const tooMany = httpError(429, { 'retry-after': '60' });
    const call = failing([], tooMany);
    const error = await rejection(scheduler.run(1, call));
    expect(error.code).toBe('HUBSPOT_RATE_LIMITED');
    expect(error.cause).toBe(tooMany);
    expect(call).toHaveBeenCalledTimes(1);
    expect(Date.now()).toBe(T0);
    expect(events).toEqual([{ type: 'gave_up', account: '1', attempt: 1, delayMs: 60_000, status: 429 }]);

    // The account stays paused, so its next call does not even try.
    const next = vi.fn(ok);
    expect((await rejection(scheduler.run(1, next))).code).toBe('HUBSPOT_RATE_LIMITED');
    expect(next).not.toHaveBeenCalled();
    expect(Date.now()).toBe(T0);
  });

  it('gives up at once when the window cannot free within the budget', async () => {
    const scheduler = new HubSpotScheduler({ maxRequestsPerWindow: 1, maxTotalWaitMs: 5_000 });
    await scheduler.run(1, ok);
    const next = vi.fn(ok);
    expect((await rejection(scheduler.run(1, next))).code).toBe('HUBSPOT_RATE_LIMITED');
    expect(next).not.toHaveBeenCalled();
    expect(Date.now()).toBe(T0);
  });

  it('gives up when the budget runs out behind the concurrency cap', async () => {
    const scheduler = new HubSpotScheduler({ maxConcurrentPerAccount: 1, maxTotalWaitMs: 1_000 });
    const slow = scheduler.run(1, () => new Promise((resolve) => setTimeout(resolve, 5_000, 'slow')));
    const next = vi.fn(ok);
    const queued = settled(scheduler.run(1, next));
    await vi.advanceTimersByTimeAsync(999);
    expect(queued.done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect((queued.error as AppError).code).toBe('HUBSPOT_RATE_LIMITED');
    await vi.advanceTimersByTimeAsync(4_000);
    await expect(slow).resolves.toBe('slow');
    expect(next).not.toHaveBeenCalled();
  });

  it('rethrows other 4xx unchanged and does not retry them', async () => {
    const scheduler = new HubSpotScheduler();
    const failures: Error[] = [400, 401, 403, 404].map((status) => httpError(status));
    failures.push(new ApiException(404, 'Not Found', { message: 'resource not found' }, {}));
    for (const original of failures) {
      const call = failing([], original);
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
    await vi.advanceTimersByTimeAsync(10_000);
    await scheduler.run('account-0', ok);
    expect(scheduler.trackedAccounts).toBe(1);
    await vi.advanceTimersByTimeAsync(10_000);
    await scheduler.run('account-1', ok);
    expect(scheduler.trackedAccounts).toBe(1);
  });

  it('keeps a paused account until its pause ends', async () => {
    const scheduler = new HubSpotScheduler({ maxTotalWaitMs: 1_000 });
    await rejection(scheduler.run(1, failing([], httpError(429, { 'retry-after': '30' }))));
    await vi.advanceTimersByTimeAsync(20_000);
    await scheduler.run(2, ok);
    expect(scheduler.trackedAccounts).toBe(2);
    await vi.advanceTimersByTimeAsync(10_000);
    await scheduler.run(2, ok);
    expect(scheduler.trackedAccounts).toBe(1);
  });
});

describe('HubSpot failures', () => {
  it('reads the SDK\'s ApiException and our HubSpotHttpError alike, header names lower-cased', () => {
    const body = { policyName: 'TEN_SECONDLY_ROLLING' };
    expect(readHttpFailure(new ApiException(429, 'x', body, { 'Retry-After': '2', 'X-HubSpot-RateLimit-Max': '110' }))).toEqual({
      status: 429,
      headers: { 'retry-after': '2', 'x-hubspot-ratelimit-max': '110' },
      body,
    });
    expect(readHttpFailure(new HubSpotHttpError(503, { 'Retry-After': '1' }, 'down'))).toEqual({
      status: 503,
      headers: { 'retry-after': '1' },
      body: 'down',
    });
  });

  it('does not mistake other errors for HubSpot answers', () => {
    for (const error of [
      new AppError('HUBSPOT_UNAVAILABLE'),
      Object.assign(new Error('x'), { code: 'ECONNRESET', headers: {}, body: null }),
      Object.assign(new Error('x'), { code: 42, headers: {}, body: null }),
      { code: 500, headers: {}, body: null },
      fetchFailed('ECONNRESET'),
      undefined,
    ]) {
      expect(readHttpFailure(error)).toBeUndefined();
    }
  });

  it('tells network failures from HubSpot answers and bugs', () => {
    expect(isNetworkFailure(fetchFailed('EAI_AGAIN'))).toBe(true);
    expect(isNetworkFailure(new TypeError('fetch failed'))).toBe(true);
    expect(isNetworkFailure(httpError(503))).toBe(false);
    expect(isNetworkFailure(new TypeError('x is not a function'))).toBe(false);
    expect(isNetworkFailure(Object.assign(new Error('missing'), { code: 'ENOENT' }))).toBe(false);
  });
});

describe('HubSpot call scheduler, creates', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('never sends a create twice once it may have reached HubSpot: a 5xx, a reset or a timeout gives up at once', async () => {
    const scheduler = new HubSpotScheduler({ random: () => 0 });
    for (const failure of [httpError(503), fetchFailed('ECONNRESET'), Object.assign(new Error('timed out'), { name: 'TimeoutError' })]) {
      const starts: number[] = [];
      const call = failing(starts, failure);
      const error = await rejection(scheduler.run(1, call, { idempotent: false }));
      expect(error.code).toBe('HUBSPOT_UNAVAILABLE');
      expect(call).toHaveBeenCalledTimes(1);
    }
  });

  it('still retries a create that certainly was not sent (connection refused) or was refused unprocessed (429)', async () => {
    const scheduler = new HubSpotScheduler({ random: () => 0 });
    const starts: number[] = [];
    const call = failing(starts, fetchFailed('ECONNREFUSED'), httpError(429, { 'retry-after': '1' }));
    const result = scheduler.run(1, call, { idempotent: false });
    await vi.runAllTimersAsync();
    expect(await result).toBe('ok');
    expect(call).toHaveBeenCalledTimes(3);
  });
});
