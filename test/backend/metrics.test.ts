import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSeed } from '../hubspot-fake/index.js';
import { startHarness, type Harness } from '../support/harness.js';

/**
 * GET /metrics after real card traffic against the local HubSpot: the figures an operator expects, with labels that
 * name routes, endpoints, codes and caches, never a user or a record; and Server-Timing on signed answers. Who may read
 * /metrics is test/security/operator-routes.test.ts's subject.
 */

const seed = loadSeed();
const account = seed.accounts[0]!;
const P = account.portalId;
const user = (first: string) => account.users.find((candidate) => candidate.firstName === first)!;
const [ana, bob, carla] = [user('Ana'), user('Bob'), user('Carla')];
const TOKEN = randomBytes(32).toString('hex');

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parse(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (match === null) throw new Error(`not a Prometheus sample line: ${line}`);
      const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, name, value]) => [name!, value!]));
      return { name: match[1]!, labels, value: Number(match[3]) };
    });
}

function value(samples: readonly Sample[], name: string, labels: Record<string, string>): number | undefined {
  return samples.find((sample) => sample.name === name && Object.entries(labels).every(([key, expected]) => sample.labels[key] === expected))?.value;
}

async function scrape(harness: Harness): Promise<{ text: string; samples: Sample[]; contentType: string }> {
  const response = await harness.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
  expect(response.statusCode, response.body).toBe(200);
  return { text: response.body, samples: parse(response.body), contentType: String(response.headers['content-type']) };
}

