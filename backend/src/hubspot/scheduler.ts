import { AppError } from '../errors.js';
import { isNetworkFailure, readHttpFailure } from './http-error.js';

/**
 * Every HubSpot call goes through here, per account: at most HubSpot's 110 requests in any rolling 10 s
 * ("API usage guidelines", marketplace apps), a concurrency cap, and retries with full-jitter backoff on 5xx,
 * 429 and network failures, honouring Retry-After and pausing the whole account after a 429. The wait is
 * bounded, so a card gets a clear HUBSPOT_RATE_LIMITED / HUBSPOT_UNAVAILABLE instead of hanging.
 *
 * Hand-written because the rolling window and server-driven pauses are the point: p-queue's interval is a
 * fixed window, and Bottleneck (what the SDK uses, in a process-wide singleton) is unmaintained and ignores
 * Retry-After.
 */

export interface SchedulerEvent {
  /** retry: after a 5xx or network failure; rate_limited: after a 429, the account paused; gave_up: AppError thrown. */
  type: 'retry' | 'rate_limited' | 'gave_up';
  account: string;
  /** Attempts made so far (0 when giving up before the first). */
  attempt: number;
  /** The wait before the next attempt; for gave_up, the wait that did not fit the budget (0 when out of attempts). */
  delayMs: number;
  /** What the last attempt met; absent when none failed yet. */
  status?: number | 'network';
}

export interface SchedulerOptions {
  /** Calls started per account in any rolling window. */
  maxRequestsPerWindow?: number;
  windowMs?: number;
  maxConcurrentPerAccount?: number;
  /** Total tries, the first included. */
  maxAttempts?: number;
  /** Backoff before retry n is random in [0, baseBackoffMs * 2^(n-1)). */
  baseBackoffMs?: number;
  /** No attempt starts, and no wait ends, later than this after run() was called. */
  maxTotalWaitMs?: number;
  now?: () => number;
  /** May ignore the signal; it only lets timers that are no longer needed end early. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  onEvent?: (event: SchedulerEvent) => void;
}

export interface RunOptions {
  /** false for creates: sending one twice makes two records, so it is retried only when it certainly was not sent. */
  idempotent?: boolean;
}

/** Connection errors raised before a single byte of the request could leave (Node's socket error codes). */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
function neverSent(error: unknown): boolean {
  const codeOf = (value: unknown) => (typeof value === 'object' && value !== null && 'code' in value ? String(value.code) : undefined);
  const code = codeOf(error) ?? (error instanceof Error ? codeOf(error.cause) : undefined);
  return code !== undefined && NOT_SENT_CODES.has(code);
}

interface Failure {
  error: unknown;
  status: number | 'network';
  headers: Record<string, string>;
}

interface Waiter {
  deadline: number;
  start: () => void;
  /** Rejects with the AppError that fits the caller's last failure. */
  giveUp: (waitMs: number) => void;
}

interface AccountState {
  /** Start times inside the window, oldest first. */
  starts: number[];
  active: number;
  pausedUntil: number;
  /** Callers waiting for a slot, first come first served. */
  queue: Waiter[];
  /** A drain is already scheduled for when the window or the pause lets the next call start. */
  wakeScheduled: boolean;
}

const defaultSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

function classify(error: unknown): Failure | undefined {
  const failure = readHttpFailure(error);
  if (failure !== undefined) {
    return failure.status === 429 || failure.status >= 500 ? { error, status: failure.status, headers: failure.headers } : undefined;
  }
  return isNetworkFailure(error) ? { error, status: 'network', headers: {} } : undefined;
}

function giveUpError(last: Failure | undefined): AppError {
  if (last === undefined) {
    return new AppError('HUBSPOT_RATE_LIMITED', { message: 'Too many HubSpot calls are waiting for this account right now.' });
  }
  return new AppError(last.status === 429 ? 'HUBSPOT_RATE_LIMITED' : 'HUBSPOT_UNAVAILABLE', { cause: last.error });
}

function nonNegativeNumber(value: string | undefined): number | undefined {
  const parsed = value === undefined || value.trim() === '' ? Number.NaN : Number(value);
  return Number.isFinite(parsed) && parsed >= 0 ? parsed : undefined;
}

