import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AppError } from '../../backend/src/errors.js';
import { HubSpotHttpError, isNetworkFailure, readHttpFailure } from '../../backend/src/hubspot/http-error.js';
import { ATTEMPT_FLOOR_MS, Deadline } from '../../backend/src/hubspot/deadline.js';
import { HUBSPOT_LIMITS, HubSpotScheduler, type Lane, type SchedulerEvent, type SharedBudget, type WindowLimit } from '../../backend/src/hubspot/scheduler.js';

const T0 = 1_000_000;
/** A caller's deadline, 12 s unless told, with no attempt cap of its own: the tests below are about waits. */
const within = (budgetMs = 12_000) => new Deadline({ budgetMs, attemptCapMs: budgetMs }, 'the card');
const ok = async () => 'ok';
const httpError = (status: number, headers: Record<string, string> = {}, body: unknown = { status: 'error', message: 'x', correlationId: 'c-1' }) =>
  new HubSpotHttpError(status, headers, body);
const fetchFailed = (code: string) => Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error(code), { code }) });
/** HubSpot's 429 body names the limit that was hit (API usage guidelines). */
const tooMany = (policyName: string, headers: Record<string, string> = {}) =>
  httpError(429, headers, { status: 'error', message: 'You have reached your limit.', errorType: 'RATE_LIMIT', policyName, correlationId: 'c-2' });
/** What HubSpot says on every (non-search) answer about the account's window. */
const window = (max: number, intervalMs: number, remaining: number) => ({
  'x-hubspot-ratelimit-max': String(max),
  'x-hubspot-ratelimit-interval-milliseconds': String(intervalMs),
  'x-hubspot-ratelimit-remaining': String(remaining),
});

/** A call that records when it started (ms after T0) and then does `then`. */
function timed<T>(starts: number[], then: () => Promise<T> | T) {
  return async () => {
    starts.push(Date.now() - T0);
    return then();
  };
}

