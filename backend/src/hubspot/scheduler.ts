import { AppError } from '../errors.js';
import { isNetworkFailure, readHttpFailure } from './http-error.js';

/**
 * Every HubSpot call goes through here, per account: at most HubSpot's 110 requests in any rolling 10 s
 * ("API usage guidelines", marketplace apps), a concurrency cap, and retries with full-jitter backoff on 5xx,
 * 429 and network failures, honouring Retry-After and pausing the whole account after a 429. The total wait
 * is bounded, so a card gets a clear HUBSPOT_RATE_LIMITED / HUBSPOT_UNAVAILABLE instead of hanging.
 *
 * Hand-written because the rolling window and server-driven pauses are the point: p-queue's interval is a
 * fixed window, and Bottleneck (what the SDK uses) is unmaintained and ignores Retry-After.
 */

export type SchedulerEvent =
  | { type: 'retry'; account: string; attempt: number; delayMs: number; status: number | 'network' }
  | { type: 'rate_limited'; account: string; pauseMs: number }
  | { type: 'gave_up'; account: string; attempt: number; status: number | 'network' };

export interface SchedulerOptions {
  maxRequestsPerWindow?: number;
  windowMs?: number;
  maxConcurrentPerAccount?: number;
  /** Total tries, the first included. */
  maxAttempts?: number;
  baseBackoffMs?: number;
  /** Bound on one run(): queueing, backoff and pauses together. */
  maxTotalWaitMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  onEvent?: (event: SchedulerEvent) => void;
}

interface AccountState {
  /** Start times inside the current window, oldest first. */
  starts: number[];
  active: number;
  pausedUntil: number;
  /** FIFO of callers waiting for a slot. */
  waiting: Array<() => void>;
  pumping: boolean;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class HubSpotScheduler {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #concurrency: number;
  readonly #maxAttempts: number;
  readonly #baseBackoffMs: number;
  readonly #maxTotalWaitMs: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;
  readonly #onEvent: (event: SchedulerEvent) => void;
  readonly #accounts = new Map<string, AccountState>();
  #lastSweep = 0;

  constructor(options: SchedulerOptions = {}) {
    this.#max = options.maxRequestsPerWindow ?? 110;
    this.#windowMs = options.windowMs ?? 10_000;
    this.#concurrency = options.maxConcurrentPerAccount ?? 10;
    this.#maxAttempts = options.maxAttempts ?? 4;
    this.#baseBackoffMs = options.baseBackoffMs ?? 250;
    this.#maxTotalWaitMs = options.maxTotalWaitMs ?? 12_000;
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? defaultSleep;
    this.#random = options.random ?? Math.random;
    this.#onEvent = options.onEvent ?? (() => undefined);
  }

  /** Accounts with queued, running or recent calls; idle ones are forgotten. */
  get trackedAccounts(): number {
    return this.#accounts.size;
  }

  async run<T>(accountKey: string | number, call: () => Promise<T>): Promise<T> {
    const account = String(accountKey);
    this.#sweep();
    const deadline = this.#now() + this.#maxTotalWaitMs;
    for (let attempt = 1; ; attempt += 1) {
      await this.#acquire(account, deadline);
      let outcome: { ok: true; value: T } | { ok: false; error: unknown };
      try {
        outcome = { ok: true, value: await call() };
      } catch (error) {
        outcome = { ok: false, error };
      } finally {
        this.#release(account);
      }
      if (outcome.ok) return outcome.value;

      const failure = readHttpFailure(outcome.error);
      const status = failure?.status ?? (isNetworkFailure(outcome.error) ? 'network' : undefined);
      const retryable = status === 'network' || status === 429 || (typeof status === 'number' && status >= 500);
      if (status === undefined || !retryable) throw outcome.error;

      let delay = this.#backoff(attempt);
      if (status === 429) {
        delay = Math.max(delay, this.#rateLimitPause(failure?.headers ?? {}));
        this.#pause(account, delay);
        this.#onEvent({ type: 'rate_limited', account, pauseMs: delay });
      }
      if (attempt >= this.#maxAttempts || this.#now() + delay > deadline) {
        this.#onEvent({ type: 'gave_up', account, attempt, status });
        throw new AppError(status === 429 ? 'HUBSPOT_RATE_LIMITED' : 'HUBSPOT_UNAVAILABLE', { cause: outcome.error });
      }
      this.#onEvent({ type: 'retry', account, attempt, delayMs: delay, status });
      await this.#sleep(delay);
    }
  }

  #backoff(attempt: number): number {
    return Math.round(this.#random() * this.#baseBackoffMs * 2 ** (attempt - 1));
  }

  /** Retry-After (seconds) when HubSpot sends it, else the advertised rate-limit interval, else our window. */
  #rateLimitPause(headers: Record<string, string>): number {
    const retryAfter = Number(headers['retry-after']);
    if (Number.isFinite(retryAfter) && retryAfter >= 0 && headers['retry-after'] !== '') return retryAfter * 1000;
    const interval = Number(headers['x-hubspot-ratelimit-interval-milliseconds']);
    return Number.isFinite(interval) && interval > 0 ? interval : this.#windowMs;
  }

  /** Once per window, forget accounts with nothing queued, running, paused or inside the window. */
  #sweep(): void {
    const now = this.#now();
    if (now - this.#lastSweep < this.#windowMs) return;
    this.#lastSweep = now;
    for (const [account, state] of this.#accounts) {
      if (state.active === 0 && state.waiting.length === 0 && this.#waitTime(state) === 0 && state.starts.length === 0) {
        this.#accounts.delete(account);
      }
    }
  }

  #state(account: string): AccountState {
    let state = this.#accounts.get(account);
    if (state === undefined) {
      state = { starts: [], active: 0, pausedUntil: 0, waiting: [], pumping: false };
      this.#accounts.set(account, state);
    }
    return state;
  }

