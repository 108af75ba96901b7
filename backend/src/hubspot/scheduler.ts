import { AppError } from '../errors.js';
import { ATTEMPT_FLOOR_MS, type Deadline } from './deadline.js';
import { isNetworkFailure, neverSent, readHttpFailure } from './http-error.js';
import { readErrorBody } from './schemas.js';

/**
 * Every HubSpot call goes through here, per account, in the lane of the limit it counts against: a rolling window
 * paced from what HubSpot says (below), a concurrency cap, a fair share per user, and retries with full-jitter
 * backoff on 5xx, 429 and network failures, honouring Retry-After and pausing the lane HubSpot's 429 names. Every
 * call runs within its caller's Deadline (deadline.ts): waits end there and attempts are aborted there, so a card gets
 * a clear HUBSPOT_RATE_LIMITED (with when to try again) or HUBSPOT_UNAVAILABLE instead of hanging, and a call given up
 * frees its slot at once.
 *
 * Pacing from HubSpot's headers ("API usage guidelines and limits", the table of headers "included in the response
 * of each API request", https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines):
 * X-HubSpot-RateLimit-Max is "the number of requests allowed in the window specified in
 * X-HubSpot-RateLimit-Interval-Milliseconds" and X-HubSpot-RateLimit-Remaining "the number of API requests still
 * allowed for the window". HubSpot asks apps to pace from them "so you can automatically take advantage of future
 * increases" (developer changelog, "Burst limits are increasing for API key authenticated calls"). Max and Interval
 * replace the lane's numbers; Remaining caps what we start until everything HubSpot had counted has left its window
 * (see `headroom`). The headers "will not be present" when HubSpot fails to gather them (changelog 2018-11-06), so
 * the last numbers we know, or the documented ones, stay in force.
 *
 * Fairness: the last `reservedShare` of each window is kept for users who made fewer calls than that share in it, so
 * one user's burst (40 list views at once) leaves room for everyone else's card; waiting callers are served
 * round-robin per user.
 *
 * Hand-written because the rolling window and server-driven pauses are the point: p-queue's interval is a fixed
 * window, and Bottleneck (what the SDK uses, in a process-wide singleton) is unmaintained and ignores Retry-After.
 */

/** Which of HubSpot's limits a call counts against. */
export type Lane = 'general' | 'search';

/**
 * HubSpot's documented limits, where each lane starts.
 * - general: "For legacy public apps, and apps on the latest versions of the developer platform (2025.2 and 2026.03)
 *   using OAuth authentication distributed via the HubSpot marketplace, each HubSpot account that installs your app
 *   is limited to 110 requests every 10 seconds. This excludes the CRM Search API." (usage guidelines, above). The
 *   account's answers then say the real numbers.
 * - search: "The search endpoints are rate limited to five requests per second per account." (CRM search guide,
 *   https://developers.hubspot.com/docs/api-reference/latest/crm/search-the-crm; earlier "four requests per second
 *   per authentication token", changelog "CRM Search API Rate Limit Increase"). "Responses from the search API
 *   endpoints will not include any of the rate limit headers" (usage guidelines), so this lane keeps these numbers.
 */
export const HUBSPOT_LIMITS: Readonly<Record<Lane, WindowLimit>> = {
  general: { max: 110, intervalMs: 10_000 },
  search: { max: 5, intervalMs: 1_000 },
};

/**
 * Calls in flight per account and lane, by default. HubSpot documents no such limit for the API; ours matches what the
 * cards of one account can ask of us at once (hubspot.fetch runs at most 20 requests per account at a time,
 * shared/DESIGN.md), so a card's one call never queues behind our own cap while the window (above) has room.
 */
export const CONCURRENT_CALLS_PER_LANE = 20;

export interface WindowLimit {
  max: number;
  intervalMs: number;
}

export interface SchedulerEvent {
  /** retry: after a 5xx or network failure; rate_limited: after a 429, the lane paused; gave_up: AppError thrown. */
  type: 'retry' | 'rate_limited' | 'gave_up';
  account: string;
  lane: Lane;
  /** Attempts made so far (0 when giving up before the first). */
  attempt: number;
  /** The wait before the next attempt; for gave_up, the wait that did not fit the deadline (0 when out of attempts). */
  delayMs: number;
  /** What the last attempt met; absent when none failed yet. */
  status?: number | 'network';
}