/** A call that records when it started and answers with HubSpot's rate-limit headers. */
function answering(starts: number[], headers: Record<string, string>) {
  return async (report: (headers: Record<string, string>) => void) => {
    starts.push(Date.now() - T0);
    report(headers);
    return 'ok';
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

/** A call that stays in flight until finished. */
function held() {
  let finish = () => {};
  const done = new Promise<string>((resolve) => (finish = () => resolve('held')));
  return { call: () => done, finish: () => finish() };
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

  describe('windows', () => {
    it("starts from HubSpot's documented 110 calls per 10 s and holds the 111th until the oldest leaves the window", async () => {
      expect(HUBSPOT_LIMITS.general).toEqual({ max: 110, intervalMs: 10_000 });
      const scheduler = new HubSpotScheduler({ maxConcurrentPerLane: 200, reservedShare: 0 });
      const starts: number[] = [];
      await Promise.all(Array.from({ length: 100 }, () => scheduler.run(1, within(), timed(starts, ok))));
      await vi.advanceTimersByTimeAsync(4_000);
      const late = Array.from({ length: 11 }, () => scheduler.run(1, within(), timed(starts, ok)));
      await vi.advanceTimersByTimeAsync(0);
      expect(starts).toHaveLength(110);
      await vi.advanceTimersByTimeAsync(5_999);
      expect(starts).toHaveLength(110);
      await vi.advanceTimersByTimeAsync(1);
      await Promise.all(late);
      expect(starts[110]).toBe(10_000);
    });

    it('uses a rolling window, not fixed buckets', async () => {
      const scheduler = new HubSpotScheduler({ limits: { general: { max: 3, intervalMs: 1_000 } }, reservedShare: 0 });
      const starts: number[] = [];
      const calls = [scheduler.run(1, within(), timed(starts, ok))];
      await vi.advanceTimersByTimeAsync(600);
      calls.push(scheduler.run(1, within(), timed(starts, ok)), scheduler.run(1, within(), timed(starts, ok)));
      await vi.advanceTimersByTimeAsync(400);
      calls.push(scheduler.run(1, within(), timed(starts, ok)), scheduler.run(1, within(), timed(starts, ok)));
      await vi.advanceTimersByTimeAsync(1_000);
      await Promise.all(calls);
      // A fixed 1 s bucket would have let both calls made at 1000 through at once.
      expect(starts).toEqual([0, 600, 600, 1_000, 1_600]);
    });

    it("holds a caller given a share to that share of each window, while others' calls start at once", async () => {
      const scheduler = new HubSpotScheduler({ limits: { general: { max: 10, intervalMs: 1_000 } }, reservedShare: 0 });
      const background: number[] = [];
      const card: number[] = [];
      const share = { user: 'calibration', share: 0.2 };
      const calls = Array.from({ length: 5 }, () => scheduler.run(1, within(), timed(background, ok), share));
      calls.push(scheduler.run(1, within(), timed(card, ok), { user: 7 }));
      await vi.advanceTimersByTimeAsync(3_000);
      await Promise.all(calls);
      // Two of ten per window, each window counted from the answers; the card's call waited for none of them.
      expect(background).toEqual([0, 0, 1_000, 1_000, 2_000]);
      expect(card).toEqual([0]);
    });

    it('gives a share too small for one call a whole call per window', async () => {
      const scheduler = new HubSpotScheduler({ limits: { search: { max: 5, intervalMs: 1_000 } }, reservedShare: 0 });
      const starts: number[] = [];
      const calls = Array.from({ length: 3 }, () => scheduler.run(1, within(), timed(starts, ok), { user: 'calibration', share: 0.1, lane: 'search' }));
      await vi.advanceTimersByTimeAsync(3_000);
      await Promise.all(calls);
      expect(starts).toEqual([0, 1_000, 2_000]);
    });

    it('counts a call until an interval after its answer, since HubSpot may have counted it late', async () => {
      const scheduler = new HubSpotScheduler({ limits: { general: { max: 1, intervalMs: 1_000 } } });
      const starts: number[] = [];
      const slow = scheduler.run(
        1,
        within(),
        timed(starts, () => new Promise((resolve) => setTimeout(resolve, 300, 'slow'))),
      );
      const next = scheduler.run(1, within(), timed(starts, ok));
      await vi.advanceTimersByTimeAsync(1_299);
      expect(starts).toEqual([0]);
      await vi.advanceTimersByTimeAsync(1);
      await Promise.all([slow, next]);
      expect(starts).toEqual([0, 1_300]);
    });

    it('keeps accounts independent', async () => {
      const scheduler = new HubSpotScheduler({ limits: { general: { max: 2, intervalMs: 10_000 } }, maxConcurrentPerLane: 1 });
      const a = held();
      const running = scheduler.run('a', within(), a.call);
      await expect(scheduler.run('b', within(), ok)).resolves.toBe('ok');
      a.finish();
      await running;
      await scheduler.run('a', within(), ok);
      const blocked = settled(scheduler.run('a', within(), ok));
      await expect(scheduler.run('b', within(), ok)).resolves.toBe('ok');
      await vi.advanceTimersByTimeAsync(9_999);
      expect(blocked.done).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(blocked).toEqual({ done: true });
    });

    it('caps concurrent calls per lane', async () => {
      const scheduler = new HubSpotScheduler({ maxConcurrentPerLane: 2 });
      let running = 0;
      let peak = 0;
      const call = async () => {
        running += 1;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, 50));
        running -= 1;
      };
      const all = Promise.all(Array.from({ length: 5 }, () => scheduler.run(1, within(), call)));
      await vi.advanceTimersByTimeAsync(150);
      await all;
      expect(peak).toBe(2);
    });

    it("serves one user's waiting calls in arrival order", async () => {
      const scheduler = new HubSpotScheduler({ limits: { general: { max: 1, intervalMs: 1_000 } }, maxConcurrentPerLane: 1 });
      const order: number[] = [];
      const starts: number[] = [];
      const all = Promise.all(
        [1, 2, 3, 4, 5].map((n) =>
          scheduler.run(
            1,
            within(),
            timed(starts, () => order.push(n)),
            { user: 7 },
          ),
        ),
      );
      await vi.advanceTimersByTimeAsync(4_000);
      await all;
      expect(order).toEqual([1, 2, 3, 4, 5]);
      expect(starts).toEqual([0, 1_000, 2_000, 3_000, 4_000]);
    });
  });

  describe("HubSpot's rate-limit headers", () => {
    it('takes the window from X-HubSpot-RateLimit-Max and -Interval-Milliseconds', async () => {
      const scheduler = new HubSpotScheduler({ reservedShare: 0 });
      const starts: number[] = [];
      await scheduler.run(1, within(), answering(starts, window(4, 2_000, 3)));
      const more = Array.from({ length: 4 }, () => scheduler.run(1, within(), timed(starts, ok)));
      await vi.advanceTimersByTimeAsync(1_999);
      expect(starts).toEqual([0, 0, 0, 0]);
      await vi.advanceTimersByTimeAsync(1);
      await Promise.all(more);
      expect(starts).toEqual([0, 0, 0, 0, 2_000]);
    });

    it('never starts more than X-HubSpot-RateLimit-Remaining allows, whoever used the rest', async () => {
      const scheduler = new HubSpotScheduler({ reservedShare: 0 });
      const starts: number[] = [];
      // Other clients of the app (another instance) used 108 of the account's 110.
      await scheduler.run(1, within(), answering(starts, window(110, 10_000, 2)));
      const more = Array.from({ length: 5 }, () => scheduler.run(1, within(), timed(starts, ok)));
      await vi.advanceTimersByTimeAsync(9_999);
      expect(starts).toEqual([0, 0, 0]);
      // By then every call HubSpot had counted has left its window.
      await vi.advanceTimersByTimeAsync(1);
      await Promise.all(more);
      expect(starts).toEqual([0, 0, 0, 10_000, 10_000, 10_000]);
    });

    it('counts calls in flight when an answer was sent as possibly not yet counted by HubSpot', async () => {
      const scheduler = new HubSpotScheduler({ reservedShare: 0 });
      const slow = [held(), held(), held()];
      const running = slow.map((call) => scheduler.run(1, within(), call.call));
      const starts: number[] = [];
      await scheduler.run(1, within(), answering(starts, window(110, 10_000, 5)));
      const more = Array.from({ length: 4 }, () => scheduler.run(1, within(), timed(starts, ok)));
      await vi.advanceTimersByTimeAsync(0);
      // 5 left, but the 3 calls in flight may reach HubSpot after it counted.
      expect(starts).toEqual([0, 0, 0]);
      for (const call of slow) call.finish();
      await vi.advanceTimersByTimeAsync(10_000);
      await Promise.all([...running, ...more]);
      expect(starts).toEqual([0, 0, 0, 10_000, 10_000]);
    });

    it('does not let an older answer loosen what a newer one said', async () => {
      const scheduler = new HubSpotScheduler({ reservedShare: 0 });
      const older = held();
      const olderAnswer = scheduler.run(1, within(), async (report) => {
        await older.call();
        report(window(110, 10_000, 90));
        return 'ok';
      });
      const starts: number[] = [];
      await scheduler.run(1, within(), answering(starts, window(110, 10_000, 2)));
      older.finish();
      await olderAnswer;
      const more = Array.from({ length: 3 }, () => scheduler.run(1, within(), timed(starts, ok)));
      await vi.advanceTimersByTimeAsync(0);
      // 2 left, less the older call that was in flight when the newer one started.
      expect(starts).toEqual([0, 0]);
      await vi.advanceTimersByTimeAsync(10_000);
      await Promise.all(more);
    });

    it('ignores headers it cannot read', async () => {
      const scheduler = new HubSpotScheduler({ limits: { general: { max: 3, intervalMs: 1_000 } }, reservedShare: 0 });
      const starts: number[] = [];
      await scheduler.run(
        1,
        within(),
        answering(starts, { 'x-hubspot-ratelimit-max': 'lots', 'x-hubspot-ratelimit-interval-milliseconds': '-5', 'x-hubspot-ratelimit-remaining': '' }),
      );
      await Promise.all([scheduler.run(1, within(), timed(starts, ok)), scheduler.run(1, within(), timed(starts, ok))]);
      expect(starts).toEqual([0, 0, 0]);
    });
  });

  describe('the search lane', () => {
    it("paces searches at HubSpot's five per second, beside ordinary calls", async () => {
      expect(HUBSPOT_LIMITS.search).toEqual({ max: 5, intervalMs: 1_000 });
      const scheduler = new HubSpotScheduler({ reservedShare: 0 });
      const searches: number[] = [];
      const others: number[] = [];
      const all = [
        ...Array.from({ length: 7 }, () => scheduler.run(1, within(), timed(searches, ok), { lane: 'search' })),
        ...Array.from({ length: 7 }, () => scheduler.run(1, within(), timed(others, ok))),
      ];
      await vi.advanceTimersByTimeAsync(1_000);
      await Promise.all(all);
      expect(searches).toEqual([0, 0, 0, 0, 0, 1_000, 1_000]);
      expect(others).toEqual([0, 0, 0, 0, 0, 0, 0]);
    });

    it('takes no window from headers on a search answer', async () => {
      const scheduler = new HubSpotScheduler({ reservedShare: 0 });
      const starts: number[] = [];
      await scheduler.run(1, within(), answering(starts, window(110, 10_000, 100)), { lane: 'search' });
      const more = Array.from({ length: 5 }, () => scheduler.run(1, within(), timed(starts, ok), { lane: 'search' }));
      await vi.advanceTimersByTimeAsync(1_000);
      await Promise.all(more);
      expect(starts).toEqual([0, 0, 0, 0, 0, 1_000]);
    });

    it('pauses only searches after a search 429, however HubSpot names it', async () => {
      const scheduler = new HubSpotScheduler({ random: () => 0 });
      const searches: number[] = [];
      const others: number[] = [];
      const search = scheduler.run(1, within(), failing(searches, tooMany('SECONDLY')), { lane: 'search' });
      await vi.advanceTimersByTimeAsync(0);
      const another = scheduler.run(1, within(), timed(searches, ok), { lane: 'search' });
      const other = scheduler.run(1, within(), timed(others, ok));
      await vi.advanceTimersByTimeAsync(1_000);
      await Promise.all([search, another, other]);
      expect(others).toEqual([0]);
      // The lane's window frees when the 429'd call leaves it.
      expect(searches).toEqual([0, 1_000, 1_000]);
    });

    it('pauses the general lane too when a 429 names TEN_SECONDLY_ROLLING', async () => {
      const scheduler = new HubSpotScheduler();
      const others: number[] = [];
      const search = scheduler.run(1, within(), failing([], tooMany('TEN_SECONDLY_ROLLING', { 'retry-after': '2' })), { lane: 'search' });
      await vi.advanceTimersByTimeAsync(0);
      const other = scheduler.run(1, within(), timed(others, ok));
      await vi.advanceTimersByTimeAsync(2_000);
      await Promise.all([search, other]);
      expect(others).toEqual([2_000]);
    });

    it("pauses every lane for at least a minute on HubSpot's daily limit, whose reset time we do not know", async () => {
      const scheduler = new HubSpotScheduler();
      const daily = tooMany('DAILY');
      const error = await rejection(scheduler.run(1, within(5_000), failing([], daily)));
      expect(error).toMatchObject({ code: 'HUBSPOT_RATE_LIMITED', retryAfterSeconds: 60 });
      const search = vi.fn(ok);
      expect((await rejection(scheduler.run(1, within(5_000), search, { lane: 'search' }))).retryAfterSeconds).toBe(60);
      expect(search).not.toHaveBeenCalled();
    });
  });

  describe('fairness between the users of an account', () => {
    it('keeps the last fifth of the window for users who made few calls in it', async () => {
      const scheduler = new HubSpotScheduler({ limits: { general: { max: 10, intervalMs: 10_000 } } });
      const burst: number[] = [];
      const bursting = Promise.allSettled(Array.from({ length: 20 }, () => scheduler.run(1, within(), timed(burst, ok), { user: 'ana' })));
      await vi.advanceTimersByTimeAsync(0);
      expect(burst).toHaveLength(8);
      const others: number[] = [];
      await scheduler.run(1, within(), timed(others, ok), { user: 'bob' });
      await scheduler.run(1, within(), timed(others, ok), { user: 'carla' });
      expect(others).toEqual([0, 0]);
      // The window is full now: everyone waits.
      const late = scheduler.run(1, within(), timed(others, ok), { user: 'dev' });
      await vi.advanceTimersByTimeAsync(9_999);
      expect(others).toEqual([0, 0]);
      await vi.advanceTimersByTimeAsync(1);
      await late;
      expect(others).toEqual([0, 0, 10_000]);
      // Ana's burst goes on at her share: 7 more in the next window, and the last 5 run out of budget.
      await vi.advanceTimersByTimeAsync(2_000);
      const outcomes = await bursting;
      expect(burst).toHaveLength(15);
      expect(outcomes.filter((outcome) => outcome.status === 'rejected').map((outcome) => (outcome.reason as AppError).code)).toEqual(
        Array(5).fill('HUBSPOT_RATE_LIMITED'),
      );
    });

    it('serves waiting users in turn, not in arrival order', async () => {
      const scheduler = new HubSpotScheduler({ maxConcurrentPerLane: 1 });
      const order: string[] = [];
      const step = (name: string) => timed([], () => new Promise<void>((resolve) => setTimeout(() => resolve(void order.push(name)), 10)));
      const all = [
        ...['a1', 'a2', 'a3', 'a4'].map((name) => scheduler.run(1, within(), step(name), { user: 'ana' })),
        ...['b1', 'b2'].map((name) => scheduler.run(1, within(), step(name), { user: 'bob' })),
      ];
      await vi.advanceTimersByTimeAsync(100);
      await Promise.all(all);
      expect(order).toEqual(['a1', 'a2', 'b1', 'a3', 'b2', 'a4']);
    });

    it('gives a search to the user who has not searched before the one who is bursting', async () => {
      const scheduler = new HubSpotScheduler();
      const order: string[] = [];
      const search = (name: string, user: string) =>
        scheduler.run(
          1,
          within(),
          timed([], () => void order.push(name)),
          { user, lane: 'search' },
        );
      const burst = Array.from({ length: 12 }, (_, i) => search(`ana${i + 1}`, 'ana'));
      await vi.advanceTimersByTimeAsync(0);
      const bob = search('bob', 'bob');
      await vi.advanceTimersByTimeAsync(0);
      // Ana may use 4 of the 5 per second; the fifth is Bob's at once.
      expect(order).toEqual(['ana1', 'ana2', 'ana3', 'ana4', 'bob']);
      await vi.advanceTimersByTimeAsync(3_000);
      await Promise.all([...burst, bob]);
      expect(order).toHaveLength(13);
    });
  });

  describe('retries', () => {
    it('retries 5xx with exponential full-jitter backoff, then succeeds', async () => {
      const events: SchedulerEvent[] = [];
      const scheduler = new HubSpotScheduler({ random: () => 1, onEvent: (event) => events.push(event) });
      const starts: number[] = [];
      const call = failing(starts, httpError(500), httpError(503));
      const result = scheduler.run(7, within(), call);
      await vi.advanceTimersByTimeAsync(750);
      await expect(result).resolves.toBe('ok');
      expect(starts).toEqual([0, 250, 750]);
      expect(events).toEqual([
        { type: 'retry', account: '7', lane: 'general', attempt: 1, delayMs: 250, status: 500 },
        { type: 'retry', account: '7', lane: 'general', attempt: 2, delayMs: 500, status: 503 },
      ]);
    });

    it('retries network failures and timeouts', async () => {
      const failures = [
        fetchFailed('ECONNREFUSED'),
        fetchFailed('UND_ERR_SOCKET'),
        new DOMException('The operation was aborted due to timeout', 'TimeoutError'),
        new DOMException('This operation was aborted', 'AbortError'),
        Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
      ];
      for (const failure of failures) {
        const scheduler = new HubSpotScheduler({ random: () => 0 });
        const call = failing([], failure);
        const result = scheduler.run(1, within(), call);
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
      const result = rejection(scheduler.run(1, within(), call));
      await vi.advanceTimersByTimeAsync(750);
      const error = await result;
      expect(error.code).toBe('HUBSPOT_UNAVAILABLE');
      expect(error.retryAfterSeconds).toBeUndefined();
      expect(error.cause).toBe(last);
      expect(call).toHaveBeenCalledTimes(3);
      expect(events.at(-1)).toEqual({ type: 'gave_up', account: '1', lane: 'general', attempt: 3, delayMs: 0, status: 'network' });
    });

    it('honours Retry-After on 429 and pauses the lane, not other accounts', async () => {
      const events: SchedulerEvent[] = [];
      const scheduler = new HubSpotScheduler({ random: () => 0, onEvent: (event) => events.push(event) });
      const starts: Record<string, number[]> = { limited: [], other: [], otherAccount: [] };
      // The header name capitalised as HubSpot sends it.
      const limit = new HubSpotHttpError(429, { 'Retry-After': '3' }, { policyName: 'TEN_SECONDLY_ROLLING' });
      const limited = scheduler.run(1, within(), failing(starts.limited!, limit));
      await vi.advanceTimersByTimeAsync(10);
      const other = scheduler.run(1, within(), timed(starts.other!, ok));
      const otherAccount = scheduler.run(2, within(), timed(starts.otherAccount!, ok));
      await vi.advanceTimersByTimeAsync(2_990);
      await Promise.all([limited, other, otherAccount]);
      expect(starts).toEqual({ limited: [0, 3_000], other: [3_000], otherAccount: [10] });
      expect(events).toEqual([{ type: 'rate_limited', account: '1', lane: 'general', attempt: 1, delayMs: 3_000, status: 429 }]);
    });

    it("after a 429 without Retry-After, waits until HubSpot's rolling window frees", async () => {
      const scheduler = new HubSpotScheduler({ random: () => 0 });
      await Promise.all(Array.from({ length: 5 }, () => scheduler.run(1, within(), ok)));
      await vi.advanceTimersByTimeAsync(2_000);
      const starts: number[] = [];
      const result = scheduler.run(1, within(), failing(starts, tooMany('TEN_SECONDLY_ROLLING')));
      await vi.advanceTimersByTimeAsync(7_999);
      expect(starts).toEqual([2_000]);
      await vi.advanceTimersByTimeAsync(1);
      await expect(result).resolves.toBe('ok');
      expect(starts).toEqual([2_000, 10_000]);
    });

    it('answers HUBSPOT_RATE_LIMITED at once, with when to try again, when the pause HubSpot asks for exceeds the deadline', async () => {
      const events: SchedulerEvent[] = [];
      const scheduler = new HubSpotScheduler({ onEvent: (event) => events.push(event) });
      const limit = httpError(429, { 'retry-after': '60' });
      const call = failing([], limit);
      const error = await rejection(scheduler.run(1, within(5_000), call));
      expect(error.code).toBe('HUBSPOT_RATE_LIMITED');
      expect(error.message).toBe('HubSpot asked us to slow down for this account for longer than the card can wait.');
      expect(error.retryAfterSeconds).toBe(60);
      expect(error.cause).toBe(limit);
      expect(call).toHaveBeenCalledTimes(1);
      expect(Date.now()).toBe(T0);
      expect(events).toEqual([{ type: 'gave_up', account: '1', lane: 'general', attempt: 1, delayMs: 60_000, status: 429 }]);

      // The lane stays paused, so its next call does not even try.
      const next = vi.fn(ok);
      expect(await rejection(scheduler.run(1, within(5_000), next))).toMatchObject({ code: 'HUBSPOT_RATE_LIMITED', retryAfterSeconds: 60 });
      expect(next).not.toHaveBeenCalled();
      expect(Date.now()).toBe(T0);
    });

    it('gives up at once when the window cannot free within the deadline, saying when it will', async () => {
      const scheduler = new HubSpotScheduler({ limits: { general: { max: 1, intervalMs: 10_000 } } });
      await scheduler.run(1, within(5_000), ok);
      await vi.advanceTimersByTimeAsync(1_500);
      const next = vi.fn(ok);
      expect(await rejection(scheduler.run(1, within(5_000), next))).toMatchObject({
        code: 'HUBSPOT_RATE_LIMITED',
        message: 'Too many HubSpot calls are waiting for this account right now, and the card could not wait longer.',
        retryAfterSeconds: 9,
      });
      expect(next).not.toHaveBeenCalled();
      expect(Date.now()).toBe(T0 + 1_500);
    });

    it('gives up when the deadline ends behind the concurrency cap', async () => {
      const scheduler = new HubSpotScheduler({ maxConcurrentPerLane: 1 });
      const slow = scheduler.run(1, within(10_000), () => new Promise((resolve) => setTimeout(resolve, 5_000, 'slow')));
      const next = vi.fn(ok);
      const queued = settled(scheduler.run(1, within(1_000), next));
      await vi.advanceTimersByTimeAsync(999);
      expect(queued.done).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(queued.error).toMatchObject({ code: 'HUBSPOT_RATE_LIMITED', retryAfterSeconds: 1 });
      await vi.advanceTimersByTimeAsync(4_000);
      await expect(slow).resolves.toBe('slow');
      expect(next).not.toHaveBeenCalled();
    });

    it('rethrows other 4xx unchanged and does not retry them', async () => {
      const scheduler = new HubSpotScheduler();
      const failures: Error[] = [400, 401, 403, 404].map((status) => httpError(status));
      for (const original of failures) {
        const call = failing([], original);
        await expect(scheduler.run(1, within(), call)).rejects.toBe(original);
        expect(call).toHaveBeenCalledTimes(1);
      }
    });

    it('rethrows programming errors unchanged', async () => {
      const scheduler = new HubSpotScheduler();
      const bug = new RangeError('bug');
      await expect(
        scheduler.run(1, within(), async () => {
          throw bug;
        }),
      ).rejects.toBe(bug);
    });
  });

  describe('memory', () => {
    it('forgets idle accounts', async () => {
      const scheduler = new HubSpotScheduler();
      await Promise.all(Array.from({ length: 50 }, (_, i) => scheduler.run(`account-${i}`, within(), ok)));
      expect(scheduler.trackedAccounts).toBe(50);
      await vi.advanceTimersByTimeAsync(10_000);
      await scheduler.run('account-0', within(), ok);
      expect(scheduler.trackedAccounts).toBe(1);
      await vi.advanceTimersByTimeAsync(10_000);
      await scheduler.run('account-1', within(), ok);
      expect(scheduler.trackedAccounts).toBe(1);
    });

    it('keeps a paused account until its pause ends', async () => {
      const scheduler = new HubSpotScheduler();
      await rejection(scheduler.run(1, within(1_000), failing([], httpError(429, { 'retry-after': '30' }))));
      await vi.advanceTimersByTimeAsync(20_000);
      await scheduler.run(2, within(), ok);
      expect(scheduler.trackedAccounts).toBe(2);
      await vi.advanceTimersByTimeAsync(10_000);
      await scheduler.run(2, within(), ok);
      expect(scheduler.trackedAccounts).toBe(1);
    });
  });
});

