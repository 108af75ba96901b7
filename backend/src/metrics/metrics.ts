import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { InvalidGrantError, type OAuthClient } from '../hubspot/oauth.js';
import type { AttemptRecord, BudgetReading, SchedulerEvent } from '../hubspot/scheduler.js';
import type { CacheRegistry } from '../lib/bounded-cache.js';
import { portalOfAccount } from './usage-tally.js';

/**
 * What an operator reads at GET /metrics (Prometheus text format, prom-client): one registry per backend instance, so
 * two backends in one process (tests, the bench) never mix their numbers. Every label takes a bounded set of values:
 * route patterns (never a URL), HubSpot endpoints with ids replaced (hubspot/call.ts, endpointLabel), error codes from
 * the catalogues, cache names, and portal ids only for the TOP_ACCOUNTS accounts with the least HubSpot budget left.
 * No user id or record id is ever a label. Each label also stops taking new values past MAX_LABEL_VALUES ("other").
 */

const PREFIX = 'viewer_guard_';
/** Accounts whose HubSpot budget is reported: the ones closest to their limit. */
const TOP_ACCOUNTS = 10;
/** A label's distinct values at most; later ones read "other" (a safety net: none of ours comes near). */
const MAX_LABEL_VALUES = 100;
/** Card requests answer in milliseconds to a few seconds (hubspot.fetch gives up at 15 s). */
const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15];
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export type RefreshOutcome = 'refreshed' | 'refused' | 'failed';

export interface FinishedRequest {
  method: string;
  /** The route's pattern (`/api/v1/records/:objectType/:id/access`); undefined when no route matched. */
  route: string | undefined;
  statusCode: number;
  durationMs: number;
  /** The part of it spent on HubSpot (signed requests only: Deadline.hubspotMs). */
  hubspotMs: number | undefined;
}

/** Recorders are plain functions (no `this`), so they can be handed to the parts that report. */
export interface Metrics {
  readonly contentType: string;
  readonly text: () => Promise<string>;
  readonly request: (finished: FinishedRequest) => void;
  readonly hubspotAttempt: (attempt: AttemptRecord) => void;
  readonly schedulerEvent: (event: SchedulerEvent) => void;
  /** Every answer with an error code: refusals (4xx) and failures (5xx). */
  readonly errorAnswer: (code: string, status: number) => void;
  readonly tokenRefresh: (outcome: RefreshOutcome) => void;
}

export interface MetricsOptions {
  caches: CacheRegistry;
  /** The scheduler's view of each account's HubSpot budget, read at each scrape. */
  budgets: () => BudgetReading[];
  /** Node's own process metrics (CPU, memory, event loop, GC): once per process, so the production entry point only. */
  processMetrics?: boolean;
}

/** A label that stops taking new values past MAX_LABEL_VALUES. */
function boundedLabel(): (value: string) => string {
  const seen = new Set<string>();
  return (value) => {
    if (seen.has(value)) return value;
    if (seen.size >= MAX_LABEL_VALUES) return 'other';
    seen.add(value);
    return value;
  };
}

/** Why a call is tried again or given up, in the words of its last answer. */
function causeOf(status: SchedulerEvent['status']): string {
  if (status === undefined) return 'none';
  if (status === 'network' || status === 429) return String(status);
  return status >= 500 ? '5xx' : String(status);
}