/**
 * The account's HubSpot budget as every instance of the backend sees it, consulted just before an attempt starts. This
 * scheduler keeps one process inside the account's limits; HubSpot counts every process of the app together, so with
 * several instances each attempt also takes its place in a budget they share. Implemented outside hubspot/ (the store it
 * lives in is not HubSpot's business); absent on SQLite, which serves from one process.
 */
export interface SharedBudget {
  /**
   * Takes one call of the account's lane, as the window `limit` (this process's best knowledge of it) allows across
   * every instance, waiting at most `maxWaitMs`. When it cannot within that, nothing is taken and the answer says how
   * long until it could.
   */
  take(account: string, lane: Lane, limit: SharedWindow, maxWaitMs: number): Promise<{ taken: true } | { taken: false; retryAfterMs: number }>;
}

/** A lane's window as this process knows it; `learned` false: HubSpot's documented default, no header of HubSpot's seen yet. */
export interface SharedWindow extends WindowLimit {
  learned: boolean;
}

/** One attempt at one call, as it ended: for metrics. */
export interface AttemptRecord {
  account: string;
  lane: Lane;
  /** The caller's CallOwner.endpoint, or "other". */
  endpoint: string;
  /** ok: answered 2xx; HubSpot's status otherwise; timeout: cut at its limit; network: no answer; error: anything else. */
  status: 'ok' | number | 'timeout' | 'network' | 'error';
  /** From the attempt's start (after its place in the shared budget) to its end, on the scheduler's clock. */
  durationMs: number;
}

/** What one account's lane allows now: for metrics. */
export interface BudgetReading {
  account: string;
  lane: Lane;
  /** Calls per window, as HubSpot last said (or as documented). */
  limit: number;
  /** Calls the lane may start now: the window's room, within HubSpot's own count of what is left. */
  remaining: number;
}

export interface SchedulerOptions {
  /** Each lane's window until HubSpot's headers say otherwise; HUBSPOT_LIMITS by default. */
  limits?: Partial<Record<Lane, WindowLimit>>;
  /** Calls in flight per account and lane; CONCURRENT_CALLS_PER_LANE by default. */
  maxConcurrentPerLane?: number;
  /** The share of each window only users who made fewer calls than it in the window may use (0 = no fairness). */
  reservedShare?: number;
  /** Total tries, the first included. */
  maxAttempts?: number;
  /** Backoff before retry n is random in [0, baseBackoffMs * 2^(n-1)). */
  baseBackoffMs?: number;
  now?: () => number;
  /** May ignore the signal; it only lets timers that are no longer needed end early. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  onEvent?: (event: SchedulerEvent) => void;
  /** Told of every attempt once it has ended. */
  onAttempt?: (attempt: AttemptRecord) => void;
  /** Shared with the other instances; none when this process is the only one. */
  budget?: SharedBudget;
}

/** Who a call is for (its user's fair share, and the lane of the HubSpot limit it counts against), and whether it may be sent twice. */
export interface CallOwner {
  user?: string | number;
  lane?: Lane;
  /** false for creates: sending one twice makes two records, so it is retried only when it certainly was not sent. */
  idempotent?: boolean;
  /** What is called, as a metrics label without ids (`GET /crm/objects/2026-03/tickets/{id}`). */
  endpoint?: string;
  /**
   * The most of each window this owner's `user` may hold, as a share of the lane's max (at least one call): background
   * work such as calibration takes its share and leaves the rest to cards, however long it has to wait.
   */
  share?: number;
}

interface Failure {
  error: unknown;
  status: number | 'network';
  headers: Record<string, string>;
  body: unknown;
}

/**
 * A call in a lane's window. HubSpot counts a call when it arrives, somewhere between our start and its answer, after
 * delays (our event loop, the network) that vary; so a call counts from its start until HubSpot's interval after its
 * answer, by when it has surely left HubSpot's window, however long it took to get there.
 */
interface WindowEntry {
  user: string;
  /** Infinity while in flight. */
  answeredAt: number;
}

/**
 * A lane's calls still in its window: those in flight, and those answered less than the lane's interval ago, in the
 * order they were answered (on a clock that does not go back, the order in which they leave). Starting, answering and
 * forgetting a call, and a user's count, cost the same however full the window is: HubSpot's own limit (110 per 10 s)
 * keeps it small, but an account with a higher limit must not pay for it on every call.
 */