describe('GET /metrics after card traffic', () => {
  let harness: Harness;
  let samples: Sample[];
  let text: string;
  let contentType: string;
  const view = (userId: number, path: string) => harness.signed({ path, portalId: P, userId });

  beforeAll(async () => {
    harness = await startHarness({ env: { METRICS_TOKEN: TOKEN } });
    await harness.installExpired(P, ana.id);
    expect((await view(ana.id, '/api/v1/records/tickets/5001/access')).statusCode).toBe(200);
    // Bob's own ticket, then again (HubSpot's permission answer cached), then Carla on the same record.
    for (const [who, ticket] of [
      [bob, '5002'],
      [bob, '5002'],
      [carla, '5002'],
    ] as const) {
      expect((await view(who.id, `/api/v1/records/tickets/${ticket}/access`)).statusCode).toBe(200);
    }
    // A refusal: Ana's ticket is not Bob's.
    expect((await view(bob.id, '/api/v1/records/tickets/5001/access')).statusCode).toBe(403);
    // HubSpot rate-limits the next ticket read once: paused for its Retry-After, then tried again.
    harness.fake.switches.rateLimitNext(1, { retryAfterSeconds: 0, pathPrefix: '/crm/objects/2026-03/tickets/5003' });
    expect((await view(ana.id, '/api/v1/records/tickets/5003/access')).statusCode).toBe(200);
    expect((await view(ana.id, '/api/v1/contacts/6001/tickets')).statusCode).toBe(200);
    expect((await harness.app.inject({ method: 'GET', url: '/no-such-page/5001' })).statusCode).toBe(404);
    ({ text, samples, contentType } = await scrape(harness));
  });
  afterAll(async () => harness.close());

  it("answers Prometheus' text format", () => {
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(text).toMatch(/^# HELP viewer_guard_/m);
  });

  it('times requests by route pattern, never by the URL with its ids', () => {
    const count = (route: string, status: string) =>
      value(samples, 'viewer_guard_http_request_duration_seconds_count', { method: 'GET', route, status_code: status });
    expect(count('/api/v1/records/:objectType/:id/access', '200')).toBe(5);
    expect(count('/api/v1/records/:objectType/:id/access', '403')).toBe(1);
    expect(count('/api/v1/contacts/:id/tickets', '200')).toBe(1);
    expect(count('unmatched', '404')).toBe(1);
    expect(value(samples, 'viewer_guard_http_request_hubspot_seconds_count', { route: '/api/v1/records/:objectType/:id/access' })).toBe(6);
  });

  it('counts HubSpot calls by endpoint, lane and outcome, with the 429 and its retry', () => {
    const calls = (endpoint: string, lane: string, status: string) => value(samples, 'viewer_guard_hubspot_calls_total', { endpoint, lane, status });
    expect(calls('GET /crm/objects/2026-03/tickets/{id}', 'general', 'ok')).toBe(6);
    expect(calls('GET /crm/objects/2026-03/tickets/{id}', 'general', '429')).toBe(1);
    expect(calls('POST /crm/objects/2026-03/tickets/search', 'search', 'ok')).toBeGreaterThanOrEqual(1);
    expect(calls('GET /resource-permissions/v3/permitted-users', 'general', 'ok')).toBeGreaterThanOrEqual(1);
    expect(calls('POST /oauth/2026-03/token', 'general', 'ok')).toBe(1);
    expect(value(samples, 'viewer_guard_hubspot_retries_total', { lane: 'general', cause: '429' })).toBe(1);
    expect(value(samples, 'viewer_guard_hubspot_call_duration_seconds_count', { endpoint: 'GET /crm/objects/2026-03/tickets/{id}', lane: 'general' })).toBe(7);
  });

  it("reports the account's HubSpot budget as the scheduler sees it", () => {
    const remaining = value(samples, 'viewer_guard_hubspot_budget_remaining', { account: String(P), lane: 'general' });
    const limit = value(samples, 'viewer_guard_hubspot_budget_limit', { account: String(P), lane: 'general' });
    expect(limit).toBeGreaterThan(0);
    expect(remaining).toBeGreaterThanOrEqual(0);
    expect(remaining).toBeLessThan(limit!);
    // The token endpoint's own pacing key is not an account.
    expect(samples.filter((sample) => sample.name === 'viewer_guard_hubspot_budget_limit').every((sample) => /^\d+$/.test(sample.labels.account!))).toBe(true);
  });

  it('counts refusals by code, and the token refresh by outcome', () => {
    const refused = samples.filter((sample) => sample.name === 'viewer_guard_refusals_total' && sample.labels.status_code === '403');
    expect(refused.reduce((sum, sample) => sum + sample.value, 0)).toBe(1);
    expect(value(samples, 'viewer_guard_refusals_total', { code: 'NOT_FOUND', status_code: '404' })).toBe(1);
    expect(value(samples, 'viewer_guard_token_refreshes_total', { outcome: 'refreshed' })).toBe(1);
    expect(value(samples, 'viewer_guard_token_refreshes_total', { outcome: 'failed' })).toBe(0);
  });

  it('reports every cache: bytes within its bound, entries, hits and misses, and the hit ratio', () => {
    for (const cache of ['viewers', 'owners', 'teams', 'permissions', 'permission_users', 'policies']) {
      const bytes = value(samples, 'viewer_guard_cache_bytes', { cache });
      const max = value(samples, 'viewer_guard_cache_max_bytes', { cache });
      expect(bytes, cache).toBeDefined();
      expect(bytes!).toBeLessThanOrEqual(max!);
      expect(value(samples, 'viewer_guard_cache_entries', { cache }), cache).toBeDefined();
    }
    // HubSpot was asked once about each of 5002 and 5001 (misses: loads); Bob's second view and Carla's found 5002's
    // answer cached, once per action they decide (hits).
    const lookups = (result: string) => value(samples, 'viewer_guard_cache_lookups_total', { cache: 'permissions', result })!;
    expect(lookups('miss')).toBe(2);
    expect(lookups('hit')).toBeGreaterThanOrEqual(2);
    expect(value(samples, 'viewer_guard_cache_hit_ratio', { cache: 'permissions' })).toBe(lookups('hit') / (lookups('hit') + lookups('miss')));
    expect(value(samples, 'viewer_guard_cache_hit_ratio', { cache: 'viewers' })).toBeGreaterThan(0);
  });

  it('names no user, owner, record or query string in any label', () => {
    const ids = new Set([
      ...account.users.map((candidate) => String(candidate.id)),
      ...account.owners.map((owner) => String(owner.id)),
      ...account.tickets.map((ticket) => ticket.id),
      ...account.contacts.map((contact) => contact.id),
    ]);
    const values = samples.flatMap((sample) => Object.values(sample.labels));
    expect(values.filter((label) => ids.has(label) || [...ids].some((id) => label.includes(`/${id}`)) || label.includes('?'))).toEqual([]);
  });

  it('keeps each backend its own numbers: a second backend in the same process starts from nothing', async () => {
    const other = await startHarness({ env: { METRICS_TOKEN: TOKEN } });
    try {
      const fresh = (await scrape(other)).samples;
      expect(value(fresh, 'viewer_guard_http_request_duration_seconds_count', { route: '/api/v1/records/:objectType/:id/access' })).toBeUndefined();
      expect(value(fresh, 'viewer_guard_token_refreshes_total', { outcome: 'refreshed' })).toBe(0);
    } finally {
      await other.close();
    }
  });
});

describe('Server-Timing on signed answers', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness();
    await harness.installDirect(P, ana.id);
  });
  afterAll(async () => harness.close());

  const timing = (header: unknown) => {
    const match = /^hubspot;dur=(\d+\.\d), app;dur=(\d+\.\d)$/.exec(String(header));
    expect(match, String(header)).not.toBeNull();
    return { hubspot: Number(match![1]), app: Number(match![2]) };
  };

  it("splits a view's time into HubSpot's and ours: at least one HubSpot round trip, the rest ours", async () => {
    harness.fake.switches.latencyMs = 40;
    try {
      const started = performance.now();
      const response = await harness.signed({ path: '/api/v1/records/tickets/5002/access', portalId: P, userId: bob.id });
      const elapsed = performance.now() - started;
      expect(response.statusCode).toBe(200);
      const { hubspot, app } = timing(response.headers['server-timing']);
      // The record is read from HubSpot on every view, 40 ms each way at the least.
      expect(hubspot).toBeGreaterThanOrEqual(40);
      expect(app).toBeGreaterThanOrEqual(0);
      expect(hubspot + app).toBeLessThanOrEqual(elapsed + 1);
    } finally {
      harness.fake.switches.latencyMs = 0;
    }
  });

  it("is on a verified caller's refusals too, and on no answer to a request whose signature failed", async () => {
    const refused = await harness.signed({ path: '/api/v1/records/tickets/5001/access', portalId: P, userId: bob.id });
    expect(refused.statusCode).toBe(403);
    timing(refused.headers['server-timing']);
    const unsigned = await harness.app.inject({ method: 'GET', url: `/api/v1/me?portalId=${P}&userId=${bob.id}` });
    expect(unsigned.statusCode).toBe(401);
    expect(unsigned.headers['server-timing']).toBeUndefined();
    const health = await harness.app.inject({ method: 'GET', url: '/healthz' });
    expect(health.headers['server-timing']).toBeUndefined();
  });
});