describe('HubSpot call scheduler, deadlines', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  /** A call that never answers and ignores its signal, recording the signal it was given. */
  const hanging = (signals: AbortSignal[]) => (_report: unknown, signal: AbortSignal) => {
    signals.push(signal);
    return new Promise<string>(() => undefined);
  };

  it("abandons an attempt at the caller's deadline even if the call ignores its signal, and frees the slot at once", async () => {
    const scheduler = new HubSpotScheduler({ maxConcurrentPerLane: 1 });
    const signals: AbortSignal[] = [];
    const hung = settled(scheduler.run(1, within(1_000), hanging(signals)));
    const starts: number[] = [];
    const next = scheduler.run(1, within(5_000), timed(starts, ok));
    await vi.advanceTimersByTimeAsync(999);
    expect(hung.done).toBe(false);
    expect(starts).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(signals).toHaveLength(1);
    expect(signals[0]?.aborted).toBe(true);
    expect(hung.error).toMatchObject({ code: 'HUBSPOT_UNAVAILABLE', message: 'HubSpot did not answer in time, and the card could not wait longer.' });
    await expect(next).resolves.toBe('ok');
    expect(starts).toEqual([1_000]);
  });

  it('abandons one attempt at the attempt cap and tries again within the deadline', async () => {
    const scheduler = new HubSpotScheduler({ random: () => 0 });
    const deadline = new Deadline({ budgetMs: 5_000, attemptCapMs: 1_000 }, 'the card');
    const starts: number[] = [];
    let calls = 0;
    const result = scheduler.run(1, deadline, (_report, signal) => {
      starts.push(Date.now() - T0);
      calls += 1;
      return calls === 1 ? hanging([])(undefined, signal) : ok();
    });
    await vi.advanceTimersByTimeAsync(1_000);
    // The retry's backoff (0 here) is a timer of its own.
    await vi.advanceTimersByTimeAsync(1);
    await expect(result).resolves.toBe('ok');
    expect(starts).toHaveLength(2);
    expect(starts[1]).toBeGreaterThanOrEqual(1_000);
  });

  it('gives the last attempt, and a create, everything that is left instead of the attempt cap', async () => {
    const scheduler = new HubSpotScheduler({ maxAttempts: 2, random: () => 0 });
    for (const [idempotent, attempts] of [
      [false, 1],
      [true, 2],
    ] as const) {
      const signals: AbortSignal[] = [];
      const started = Date.now();
      const result = settled(scheduler.run(1, new Deadline({ budgetMs: 5_000, attemptCapMs: 1_000 }, 'the card'), hanging(signals), { idempotent }));
      await vi.advanceTimersByTimeAsync(4_999);
      expect(result.done).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(result.error).toMatchObject({ code: 'HUBSPOT_UNAVAILABLE' });
      expect(signals).toHaveLength(attempts);
      expect(Date.now() - started).toBe(5_000);
    }
  });

  it('gives up when the backoff before the next attempt does not fit the deadline, saying the card could not wait longer', async () => {
    const scheduler = new HubSpotScheduler({ random: () => 1 });
    const call = failing([], httpError(503), httpError(503), httpError(503));
    const result = rejection(scheduler.run(1, within(600), call));
    await vi.advanceTimersByTimeAsync(600);
    expect(await result).toMatchObject({ code: 'HUBSPOT_UNAVAILABLE', message: 'HubSpot did not answer in time, and the card could not wait longer.' });
    // 250 ms, then 500 ms more would end past 600 ms.
    expect(call).toHaveBeenCalledTimes(2);
  });

  it('never starts a call whose deadline has already ended', async () => {
    const scheduler = new HubSpotScheduler();
    const deadline = within(1_000);
    await vi.advanceTimersByTimeAsync(1_000);
    const call = vi.fn(ok);
    expect(await rejection(scheduler.run(1, deadline, call))).toMatchObject({ code: 'HUBSPOT_UNAVAILABLE' });
    expect(call).not.toHaveBeenCalled();
    expect(scheduler.trackedAccounts).toBe(0);
  });

  it('stops waiting for shared work at the deadline, which goes on for whoever else waits', async () => {
    let finish = (_value: string) => {};
    const shared = new Promise<string>((resolve) => (finish = resolve));
    const early = settled(within(1_000).wait(shared, 'Renewing the HubSpot access token took too long'));
    const late = within(5_000).wait(shared, 'Renewing the HubSpot access token took too long');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(early.error).toMatchObject({
      code: 'HUBSPOT_UNAVAILABLE',
      message: 'Renewing the HubSpot access token took too long, and the card could not wait longer.',
    });
    finish('token');
    await expect(late).resolves.toBe('token');
  });
});