class CallWindow {
  #inFlight = 0;
  readonly #answered: WindowEntry[] = [];
  /** Where the calls still in the window begin in #answered; the ones before it have left. */
  #head = 0;
  readonly #perUser = new Map<string, number>();

  get size(): number {
    return this.#inFlight + this.#answered.length - this.#head;
  }

  usedBy(user: string): number {
    return this.#perUser.get(user) ?? 0;
  }

  start(user: string): WindowEntry {
    this.#inFlight += 1;
    this.#perUser.set(user, this.usedBy(user) + 1);
    return { user, answeredAt: Number.POSITIVE_INFINITY };
  }

  answer(entry: WindowEntry, now: number): void {
    entry.answeredAt = now;
    this.#inFlight -= 1;
    this.#answered.push(entry);
  }

  /** Forgets the calls that left by `now` (a call leaves `intervalMs` after its answer). */
  prune(now: number, intervalMs: number): void {
    for (let entry = this.#answered[this.#head]; entry !== undefined && entry.answeredAt + intervalMs <= now; entry = this.#answered[this.#head]) {
      this.#head += 1;
      const left = this.usedBy(entry.user) - 1;
      if (left > 0) this.#perUser.set(entry.user, left);
      else this.#perUser.delete(entry.user);
    }
    if (this.#head > 64 && this.#head * 2 > this.#answered.length) {
      this.#answered.splice(0, this.#head);
      this.#head = 0;
    }
  }

  /** When the call that leaves `n`-th (from 0) does; a call in flight leaves no sooner than an interval from `now`. */
  leaves(n: number, now: number, intervalMs: number): number {
    const answered = this.#answered[this.#head + n];
    if (answered !== undefined) return Math.min(answered.answeredAt, now) + intervalMs;
    return n < this.size ? now + intervalMs : now;
  }

  /** When the first answered call leaves; undefined when none is answered (calls in flight stay until answered). */
  nextToLeave(intervalMs: number): number | undefined {
    const first = this.#answered[this.#head];
    return first === undefined ? undefined : first.answeredAt + intervalMs;
  }
}

/** One started attempt: numbered in its lane, with how many calls of the lane were in flight when it started. */
interface Attempt {
  lane: LaneState;
  entry: WindowEntry;
  seq: number;
  activeAtStart: number;
}

interface Waiter {
  /** When its caller's deadline ends, on the scheduler's clock. */
  endsAt: number;
  start: (attempt: Attempt) => void;
  /** Rejects with the AppError that fits the caller's last failure. */
  giveUp: (waitMs: number, retryAfterMs: number) => void;
}

interface LaneState {
  readonly name: Lane;
  max: number;
  /** `max` came from HubSpot's X-HubSpot-RateLimit-Max, not HUBSPOT_LIMITS. */
  learned: boolean;
  intervalMs: number;
  /** Our calls still in the window. */
  window: CallWindow;
  /** Attempts started in this lane so far; numbers them. */
  startedTotal: number;
  active: number;
  pausedUntil: number;
  /**
   * HubSpot's X-HubSpot-RateLimit-Remaining, made safe to act on: at most `left` more calls after the attempt
   * numbered `afterSeq`, until `until`, when every call HubSpot had counted has left its window. HubSpot had counted
   * everything but calls started after that attempt and calls still in flight when it started, so `left` is Remaining
   * minus the latter; the former are subtracted as they start. Any one answer gives a safe bound, so out-of-order
   * answers cannot loosen it.
   */
  headroom: { left: number; afterSeq: number; until: number } | undefined;
  /** Waiting callers per user; the Map's order is the round-robin rotation. */
  queues: Map<string, Waiter[]>;
  /** Users held to a share of the window (CallOwner.share), by user. */
  shares: Map<string, number>;
  /** When a drain is already scheduled (0: none). */
  wakeAt: number;
}

interface AccountState {
  lanes: Record<Lane, LaneState>;
}

/** HubSpot's daily limit resets at midnight in the account's time zone, which we do not know: try again each minute. */
const DAILY_LIMIT_PAUSE_MS = 60_000;

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
    return failure.status === 429 || failure.status >= 500 ? { error, status: failure.status, headers: failure.headers, body: failure.body } : undefined;
  }
  return isNetworkFailure(error) ? { error, status: 'network', headers: {}, body: undefined } : undefined;
}