export class HubSpotScheduler {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #concurrency: number;
  readonly #maxAttempts: number;
  readonly #baseBackoffMs: number;
  readonly #maxTotalWaitMs: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly #random: () => number;
  readonly #onEvent: (event: SchedulerEvent) => void;
  readonly #accounts = new Map<string, AccountState>();
  #lastSweep: number;

  constructor(options: SchedulerOptions = {}) {
    this.#max = options.maxRequestsPerWindow ?? 110;
    this.#windowMs = options.windowMs ?? 10_000;
    this.#concurrency = options.maxConcurrentPerAccount ?? 10;
    this.#maxAttempts = options.maxAttempts ?? 4;
    this.#baseBackoffMs = options.baseBackoffMs ?? 250;
    // Below hubspot.fetch's 15 s limit, so the card shows our error rather than its own timeout.
    this.#maxTotalWaitMs = options.maxTotalWaitMs ?? 12_000;
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? defaultSleep;
    this.#random = options.random ?? Math.random;
    this.#onEvent = options.onEvent ?? (() => undefined);
    this.#lastSweep = this.#now();
  }

  /** Accounts with queued, running, paused or recent calls; idle ones are forgotten. */
  get trackedAccounts(): number {
    return this.#accounts.size;
  }

  /**
   * Runs `call` for the account when its window, pause and concurrency cap allow, retrying 5xx, 429 and network
   * failures. Other failures are rethrown unchanged; giving up throws HUBSPOT_RATE_LIMITED or HUBSPOT_UNAVAILABLE
   * with the last failure as the cause.
   */
  async run<T>(accountKey: string | number, call: () => Promise<T>, options: RunOptions = {}): Promise<T> {
    const idempotent = options.idempotent ?? true;
    const account = String(accountKey);
    this.#sweep();
    const deadline = this.#now() + this.#maxTotalWaitMs;
    let last: Failure | undefined;
    for (let attempt = 1; ; attempt += 1) {
      const state = await this.#turn(account, deadline, attempt - 1, last);
      try {
        return await call();
      } catch (error) {
        last = classify(error);
        if (last === undefined) throw error;
        // A create that may have reached HubSpot is never sent again: only a 429 (refused unprocessed) or a connection
        // that never opened proves it was not carried out.
        if (!idempotent && last.status !== 429 && !neverSent(error)) {
          this.#onEvent({ type: 'gave_up', account, attempt, delayMs: 0, status: last.status });
          throw giveUpError(last);
        }
      } finally {
        this.#release(account, state);
      }

      const now = this.#now();
      const delay = last.status === 429 ? this.#rateLimitPause(state, last.headers, attempt, now) : this.#backoff(attempt);
      if (last.status === 429) this.#pause(account, now + delay);
      if (attempt >= this.#maxAttempts || now + delay > deadline) {
        this.#onEvent({ type: 'gave_up', account, attempt, delayMs: attempt >= this.#maxAttempts ? 0 : delay, status: last.status });
        throw giveUpError(last);
      }
      if (last.status === 429) {
        // The account's pause holds the next attempt like every other call of this account.
        this.#onEvent({ type: 'rate_limited', account, attempt, delayMs: delay, status: 429 });
      } else {
        this.#onEvent({ type: 'retry', account, attempt, delayMs: delay, status: last.status });
        await this.#sleep(delay);
      }
    }
  }

  #backoff(attempt: number): number {
    return Math.round(this.#random() * this.#baseBackoffMs * 2 ** (attempt - 1));
  }

  /**
   * Retry-After (seconds) when HubSpot sends it. Otherwise HubSpot's rolling window is full and frees when the
   * oldest call we made inside its interval leaves it; other clients of the same app may have filled it too, so
   * the pause is never shorter than the backoff.
   */
  #rateLimitPause(state: AccountState, headers: Record<string, string>, attempt: number, now: number): number {
    const retryAfter = nonNegativeNumber(headers['retry-after']);
    if (retryAfter !== undefined) return Math.ceil(retryAfter * 1000);
    const interval = nonNegativeNumber(headers['x-hubspot-ratelimit-interval-milliseconds']) ?? this.#windowMs;
    const oldest = state.starts.find((start) => start > now - interval);
    return Math.max(oldest === undefined ? 0 : oldest + interval - now, this.#backoff(attempt));
  }