describe('HubSpot failures', () => {
  it('reads HubSpotHttpError, header names lower-cased', () => {
    const body = { policyName: 'TEN_SECONDLY_ROLLING' };
    expect(readHttpFailure(new HubSpotHttpError(429, { 'Retry-After': '2', 'X-HubSpot-RateLimit-Max': '110' }, body))).toEqual({
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
      const error = await rejection(scheduler.run(1, within(), call, { idempotent: false }));
      expect(error.code).toBe('HUBSPOT_UNAVAILABLE');
      expect(call).toHaveBeenCalledTimes(1);
    }
  });

  it('still retries a create that certainly was not sent (connection refused) or was refused unprocessed (429)', async () => {
    const scheduler = new HubSpotScheduler({ random: () => 0 });
    const starts: number[] = [];
    const call = failing(starts, fetchFailed('ECONNREFUSED'), httpError(429, { 'retry-after': '1' }));
    const result = scheduler.run(1, within(), call, { idempotent: false });
    await vi.runAllTimersAsync();
    expect(await result).toBe('ok');
    expect(call).toHaveBeenCalledTimes(3);
  });
});

describe('HubSpot call scheduler, with a budget shared by other instances', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A shared budget that grants `free` calls, then says when the next one could start; records what it was asked. */
  function budget(free: number, retryAfterMs = 3_000) {
    const asked: Array<{ account: string; lane: Lane; limit: WindowLimit; maxWaitMs: number }> = [];
    const shared: SharedBudget = {
      async take(account, lane, limit, maxWaitMs) {
        asked.push({ account, lane, limit, maxWaitMs });
        if (asked.length <= free) return { taken: true };
        return { taken: false, retryAfterMs };
      },
    };
    return { shared, asked };
  }

  it('takes each attempt from the shared budget, retries included, with the window HubSpot last described', async () => {
    const { shared, asked } = budget(10);
    const scheduler = new HubSpotScheduler({ budget: shared, random: () => 0 });
    const starts: number[] = [];
    await scheduler.run(7, within(), answering(starts, window(40, 2_000, 39)));
    const retried = scheduler.run(7, within(), failing(starts, httpError(502)), { lane: 'search' });
    // Only the (zero) backoff: running every timer would also run out the deadlines' own, and an account idle that long is forgotten.
    await vi.advanceTimersByTimeAsync(1_000);
    await retried;
    expect(asked).toEqual([
      { account: '7', lane: 'general', limit: { ...HUBSPOT_LIMITS.general, learned: false }, maxWaitMs: 12_000 - ATTEMPT_FLOOR_MS },
      { account: '7', lane: 'search', limit: { ...HUBSPOT_LIMITS.search, learned: false }, maxWaitMs: 12_000 - ATTEMPT_FLOOR_MS },
      { account: '7', lane: 'search', limit: { ...HUBSPOT_LIMITS.search, learned: false }, maxWaitMs: 12_000 - ATTEMPT_FLOOR_MS },
    ]);
    await scheduler.run(7, within(), ok);
    // The account's own answer said 40 per 2 s: the other instances are told the same window.
    expect(asked[3]).toMatchObject({ lane: 'general', limit: { max: 40, intervalMs: 2_000, learned: true } });
    expect(starts).toHaveLength(3);
  });

  it('asks for no longer than what is left of the call’s time limit, less the time an attempt needs', async () => {
    const { shared, asked } = budget(10);
    const scheduler = new HubSpotScheduler({ budget: shared, random: () => 1 });
    const result = scheduler.run(1, within(5_000), failing([], httpError(503)));
    await vi.runAllTimersAsync();
    await result;
    expect(asked.map((entry) => entry.maxWaitMs)).toEqual([5_000 - ATTEMPT_FLOOR_MS, 4_750 - ATTEMPT_FLOOR_MS]);
  });

  it('gives up with HUBSPOT_RATE_LIMITED, saying when to try again, when the shared budget has no room in time', async () => {
    const events: SchedulerEvent[] = [];
    let room = false;
    const shared: SharedBudget = { take: async () => (room ? { taken: true } : { taken: false, retryAfterMs: 4_200 }) };
    const scheduler = new HubSpotScheduler({ budget: shared, maxConcurrentPerLane: 1, onEvent: (event) => events.push(event) });
    const call = vi.fn(ok);
    const error = await rejection(scheduler.run(1, within(), call));
    expect(error).toMatchObject({ code: 'HUBSPOT_RATE_LIMITED', retryAfterSeconds: 5 });
    expect(call).not.toHaveBeenCalled();
    expect(events).toEqual([{ type: 'gave_up', account: '1', lane: 'general', attempt: 0, delayMs: 4_200, status: undefined }]);
    // Its place under the concurrency cap was given back: the next call starts at once.
    room = true;
    await expect(scheduler.run(1, within(), call)).resolves.toBe('ok');
  });
});