/** HUBSPOT_UNAVAILABLE when the deadline ended before HubSpot answered. */
function tooLate(deadline: Deadline, cause?: unknown): AppError {
  return new AppError('HUBSPOT_UNAVAILABLE', { message: `HubSpot did not answer in time, and ${deadline.waiter} could not wait longer.`, cause });
}

/** HUBSPOT_RATE_LIMITED for a call whose deadline ended while it waited in line, saying when to try again. */
function waitedTooLong(deadline: Deadline, retryAfterMs: number): AppError {
  return new AppError('HUBSPOT_RATE_LIMITED', {
    message: `Too many HubSpot calls are waiting for this account right now, and ${deadline.waiter} could not wait longer.`,
    retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)),
  });
}

/**
 * The error for a call given up after `last` failed. `late`: the caller's deadline is why (the wait did not fit in
 * it, or it cut the attempt short), and the message says so; otherwise the attempts ran out.
 */
function giveUpError(last: Failure, retryAfterMs: number, late: Deadline | undefined): AppError {
  if (last.status !== 429) return late === undefined ? new AppError('HUBSPOT_UNAVAILABLE', { cause: last.error }) : tooLate(late, last.error);
  return new AppError('HUBSPOT_RATE_LIMITED', {
    cause: last.error,
    retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)),
    ...(late === undefined ? {} : { message: `HubSpot asked us to slow down for this account for longer than ${late.waiter} can wait.` }),
  });
}

function attemptStatus(error: unknown): AttemptRecord['status'] {
  const failure = readHttpFailure(error);
  if (failure !== undefined) return failure.status;
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return 'timeout';
  return isNetworkFailure(error) ? 'network' : 'error';
}

function nonNegativeNumber(value: string | undefined): number | undefined {
  const parsed = value === undefined || value.trim() === '' ? Number.NaN : Number(value);
  return Number.isFinite(parsed) && parsed >= 0 ? parsed : undefined;
}

function positiveInteger(value: string | undefined): number | undefined {
  const parsed = nonNegativeNumber(value);
  return parsed !== undefined && Number.isInteger(parsed) && parsed > 0 ? parsed : undefined;
}

export class HubSpotScheduler {
  readonly #limits: Record<Lane, WindowLimit>;
  readonly #concurrency: number;
  readonly #reservedShare: number;
  readonly #maxAttempts: number;
  readonly #baseBackoffMs: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly #random: () => number;
  readonly #onEvent: (event: SchedulerEvent) => void;
  readonly #onAttempt: (attempt: AttemptRecord) => void;
  readonly #budget: SharedBudget | undefined;
  readonly #accounts = new Map<string, AccountState>();
  #lastSweep: number;

  constructor(options: SchedulerOptions = {}) {
    this.#limits = { ...HUBSPOT_LIMITS, ...options.limits };
    this.#concurrency = options.maxConcurrentPerLane ?? CONCURRENT_CALLS_PER_LANE;
    this.#reservedShare = options.reservedShare ?? 0.2;
    this.#maxAttempts = options.maxAttempts ?? 4;
    this.#baseBackoffMs = options.baseBackoffMs ?? 250;
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? defaultSleep;
    this.#random = options.random ?? Math.random;
    this.#onEvent = options.onEvent ?? (() => undefined);
    this.#onAttempt = options.onAttempt ?? (() => undefined);
    this.#budget = options.budget;
    this.#lastSweep = this.#now();
  }

  /** Accounts with queued, running, paused or recent calls; idle ones are forgotten. */
  get trackedAccounts(): number {
    return this.#accounts.size;
  }

