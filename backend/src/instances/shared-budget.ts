import type { Redis } from 'ioredis';
import type pg from 'pg';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRedis, RateLimiterRes, RLWrapperTimeouts, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Lane, SharedBudget, SharedWindow } from '../hubspot/scheduler.js';
import type { ChangeLog } from './change-feed.js';

/**
 * One HubSpot budget per account and lane for every instance of the backend, kept by rate-limiter-flexible in the
 * PostgreSQL database the instances share (RateLimiterPostgres), or in Redis when REDIS_URL is set (RateLimiterRedis).
 *
 * Why slots rather than one counter: the library's counters are fixed windows (a key counts from its first point
 * until its duration ends, then starts again), and a fixed window of HubSpot's 110 per 10 s lets up to 220 through in
 * the 10 s around its boundary. HubSpot's 429 names its window TEN_SECONDLY_ROLLING (see scheduler.ts), and a rolling
 * window is the stricter reading anyway.
 * So each account and lane has `max` slot keys of one point each, held for the window's interval, and a sequence
 * counter that numbers the calls: call n takes slot n mod max, the slot call n - max took, and so starts only once
 * call n - max has left the interval. At most `max` calls start in any interval: HubSpot's own rule, with its whole
 * burst, from two atomic library operations per call. A call waits for its slot only while the window is full (or
 * a call before it gave up without using its turn, which costs at most one turn of that slot).
 *
 * Every instance must number slots by the same window. Each learns the account's window from HubSpot's headers on its
 * own answers, and until its first answer knows only HubSpot's documented default: call n's slot under 110 slots is then
 * a slot another instance's call took moments ago under the account's real window (say 400), so it would wait a whole
 * window with the window nearly empty (the benchmark's second process failed every card view this way), and under a
 * smaller real window it could start beside the others. So an instance that learns a window writes it to the store
 * (once per change), and one that has not yet learned it reads it there (once per account and lane) and numbers by it.
 * Only a change of HubSpot's own limit leaves instances briefly numbering apart, until each has had an answer.
 *
 * A slot is held SLOT_MARGIN_MS longer than the interval: HubSpot counts a call when it arrives, we when we take the
 * slot; the margin absorbs the difference between two calls' delays in between (network, event loop) and, on
 * PostgreSQL, where the library stamps expiry with each instance's clock, the instances' clock skew.
 *
 * When the store cannot be reached or does not answer within STORE_TIMEOUT_MS (twice in a row: a dropped connection
 * is replaced at once), this instance logs that once, starts nothing for one slot's time (the calls the others made
 * before the outage are out of sight and must leave the window first), then uses the same scheme in its own memory
 * with its share of each window (max / the instances listening on the change feed, at least one slot), trying the
 * store again every STORE_RETRY_MS. Back on the store, it keeps counting its own share too for one slot's time, since
 * its calls of the outage are in no shared count. So an outage every instance sees costs a pause and a share, never an
 * excess; an instance cut off from a store the others still reach (a partial partition) can add its share to their
 * window, which HubSpot would answer 429 (the scheduler then pauses as HubSpot says). Not the library's
 * insuranceLimiter: it is handed the same key, the slot numbered from the shared sequence, so it cannot shrink the
 * window to a share nor pause first.
 */

const SLOT_MARGIN_MS = 250;
const STORE_TIMEOUT_MS = 500;
const STORE_RETRY_MS = 5_000;
/**
 * The sequence only has to outlive a window; a day keeps its resets rare. A reset numbers calls from 1 again, so a call
 * may find its slot held by a call numbered before the reset: it waits for it, never starts beside it.
 */
const SEQUENCE_SECONDS = 24 * 60 * 60;
/** The table's points column is PostgreSQL int4. */
const SEQUENCE_POINTS = 2 ** 31 - 1;
/** migrations.ts 0008: the table RateLimiterPostgres would create, made by our migrations instead. */
const BUDGET_TABLE = 'hubspot_budget';

