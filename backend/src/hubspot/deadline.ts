import { setMaxListeners } from 'node:events';
import { AppError } from '../errors.js';

/**
 * One time budget for everything a piece of work asks of HubSpot: a card request's viewer look-up, its install token
 * and every API call it makes share one Deadline, counted from the request's arrival (pipeline/signed-api.ts) and
 * handed down. Its signal fires when the budget ends; every wait (queue, backoff, Retry-After, a lane's pause, a token
 * refresh in progress) ends there, and every attempt is aborted there. The numbers live here and nowhere else.
 */

export interface DeadlineSpec {
  /** The whole budget, from creation. */
  budgetMs: number;
  /** One attempt at one call may take min(attemptCapMs, what is left), so a hung attempt leaves time to try again. */
  attemptCapMs: number;
}

export interface DeadlineSettings {
  /** A signed request from a card or the settings page, through hubspot.fetch. */
  card: DeadlineSpec;
  /** One call to HubSpot's token endpoint (refresh, code exchange, introspection), whoever is waiting for it. */
  tokenCall: DeadlineSpec;
  /** The install callback's own API calls (the installer's name on the page). */
  installPage: DeadlineSpec;
}

/**
 * - card: the card's own hubspot.fetch gives up after 12 s (hubspot-project/app/shared/backend-client.ts, TIMEOUT_MS;
 *   HubSpot's ceiling is 15 s: "Each request has a maximum timeout of 15 seconds. [...] You can specify a lower timeout
 *   per request", "Fetching data", developers.hubspot.com/docs/guides/crm/public-apps/fetching-data), and "HubSpot
 *   will automatically retry a request once [...] if the request fails with a 5XX status code within the 15 second
 *   window" (same page). Our HUBSPOT_UNAVAILABLE is a 503, so when HubSpot hangs the card waits for two of our
 *   answers: the first, then the retry's. 5 s each, plus up to 1 s each for what the budget does not cover (HubSpot's
 *   proxy carrying the request and the answer, reading and verifying the body, the database: installation, policy,
 *   write claim, audit; timer lateness on a busy event loop), is 12 s: the card shows our answer, never its own
 *   timeout. A HubSpot read answers in well under a second; 3 s per attempt abandons a hung one with time left to try
 *   again on a fresh connection.
 * - tokenCall: a refresh is shared by every request of the account waiting for it and must be let finish and commit,
 *   so no caller's deadline aborts it; it gets its own 10 s. Each waiting card still stops waiting at its own deadline,
 *   and the next request uses the token once the refresh committed.
 * - installPage: a browser, not hubspot.fetch, waits for the install callback; the installer's name is a courtesy,
 *   and the page renders without it after 10 s.
 * An attempt that will not be tried again (a create, which is never sent twice once it may have arrived; the last
 * attempt) gets everything left instead of the cap: cutting it short would only turn a slow answer into a failure.
 */
export const DEADLINES: DeadlineSettings = {
  card: { budgetMs: 5_000, attemptCapMs: 3_000 },
  tokenCall: { budgetMs: 10_000, attemptCapMs: 10_000 },
  installPage: { budgetMs: 10_000, attemptCapMs: 5_000 },
};

/**
 * What a wait for the budget the instances share must leave of the deadline for the attempt itself: a HubSpot read
 * answers in well under a second, so a place taken with less than this left would only start a call the deadline then
 * abandons, and the card would read HUBSPOT_UNAVAILABLE where HUBSPOT_RATE_LIMITED (try again in n seconds) is the truth.
 */
export const ATTEMPT_FLOOR_MS = 1_000;

/** Why an attempt or a deadline ended: fetch rejects with it, and it reads as a timeout (http-error.ts, isNetworkFailure). */
const timedOut = (message: string) => new DOMException(message, 'TimeoutError');

/** What one of our signals fired with (always a timedOut), typed as the Error it is. */
const reasonOf = (signal: AbortSignal): Error => (signal.reason instanceof Error ? signal.reason : timedOut('aborted'));

/**
 * Settles as `work` does, or rejects with the signal's reason once it fires; `work` is then abandoned (still
 * running, its outcome ignored), so whoever waited is free even if the work ignores the signal.
 */