  /** Each tracked account's lanes as they stand now (idle accounts are not tracked: their whole window is free). */
  budgets(): BudgetReading[] {
    const now = this.#now();
    return [...this.#accounts].flatMap(([account, state]) =>
      Object.values(state.lanes).map((lane) => {
        this.#prune(lane, now);
        return { account, lane: lane.name, limit: lane.max, remaining: Math.max(0, Math.min(lane.max, this.#free(lane))) };
      }),
    );
  }

  /**
   * Runs `call` for the account when its lane's window, HubSpot's remaining count, pause, concurrency cap and the
   * user's fair share allow, retrying 5xx, 429 and network failures, all within `deadline`. `call` gets the attempt's
   * signal (it fires at the attempt's limit: deadline.ts) and hands `report` the headers (names lower-cased) of
   * HubSpot's answer; a failure's headers are read from the failure. An attempt still running when its signal fires
   * is abandoned, and its slot freed, even if `call` ignores the signal. Other failures are rethrown unchanged; giving
   * up throws HUBSPOT_RATE_LIMITED (with retryAfterSeconds) or HUBSPOT_UNAVAILABLE with the last failure as the cause.
   * The whole run counts as HubSpot's time on the deadline (Deadline.hubspotMs).
   */
  run<T>(
    accountKey: string | number,
    deadline: Deadline,
    call: (report: (headers: Record<string, string>) => void, signal: AbortSignal) => Promise<T>,
    owner: CallOwner = {},
  ): Promise<T> {
    return deadline.hubspot(this.#run(accountKey, deadline, call, owner));
  }

  async #run<T>(
    accountKey: string | number,
    deadline: Deadline,
    call: (report: (headers: Record<string, string>) => void, signal: AbortSignal) => Promise<T>,
    owner: CallOwner,
  ): Promise<T> {
    const idempotent = owner.idempotent ?? true;
    const account = String(accountKey);
    const lane = owner.lane ?? 'general';
    const user = owner.user === undefined ? '' : String(owner.user);
    this.#sweep();
    const endsAt = this.#now() + deadline.remainingMs();
    let last: Failure | undefined;
    for (let attempt = 1; ; attempt += 1) {
      const started = await this.#turn(account, lane, user, owner.share, deadline, endsAt, attempt - 1, last);
      const limit = deadline.attempt(idempotent && attempt < this.#maxAttempts);
      let pauseMs = 0;
      try {
        await this.#takeShared(account, started, deadline, endsAt, attempt, last);
        return await this.#measured(limit.guard(call((headers) => this.#observe(started, headers), limit.signal)), account, lane, owner.endpoint);
      } catch (error) {
        // A refusal is an answer too, with the same headers.
        this.#observe(started, readHttpFailure(error)?.headers ?? {});
        last = classify(error);
        if (last === undefined) throw error;
        // Before this call's slot is released, so nobody waiting starts into the pause.
        if (last.status === 429) pauseMs = this.#rateLimited(account, started, last, attempt);
        // A create that may have reached HubSpot is never sent again: only a 429 (refused unprocessed) or a connection
        // that never opened proves it was not carried out.
        if (!idempotent && last.status !== 429 && !neverSent(error)) {
          this.#onEvent({ type: 'gave_up', account, lane, attempt, delayMs: 0, status: last.status });
          throw giveUpError(last, 0, deadline.expired ? deadline : undefined);
        }
      } finally {
        limit.end();
        this.#release(account, started);
      }

      const now = this.#now();
      const delay = last.status === 429 ? pauseMs : this.#backoff(attempt);
      const lastAttempt = attempt >= this.#maxAttempts;
      if (deadline.expired || (!lastAttempt && now + delay >= endsAt)) {
        this.#onEvent({ type: 'gave_up', account, lane, attempt, delayMs: delay, status: last.status });
        throw giveUpError(last, delay, deadline);
      }
      if (lastAttempt) {
        this.#onEvent({ type: 'gave_up', account, lane, attempt, delayMs: 0, status: last.status });
        throw giveUpError(last, delay, undefined);
      }
      if (last.status === 429) {
        // The lane's pause holds the next attempt like every other call of this lane.
        this.#onEvent({ type: 'rate_limited', account, lane, attempt, delayMs: delay, status: 429 });
      } else {
        this.#onEvent({ type: 'retry', account, lane, attempt, delayMs: delay, status: last.status });
        await this.#sleep(delay, deadline.signal);
      }
    }
  }

  /**
   * The attempt's place in the budget every instance shares, within the call's time limit; HUBSPOT_RATE_LIMITED (with
   * when to try again) when it does not fit. The attempt keeps its local slot meanwhile, so what this process counts
   * stays on the safe side.
   */
  async #takeShared(account: string, attempt: Attempt, deadline: Deadline, endsAt: number, tries: number, last: Failure | undefined): Promise<void> {
    if (this.#budget === undefined) return;
    const lane = attempt.lane;
    const shared = await this.#budget.take(
      account,
      lane.name,
      { max: lane.max, intervalMs: lane.intervalMs, learned: lane.learned },
      Math.max(endsAt - this.#now() - ATTEMPT_FLOOR_MS, 0),
    );
    if (shared.taken) return;
    this.#onEvent({ type: 'gave_up', account, lane: lane.name, attempt: tries - 1, delayMs: shared.retryAfterMs, status: last?.status });
    throw last === undefined ? waitedTooLong(deadline, shared.retryAfterMs) : giveUpError(last, shared.retryAfterMs, deadline);
  }

  /** Reports the attempt once it ends, and settles as it does. */
  async #measured<T>(attempt: Promise<T>, account: string, lane: Lane, endpoint = 'other'): Promise<T> {
    const startedAt = this.#now();
    const report = (status: AttemptRecord['status']) => this.#onAttempt({ account, lane, endpoint, status, durationMs: this.#now() - startedAt });
    try {
      const answer = await attempt;
      report('ok');
      return answer;
    } catch (error) {
      report(attemptStatus(error));
      throw error;
    }
  }

  #backoff(attempt: number): number {
    return Math.round(this.#random() * this.#baseBackoffMs * 2 ** (attempt - 1));
  }

  /** What one of HubSpot's answers says about the general window: its size, and how much of it is left. */
  #observe(attempt: Attempt, headers: Record<string, string>): void {
    const lane = attempt.lane;
    // A search answer's headers, were HubSpot to send any, would not say which limit they describe.
    if (lane.name !== 'general') return;
    const max = positiveInteger(headers['x-hubspot-ratelimit-max']);
    const intervalMs = positiveInteger(headers['x-hubspot-ratelimit-interval-milliseconds']);
    const remaining = nonNegativeNumber(headers['x-hubspot-ratelimit-remaining']);
    if (max !== undefined) {
      lane.max = max;
      lane.learned = true;
    }
    if (intervalMs !== undefined) lane.intervalMs = intervalMs;
    if (remaining === undefined) return;
    const now = this.#now();
    if (lane.headroom !== undefined && lane.headroom.until > now && lane.headroom.afterSeq > attempt.seq) return;
    lane.headroom = { left: Math.floor(remaining) - attempt.activeAtStart, afterSeq: attempt.seq, until: now + lane.intervalMs };
  }

  /**
   * After a 429: pauses the lanes HubSpot's policyName points at ("The message and policyName will indicate which
   * limit you hit", usage guidelines; TEN_SECONDLY_ROLLING is the 10-second window, DAILY the daily one) and the
   * caller's own lane, and returns the pause. Retry-After (seconds), when HubSpot sends it, is HubSpot's own word on
   * when to try again. Otherwise the window is full and frees when the oldest call we made inside it leaves it; other
   * clients of the same app may have filled it too, so the pause is never shorter than the backoff.
   */
  #rateLimited(account: string, attempt: Attempt, failure: Failure, tries: number): number {
    const state = this.#state(account);
    const policy = readErrorBody(failure.body).policyName;
    const windowLane = policy === 'TEN_SECONDLY_ROLLING' ? state.lanes.general : attempt.lane;
    const paused = policy === 'DAILY' ? Object.values(state.lanes) : [attempt.lane, windowLane];
    const now = this.#now();
    const retryAfter = nonNegativeNumber(failure.headers['retry-after']);
    let pauseMs: number;
    if (retryAfter !== undefined) {
      pauseMs = Math.ceil(retryAfter * 1000);
    } else {
      this.#prune(windowLane, now);
      // Calls in flight, this one included, leave no sooner than an interval from now.
      const firstToLeave = windowLane.window.size === 0 ? Number.POSITIVE_INFINITY : windowLane.window.leaves(0, now, windowLane.intervalMs);
      pauseMs = Math.max(Number.isFinite(firstToLeave) ? firstToLeave - now : 0, this.#backoff(tries));
      if (policy === 'DAILY') pauseMs = Math.max(pauseMs, DAILY_LIMIT_PAUSE_MS);
    }
    for (const lane of paused) {
      lane.pausedUntil = Math.max(lane.pausedUntil, now + pauseMs);
      // The pause is HubSpot's word on when calls may start again; the count it came with is older news.
      if (retryAfter !== undefined) lane.headroom = undefined;
    }
    return pauseMs;
  }

  #state(account: string): AccountState {
    let state = this.#accounts.get(account);
    if (state === undefined) {
      const lane = (name: Lane): LaneState => ({
        name,
        ...this.#limits[name],
        learned: false,
        window: new CallWindow(),
        startedTotal: 0,
        active: 0,
        pausedUntil: 0,
        headroom: undefined,
        queues: new Map(),
        shares: new Map(),
        wakeAt: 0,
      });
      state = { lanes: { general: lane('general'), search: lane('search') } };
      this.#accounts.set(account, state);
    }
    return state;
  }

  #prune(lane: LaneState, now: number): void {
    lane.window.prune(now, lane.intervalMs);
    if (lane.headroom !== undefined && lane.headroom.until <= now) lane.headroom = undefined;
  }