/**
 * RateLimiterRedis's script sets expiry with EX and whole seconds (it floors the duration), which would shorten a
 * 1.25 s slot to 1 s. The same script with PX and the limiter's duration in milliseconds (ARGV[4] is its `duration`
 * in seconds, fractions kept): the library's documented customIncrTtlLuaScript hook.
 */
const INCR_TTL_MS_SCRIPT = `redis.call('set', KEYS[1], 0, 'PX', math.ceil(tonumber(ARGV[4]) * 1000), 'NX')
local consumed = redis.call('incrby', KEYS[1], ARGV[1])
local ttl = redis.call('pttl', KEYS[1])
if ttl == -1 then
  redis.call('pexpire', KEYS[1], math.ceil(tonumber(ARGV[4]) * 1000))
  ttl = math.ceil(tonumber(ARGV[4]) * 1000)
end
return {consumed, ttl}`;

export type BudgetStore = { kind: 'postgres'; pool: pg.Pool } | { kind: 'redis'; client: Redis };

export interface SharedBudgetOptions {
  store: BudgetStore;
  /**
   * Names this deployment's keys (its database and schema), so deployments or test runs sharing one Redis never share
   * a budget. Asked once, on first use; a failure counts as the store being unreachable.
   */
  keyPrefix: () => Promise<string>;
  /** How many instances share the budget, for this one's share while the store cannot be reached. */
  instances: () => number;
  log: ChangeLog;
}

type Limiter = Pick<RateLimiterAbstract, 'consume' | 'get' | 'set'>;

interface Counters {
  sequence: Limiter;
  /** The account's window as the instances learned it from HubSpot's headers: its `max`, as the key's points. */
  window: Pick<RateLimiterAbstract, 'get' | 'set'>;
  /** A slot limiter holding each slot `durationMs` (one per duration: the Redis script reads the limiter's own). */
  slot(durationMs: number): Limiter;
}

function countersOf(make: (keyPrefix: string, points: number, seconds: number) => Limiter, keyPrefix: string): Counters {
  const slots = new Map<number, Limiter>();
  return {
    sequence: make(`${keyPrefix}:seq`, SEQUENCE_POINTS, SEQUENCE_SECONDS),
    // Never expires (duration 0): a window is HubSpot's setting for the account, replaced when HubSpot announces another.
    window: make(`${keyPrefix}:window`, SEQUENCE_POINTS, 0),
    slot(durationMs) {
      let limiter = slots.get(durationMs);
      if (limiter === undefined) {
        limiter = make(`${keyPrefix}:slot`, 1, durationMs / 1000);
        slots.set(durationMs, limiter);
      }
      return limiter;
    },
  };
}

function storeLimiter(store: BudgetStore, keyPrefix: string, points: number, duration: number): Limiter {
  const limiter =
    store.kind === 'postgres'
      ? new RateLimiterPostgres({
          storeClient: store.pool,
          storeType: 'pool',
          tableName: BUDGET_TABLE,
          tableCreated: true,
          // Only the sequence's limiter sweeps expired rows (the whole table, every 5 minutes); one sweeper is enough.
          clearExpiredByTimeout: keyPrefix.endsWith(':seq'),
          keyPrefix,
          points,
          duration,
        })
      : new RateLimiterRedis({
          storeClient: store.client,
          rejectIfRedisNotReady: true,
          customIncrTtlLuaScript: INCR_TTL_MS_SCRIPT,
          keyPrefix,
          points,
          duration,
        });
  return new RLWrapperTimeouts({ limiter, timeoutMs: STORE_TIMEOUT_MS });
}