  #state(account: string): AccountState {
    let state = this.#accounts.get(account);
    if (state === undefined) {
      state = { starts: [], active: 0, pausedUntil: 0, queue: [], wakeScheduled: false };
      this.#accounts.set(account, state);
    }
    return state;
  }

  #pause(account: string, until: number): void {
    const state = this.#state(account);
    state.pausedUntil = Math.max(state.pausedUntil, until);
  }

  #prune(state: AccountState, now: number): void {
    while (state.starts.length > 0 && (state.starts[0] ?? now) <= now - this.#windowMs) state.starts.shift();
  }

  /** How long until the window and the pause let this account start another call (0 = now). */
  #blockedFor(state: AccountState, now: number): number {
    this.#prune(state, now);
    const windowWait = state.starts.length >= this.#max ? (state.starts[0] ?? now) + this.#windowMs - now : 0;
    return Math.max(windowWait, state.pausedUntil - now, 0);
  }

  /** Resolves with the account's state once this caller may start, or rejects when its budget cannot be met. */
  #turn(account: string, deadline: number, attempts: number, last: Failure | undefined): Promise<AccountState> {
    const state = this.#state(account);
    return new Promise<AccountState>((resolve, reject) => {
      const expiry = new AbortController();
      let settled = false;
      const enqueuedAt = this.#now();
      const waiter: Waiter = {
        deadline,
        start: () => {
          settled = true;
          expiry.abort();
          resolve(state);
        },
        giveUp: (waitMs) => {
          settled = true;
          expiry.abort();
          this.#onEvent({ type: 'gave_up', account, attempt: attempts, delayMs: waitMs, status: last?.status });
          reject(giveUpError(last));
        },
      };
      state.queue.push(waiter);
      this.#drain(account, state);
      if (settled) return;
      // Held by the concurrency cap, whose end nobody can predict: give up when the budget runs out.
      void this.#sleep(Math.max(deadline - enqueuedAt, 0), expiry.signal).then(() => {
        if (settled) return;
        state.queue.splice(state.queue.indexOf(waiter), 1);
        waiter.giveUp(this.#now() - enqueuedAt);
        this.#forgetIfIdle(account, state);
      });
    });
  }

  /** Starts waiting callers in arrival order while the window, the pause and the concurrency cap allow. */
  #drain(account: string, state: AccountState): void {
    while (state.queue.length > 0 && state.active < this.#concurrency) {
      const now = this.#now();
      const wait = this.#blockedFor(state, now);
      if (wait > 0) {
        // Nobody starts before now + wait, so whoever's budget ends sooner gives up now rather than after waiting.
        const hopeless = state.queue.filter((waiter) => waiter.deadline < now + wait);
        state.queue = state.queue.filter((waiter) => waiter.deadline >= now + wait);
        for (const waiter of hopeless) waiter.giveUp(wait);
        if (state.queue.length > 0) this.#wakeAfter(account, state, wait);
        else this.#forgetIfIdle(account, state);
        return;
      }
      const next = state.queue.shift();
      if (next === undefined) return;
      state.active += 1;
      state.starts.push(now);
      next.start();
    }
  }

  /** The time an account may next start a call only ever moves later, so one scheduled drain at a time is enough. */
  #wakeAfter(account: string, state: AccountState, ms: number): void {
    if (state.wakeScheduled) return;
    state.wakeScheduled = true;
    void this.#sleep(ms).then(() => {
      state.wakeScheduled = false;
      this.#drain(account, state);
    });
  }

  #release(account: string, state: AccountState): void {
    state.active -= 1;
    this.#drain(account, state);
    this.#forgetIfIdle(account, state);
  }

  #forgetIfIdle(account: string, state: AccountState): void {
    const now = this.#now();
    this.#prune(state, now);
    if (state.active > 0 || state.queue.length > 0 || state.starts.length > 0 || state.pausedUntil > now) return;
    if (this.#accounts.get(account) === state) this.#accounts.delete(account);
  }

  /** Once per window, forget accounts with nothing queued, running, paused or inside the window. */
  #sweep(): void {
    const now = this.#now();
    if (now - this.#lastSweep < this.#windowMs) return;
    this.#lastSweep = now;
    for (const [account, state] of this.#accounts) this.#forgetIfIdle(account, state);
  }
}