  /** Calls the lane may start now by its window and by HubSpot's count (pruned first). */
  #free(lane: LaneState): number {
    const byHubSpot = lane.headroom === undefined ? Number.POSITIVE_INFINITY : lane.headroom.left - (lane.startedTotal - lane.headroom.afterSeq);
    return Math.min(lane.max - lane.window.size, byHubSpot);
  }

  /**
   * A user who made fewer calls than the reserve in the window may use it; others must leave it free. A user held to a
   * share waits while its calls in the window fill that share.
   */
  #mayStart(lane: LaneState, user: string): boolean {
    const share = lane.shares.get(user);
    if (share !== undefined && lane.window.usedBy(user) >= Math.max(1, Math.floor(lane.max * share))) return false;
    const reserve = Math.floor(lane.max * this.#reservedShare);
    return this.#free(lane) > (lane.window.usedBy(user) < reserve ? 0 : reserve);
  }

  /** How long until anyone at all may start a call in the lane (0 = now; pruned first): a lower bound for every waiter. */
  #blockedFor(lane: LaneState, now: number): number {
    const excess = lane.window.size - lane.max;
    const windowWait = excess < 0 ? 0 : lane.window.leaves(excess, now, lane.intervalMs) - now;
    const hubspotWait = lane.headroom !== undefined && this.#free(lane) <= 0 ? lane.headroom.until - now : 0;
    return Math.max(windowWait, hubspotWait, lane.pausedUntil - now, 0);
  }

  /** The next time the lane's window, pause or HubSpot's count changes by itself (pruned first); answers drain anyway. */
  #nextChange(lane: LaneState, now: number): number | undefined {
    const times = [lane.window.nextToLeave(lane.intervalMs) ?? 0, lane.pausedUntil, lane.headroom?.until ?? 0];
    const future = times.filter((time) => time > now);
    return future.length === 0 ? undefined : Math.min(...future);
  }

  /** Resolves with the attempt once this caller may start, or rejects when its deadline cannot be met. */
  #turn(
    account: string,
    laneName: Lane,
    user: string,
    share: number | undefined,
    deadline: Deadline,
    endsAt: number,
    attempts: number,
    last: Failure | undefined,
  ): Promise<Attempt> {
    const state = this.#state(account);
    const lane = state.lanes[laneName];
    if (share !== undefined) lane.shares.set(user, share);
    const enqueuedAt = this.#now();
    if (!deadline.expired && lane.queues.size === 0 && lane.active < this.#concurrency && lane.pausedUntil <= enqueuedAt) {
      // Nobody is waiting: whether this caller may start now is all the drain below would decide.
      this.#prune(lane, enqueuedAt);
      if (this.#mayStart(lane, user)) return Promise.resolve(this.#start(lane, user));
    }
    return new Promise<Attempt>((resolve, reject) => {
      if (deadline.expired) {
        // Earlier calls of the same request used the whole deadline up: waiting on the account's pacing, if the lane is
        // still held back (then the card is told when to try again), else on HubSpot's answers.
        this.#prune(lane, enqueuedAt);
        this.#onEvent({ type: 'gave_up', account, lane: laneName, attempt: attempts, delayMs: 0, status: last?.status });
        const blockedMs = this.#blockedFor(lane, enqueuedAt);
        if (last !== undefined) reject(giveUpError(last, blockedMs, deadline));
        else reject(blockedMs > 0 ? waitedTooLong(deadline, blockedMs) : tooLate(deadline));
        this.#forgetIfIdle(account);
        return;
      }
      // Held by the concurrency cap or the fair share, whose end nobody can predict: give up when the deadline ends.
      const onDeadline = () => {
        const queue = (lane.queues.get(user) ?? []).filter((candidate) => candidate !== waiter);
        if (queue.length > 0) lane.queues.set(user, queue);
        else lane.queues.delete(user);
        const now = this.#now();
        this.#prune(lane, now);
        waiter.giveUp(now - enqueuedAt, this.#blockedFor(lane, now));
        this.#forgetIfIdle(account);
      };
      const waiter: Waiter = {
        endsAt,
        start: (attempt) => {
          deadline.signal.removeEventListener('abort', onDeadline);
          resolve(attempt);
        },
        giveUp: (waitMs, retryAfterMs) => {
          deadline.signal.removeEventListener('abort', onDeadline);
          this.#onEvent({ type: 'gave_up', account, lane: laneName, attempt: attempts, delayMs: waitMs, status: last?.status });
          reject(last === undefined ? waitedTooLong(deadline, retryAfterMs) : giveUpError(last, retryAfterMs, deadline));
        },
      };
      deadline.signal.addEventListener('abort', onDeadline, { once: true });
      lane.queues.set(user, [...(lane.queues.get(user) ?? []), waiter]);
      this.#drain(account, lane);
    });
  }

  /** Takes the lane's next slot for `user`. */
  #start(lane: LaneState, user: string): Attempt {
    lane.startedTotal += 1;
    const attempt: Attempt = { lane, entry: lane.window.start(user), seq: lane.startedTotal, activeAtStart: lane.active };
    lane.active += 1;
    return attempt;
  }

  /** Starts waiting callers, one per user in turn, while the lane's limits, cap and fair shares allow. */
  #drain(account: string, lane: LaneState): void {
    while (lane.queues.size > 0 && lane.active < this.#concurrency) {
      const now = this.#now();
      this.#prune(lane, now);
      const user = lane.pausedUntil > now ? undefined : [...lane.queues.keys()].find((candidate) => this.#mayStart(lane, candidate));
      const queue = user === undefined ? undefined : lane.queues.get(user);
      const next = queue?.shift();
      if (user === undefined || queue === undefined || next === undefined) {
        this.#whileBlocked(account, lane, now);
        return;
      }
      // To the end of the rotation.
      lane.queues.delete(user);
      if (queue.length > 0) lane.queues.set(user, queue);
      next.start(this.#start(lane, user));
    }
    this.#forgetIfIdle(account);
  }

  /** Nobody may start now: whoever's deadline ends before anyone could start gives up now; the rest wait for the next change. */
  #whileBlocked(account: string, lane: LaneState, now: number): void {
    const wait = this.#blockedFor(lane, now);
    if (wait > 0) {
      for (const [user, queue] of lane.queues) {
        const hopeless = queue.filter((waiter) => waiter.endsAt < now + wait);
        if (hopeless.length === 0) continue;
        const rest = queue.filter((waiter) => waiter.endsAt >= now + wait);
        if (rest.length > 0) lane.queues.set(user, rest);
        else lane.queues.delete(user);
        for (const waiter of hopeless) waiter.giveUp(wait, wait);
      }
    }
    const at = this.#nextChange(lane, now);
    if (lane.queues.size === 0 || at === undefined) {
      this.#forgetIfIdle(account);
      return;
    }
    if (lane.wakeAt > now && lane.wakeAt <= at) return;
    lane.wakeAt = at;
    void this.#sleep(at - now).then(() => {
      if (lane.wakeAt === at) lane.wakeAt = 0;
      this.#drain(account, lane);
    });
  }

  #release(account: string, attempt: Attempt): void {
    attempt.lane.window.answer(attempt.entry, this.#now());
    attempt.lane.active -= 1;
    this.#drain(account, attempt.lane);
  }

  #forgetIfIdle(account: string): void {
    const state = this.#accounts.get(account);
    if (state === undefined) return;
    const now = this.#now();
    for (const lane of Object.values(state.lanes)) {
      this.#prune(lane, now);
      if (lane.active > 0 || lane.queues.size > 0 || lane.window.size > 0 || lane.pausedUntil > now || lane.headroom !== undefined) return;
    }
    this.#accounts.delete(account);
  }

  /** Once per general window, forget accounts with nothing queued, running, paused or inside a window. */
  #sweep(): void {
    const now = this.#now();
    if (now - this.#lastSweep < this.#limits.general.intervalMs) return;
    this.#lastSweep = now;
    for (const account of [...this.#accounts.keys()]) this.#forgetIfIdle(account);
  }
}