  #pause(account: string, ms: number): void {
    const state = this.#state(account);
    state.pausedUntil = Math.max(state.pausedUntil, this.#now() + ms);
  }

  /** How long until this account may start another call (0 = now). */
  #waitTime(state: AccountState): number {
    const now = this.#now();
    while (state.starts.length > 0 && (state.starts[0] ?? 0) <= now - this.#windowMs) state.starts.shift();
    const windowWait = state.starts.length >= this.#max ? (state.starts[0] ?? now) + this.#windowMs - now : 0;
    return Math.max(windowWait, state.pausedUntil - now, 0);
  }

  async #acquire(account: string, deadline: number): Promise<void> {
    const state = this.#state(account);
    await new Promise<void>((resolve) => {
      state.waiting.push(resolve);
      void this.#pump(account, state);
    });
    if (this.#now() > deadline) {
      this.#release(account);
      throw new AppError('HUBSPOT_RATE_LIMITED', { message: 'Too many HubSpot calls are queued for this account right now.' });
    }
  }

  /** Hands out slots in arrival order while the window, the pause and the concurrency cap allow. */
  async #pump(account: string, state: AccountState): Promise<void> {
    if (state.pumping) return;
    state.pumping = true;
    try {
      while (state.waiting.length > 0 && state.active < this.#concurrency) {
        const wait = this.#waitTime(state);
        if (wait > 0) {
          await this.#sleep(wait);
          continue;
        }
        const next = state.waiting.shift();
        state.active += 1;
        state.starts.push(this.#now());
        next?.();
      }
    } finally {
      state.pumping = false;
    }
  }

  #release(account: string): void {
    const state = this.#accounts.get(account);
    if (state === undefined) return;
    state.active -= 1;
    if (state.waiting.length > 0) {
      void this.#pump(account, state);
      return;
    }
    if (state.active === 0 && this.#waitTime(state) === 0 && state.starts.length === 0) this.#accounts.delete(account);
  }
}