export function createSharedBudget(options: SharedBudgetOptions): SharedBudget {
  let shared: Promise<Counters> | undefined;
  const sharedCounters = () => {
    if (shared !== undefined) return shared;
    const counters = options.keyPrefix().then((prefix) => countersOf((...args) => storeLimiter(options.store, ...args), prefix));
    // A failed lookup is asked again next time rather than remembered.
    counters.catch(() => {
      if (shared === counters) shared = undefined;
    });
    shared = counters;
    return counters;
  };
  const local = countersOf((keyPrefix, points, duration) => new RateLimiterMemory({ keyPrefix, points, duration }), 'local');
  let retryStoreAt = 0;
  /** Since when the store has been unreachable (undefined: it answers), and when it last came back. */
  let degradedAt: number | undefined;
  let recoveredAt = Number.NEGATIVE_INFINITY;

  /** What this instance last learned or read of each account's window, by account and lane. */
  const windows = new Map<string, number>();
  /**
   * The number of slots to take from: the window this instance learned from HubSpot, written to the store when it is
   * news; before that, the one the store holds (read once), else HubSpot's default. A store that cannot say leaves the
   * default, as before any instance has learned anything.
   */
  async function agreedSlots(counters: Counters, account: string, lane: Lane, limit: SharedWindow): Promise<number> {
    const key = `${account}:${lane}`;
    const known = windows.get(key);
    if (limit.learned) {
      if (known !== limit.max) {
        await counters.window.set(key, limit.max, 0);
        windows.set(key, limit.max);
      }
      return limit.max;
    }
    if (known !== undefined) return known;
    const stored = (await counters.window.get(key))?.consumedPoints;
    const slots = stored !== undefined && stored > 0 ? stored : limit.max;
    windows.set(key, slots);
    return slots;
  }

  async function takeWith(counters: Counters, account: string, lane: Lane, slots: number, slotMs: number, until: number) {
    const { consumedPoints } = await counters.sequence.consume(`${account}:${lane}`);
    const key = `${account}:${lane}:${consumedPoints % slots}`;
    const slot = counters.slot(slotMs);
    for (;;) {
      try {
        await slot.consume(key);
        return { taken: true } as const;
      } catch (refusal) {
        if (!(refusal instanceof RateLimiterRes)) throw refusal;
        const waitMs = Math.max(refusal.msBeforeNext, 1);
        if (Date.now() + waitMs > until) return { taken: false, retryAfterMs: waitMs } as const;
        await sleep(waitMs);
      }
    }
  }

  return {
    async take(account, lane, limit: SharedWindow, maxWaitMs) {
      const until = Date.now() + maxWaitMs;
      // Whole seconds at least: below that RateLimiterRedis would not set an expiry at all.
      const slotMs = Math.max(limit.intervalMs + SLOT_MARGIN_MS, 1_000);
      const share = Math.max(1, Math.floor(limit.max / Math.max(1, options.instances())));
      const takeLocal = () => takeWith(local, account, lane, share, slotMs, until);
      if (Date.now() >= retryStoreAt) {
        try {
          const counters = await sharedCounters();
          // Back from an outage: the calls this instance made meanwhile are counted only here, so both must agree until
          // they have left the window.
          if (recoveredAt + slotMs > Date.now()) {
            const mine = await takeLocal();
            if (!mine.taken) return mine;
          }
          // One more try at once: a connection the server dropped is replaced by a new one, not an outage.
          const take = async () => takeWith(counters, account, lane, await agreedSlots(counters, account, lane, limit), slotMs, until);
          const result = await take().catch(take);
          if (degradedAt !== undefined) {
            degradedAt = undefined;
            recoveredAt = Date.now();
            options.log.info({}, 'shared HubSpot budget: reachable again');
          }
          return result;
        } catch (error) {
          retryStoreAt = Date.now() + STORE_RETRY_MS;
          if (degradedAt === undefined) {
            degradedAt = Date.now();
            options.log.warn(
              { err: error, instances: options.instances() },
              "shared HubSpot budget unreachable: after one window's pause, this instance paces each account with its share of HubSpot's limit until it is back",
            );
          }
        }
      }
      // What the other instances started before the outage cannot be seen from here: nothing starts until it has left
      // the window (fail safe: a pause, never an excess).
      const clearAt = (degradedAt ?? 0) + slotMs;
      const now = Date.now();
      if (clearAt > now) {
        if (clearAt > until) return { taken: false, retryAfterMs: clearAt - now };
        await sleep(clearAt - now);
      }
      return takeLocal();
    },
  };
}