export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.processMetrics === true) collectDefaultMetrics({ register: registry, prefix: PREFIX });
  const routeLabel = boundedLabel();
  const endpointLabel = boundedLabel();
  const codeLabel = boundedLabel();

  const requestSeconds = new Histogram({
    name: `${PREFIX}http_request_duration_seconds`,
    help: 'Time to answer a request, by route pattern (unmatched: no route), method and status.',
    labelNames: ['method', 'route', 'status_code'],
    buckets: SECONDS_BUCKETS,
    registers,
  });
  const requestHubSpotSeconds = new Histogram({
    name: `${PREFIX}http_request_hubspot_seconds`,
    help: "The part of a signed request's time spent waiting on HubSpot (its calls, and waits on calls shared with other requests), by route pattern.",
    labelNames: ['method', 'route'],
    buckets: SECONDS_BUCKETS,
    registers,
  });
  const hubspotCalls = new Counter({
    name: `${PREFIX}hubspot_calls_total`,
    help: 'Attempts at HubSpot calls, by endpoint (ids replaced), lane and outcome: ok (2xx), the HTTP status, timeout, network or error.',
    labelNames: ['endpoint', 'lane', 'status'],
    registers,
  });
  const hubspotSeconds = new Histogram({
    name: `${PREFIX}hubspot_call_duration_seconds`,
    help: 'Time of one attempt at a HubSpot call, by endpoint and lane.',
    labelNames: ['endpoint', 'lane'],
    buckets: SECONDS_BUCKETS,
    registers,
  });
  const hubspotRetries = new Counter({
    name: `${PREFIX}hubspot_retries_total`,
    help: 'HubSpot calls tried again, by lane and cause: 429 (rate limited: the lane paused), 5xx or network.',
    labelNames: ['lane', 'cause'],
    registers,
  });
  const hubspotGivenUp = new Counter({
    name: `${PREFIX}hubspot_given_up_total`,
    help: "HubSpot calls given up (answered HUBSPOT_RATE_LIMITED or HUBSPOT_UNAVAILABLE), by lane and the last attempt's cause (none: never started).",
    labelNames: ['lane', 'cause'],
    registers,
  });
  const refusals = new Counter({
    name: `${PREFIX}refusals_total`,
    help: 'Answers with an error code, by code and HTTP status: refusals (4xx) and failures (5xx).',
    labelNames: ['code', 'status_code'],
    registers,
  });
  const refreshes = new Counter({
    name: `${PREFIX}token_refreshes_total`,
    help: "Install token refreshes at HubSpot's token endpoint, by outcome: refreshed; refused (HubSpot refused the refresh token: the install needs repair, unless an earlier answer was lost); failed (no answer or an error: tried again).",
    labelNames: ['outcome'],
    registers,
  });
  for (const outcome of ['refreshed', 'refused', 'failed'] satisfies RefreshOutcome[]) refreshes.inc({ outcome }, 0);

  const budgetGauge = (name: string, help: string, read: (budget: BudgetReading) => number) =>
    new Gauge({
      name: `${PREFIX}${name}`,
      help,
      labelNames: ['account', 'lane'],
      registers,
      collect() {
        this.reset();
        for (const budget of tightestBudgets(options.budgets())) this.set({ account: budget.account, lane: budget.lane }, read(budget));
      },
    });
  budgetGauge(
    'hubspot_budget_remaining',
    `HubSpot calls an account's lane may start now (its window's room within HubSpot's own count), for the ${TOP_ACCOUNTS} accounts with the least left; accounts not listed have room.`,
    (budget) => budget.remaining,
  );
  budgetGauge('hubspot_budget_limit', 'Calls per window of the same lanes, as HubSpot last said.', (budget) => budget.limit);

  const cacheGauge = (name: string, help: string, read: (stats: ReturnType<CacheRegistry['stats']>[number]) => number) =>
    new Gauge({
      name: `${PREFIX}${name}`,
      help,
      labelNames: ['cache'],
      registers,
      collect() {
        this.reset();
        for (const stats of options.caches.stats()) this.set({ cache: stats.name }, read(stats));
      },
    });
  cacheGauge('cache_bytes', "The cache's entries, estimated bytes (keys and bookkeeping included).", (stats) => stats.bytes);
  cacheGauge('cache_max_bytes', "The cache's bound in bytes.", (stats) => stats.maxBytes);
  cacheGauge('cache_entries', 'Entries in the cache.', (stats) => stats.entries);
  cacheGauge('cache_hit_ratio', 'Lookups answered from the cache since start, as a share of all lookups (0 before the first).', (stats) =>
    stats.hits + stats.misses === 0 ? 0 : stats.hits / (stats.hits + stats.misses),
  );
  new Counter({
    name: `${PREFIX}cache_lookups_total`,
    help: 'Cache lookups by result: hit (answered from the cache) or miss (loaded).',
    labelNames: ['cache', 'result'],
    registers,
    collect() {
      this.reset();
      for (const stats of options.caches.stats()) {
        this.inc({ cache: stats.name, result: 'hit' }, stats.hits);
        this.inc({ cache: stats.name, result: 'miss' }, stats.misses);
      }
    },
  });
  new Counter({
    name: `${PREFIX}cache_evictions_total`,
    help: 'Entries dropped to stay within the bound in bytes (not those expired or invalidated).',
    labelNames: ['cache'],
    registers,
    collect() {
      this.reset();
      for (const stats of options.caches.stats()) this.inc({ cache: stats.name }, stats.evictions);
    },
  });

  return {
    contentType: registry.contentType,
    text: () => registry.metrics(),
    request: (finished) => {
      const method = METHODS.has(finished.method) ? finished.method : 'other';
      const route = routeLabel(finished.route ?? 'unmatched');
      requestSeconds.observe({ method, route, status_code: String(finished.statusCode) }, finished.durationMs / 1000);
      if (finished.hubspotMs !== undefined) requestHubSpotSeconds.observe({ method, route }, finished.hubspotMs / 1000);
    },
    hubspotAttempt: (attempt) => {
      const endpoint = endpointLabel(attempt.endpoint);
      hubspotCalls.inc({ endpoint, lane: attempt.lane, status: String(attempt.status) });
      hubspotSeconds.observe({ endpoint, lane: attempt.lane }, attempt.durationMs / 1000);
    },
    schedulerEvent: (event) => {
      const labels = { lane: event.lane, cause: causeOf(event.status) };
      if (event.type === 'gave_up') hubspotGivenUp.inc(labels);
      else hubspotRetries.inc(labels);
    },
    errorAnswer: (code, status) => refusals.inc({ code: codeLabel(code), status_code: String(status) }),
    tokenRefresh: (outcome) => refreshes.inc({ outcome }),
  };
}

/** The OAuth client whose refreshes are counted by outcome (the token manager's only way to HubSpot's token endpoint). */
export function countingRefreshes(oauth: OAuthClient, metrics: Pick<Metrics, 'tokenRefresh'>): OAuthClient {
  return {
    ...oauth,
    async refresh(portalId, refreshToken) {
      try {
        const tokens = await oauth.refresh(portalId, refreshToken);
        metrics.tokenRefresh('refreshed');
        return tokens;
      } catch (error) {
        metrics.tokenRefresh(error instanceof InvalidGrantError ? 'refused' : 'failed');
        throw error;
      }
    },
  };
}

/** The portals' lanes with the least budget left, as a share of their limit: TOP_ACCOUNTS accounts at most. */
function tightestBudgets(budgets: readonly BudgetReading[]): BudgetReading[] {
  const portals = budgets.filter((budget) => portalOfAccount(budget.account) !== undefined);
  const tightest = new Map<string, number>();
  for (const budget of portals) {
    const share = budget.limit === 0 ? 0 : budget.remaining / budget.limit;
    tightest.set(budget.account, Math.min(share, tightest.get(budget.account) ?? 1));
  }
  const shown = new Set(
    [...tightest]
      .sort(([, a], [, b]) => a - b)
      .slice(0, TOP_ACCOUNTS)
      .map(([account]) => account),
  );
  return portals.filter((budget) => shown.has(budget.account));
}