function settleBefore<T>(signal: AbortSignal, work: Promise<T>): Promise<T> {
  // One promise and one listener, dropped as soon as `work` settles: this runs for every call and every wait. `work` is
  // always watched, so its failure after it was abandoned is never an unhandled rejection.
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(reasonOf(signal));
    const settled = () => signal.removeEventListener('abort', onAbort);
    work.then(settled, settled);
    work.then(resolve, reject);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** One attempt's limit: its signal fires at min(the attempt cap, the deadline). `end()` when the attempt is over. */
export interface AttemptLimit {
  readonly signal: AbortSignal;
  /** Settles as `work` does, or rejects when the signal fires first: the attempt is over either way. */
  guard<T>(work: Promise<T>): Promise<T>;
  end(): void;
}

export class Deadline {
  readonly #controller = new AbortController();
  readonly #endsAt: number;
  readonly #now: () => number;
  readonly #attemptCapMs: number;
  /** HubSpot work of this deadline pending now, since when (performance.now()), and the time spent before that. */
  #pending = 0;
  #pendingSince = 0;
  #hubspotMs = 0;

  /**
   * `waiter` names who stops waiting, in the messages a caller sees ("the card could not wait longer"). `now` is the
   * clock that measures what is left (the backend's injectable clock); the signal fires on a timer that never keeps
   * the process alive.
   */
  constructor(
    spec: DeadlineSpec,
    readonly waiter: string,
    now: () => number = () => Date.now(),
  ) {
    this.#now = now;
    this.#attemptCapMs = spec.attemptCapMs;
    this.#endsAt = now() + spec.budgetMs;
    // Every call of the request, and every wait on shared work, listens while it runs: many at once is normal.
    setMaxListeners(0, this.#controller.signal);
    setTimeout(() => this.#controller.abort(timedOut(`${waiter} could not wait longer`)), spec.budgetMs).unref();
  }

  /** Fires when the budget ends. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  remainingMs(): number {
    return Math.max(0, this.#endsAt - this.#now());
  }

  get expired(): boolean {
    return this.#controller.signal.aborted || this.remainingMs() === 0;
  }

  /** The limit for one attempt starting now: the attempt cap if another attempt may follow, else everything left. */
  attempt(mayBeRetried: boolean): AttemptLimit {
    const controller = new AbortController();
    const onDeadline = () => controller.abort(reasonOf(this.signal));
    const ms = mayBeRetried ? Math.min(this.#attemptCapMs, this.remainingMs()) : this.remainingMs();
    const timer = setTimeout(() => controller.abort(timedOut('one attempt at a HubSpot call took too long')), ms);
    if (this.signal.aborted) onDeadline();
    else this.signal.addEventListener('abort', onDeadline, { once: true });
    return {
      signal: controller.signal,
      guard: (work) => settleBefore(controller.signal, work),
      end: () => {
        clearTimeout(timer);
        this.signal.removeEventListener('abort', onDeadline);
      },
    };
  }

  /**
   * Wall time, in milliseconds, during which HubSpot work of this deadline was pending (overlapping work counted once):
   * its calls, queued, paced, retried or in flight, and its waits on work shared with others. The rest of a request's
   * time is our own (Server-Timing, pipeline/server-timing.ts). Real time, whatever clock the deadline runs on.
   */
  get hubspotMs(): number {
    return this.#hubspotMs + (this.#pending > 0 ? performance.now() - this.#pendingSince : 0);
  }

  /** Counts the time until `work` settles as HubSpot's (hubspotMs), and settles as it does. */
  async hubspot<T>(work: Promise<T>): Promise<T> {
    if (this.#pending === 0) this.#pendingSince = performance.now();
    this.#pending += 1;
    try {
      return await work;
    } finally {
      this.#pending -= 1;
      if (this.#pending === 0) this.#hubspotMs += performance.now() - this.#pendingSince;
    }
  }

  /**
   * Waits for `shared` (work others wait for too, such as a token refresh) until the deadline, then stops waiting with
   * HUBSPOT_UNAVAILABLE; the work itself goes on for the others. `late` says what did not happen in time.
   */
  async wait<T>(shared: Promise<T>, late: string): Promise<T> {
    try {
      return await this.hubspot(settleBefore(this.signal, shared));
    } catch (error) {
      if (!this.signal.aborted || error !== reasonOf(this.signal)) throw error;
      throw new AppError('HUBSPOT_UNAVAILABLE', { message: `${late}, and ${this.waiter} could not wait longer.`, cause: error });
    }
  }
}

/** Where every Deadline is made: one per card request, token call or install page, from one set of numbers. */
export interface Deadlines {
  /** `spentMs`: how long ago the request arrived (its budget is counted from then). */
  card(spentMs?: number): Deadline;
  tokenCall(): Deadline;
  installPage(): Deadline;
}

export function createDeadlines(settings: Partial<DeadlineSettings> = {}, now: () => number = () => Date.now()): Deadlines {
  const spec = { ...DEADLINES, ...settings };
  return {
    card: (spentMs = 0) => new Deadline({ ...spec.card, budgetMs: Math.max(0, spec.card.budgetMs - spentMs) }, 'the card', now),
    tokenCall: () => new Deadline(spec.tokenCall, 'the token refresh', now),
    installPage: () => new Deadline(spec.installPage, 'the install page', now),
  };
}
