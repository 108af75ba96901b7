import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PolicyDocument } from '../../backend/src/access/policy.js';
import { createFakeHubSpot, loadSeed, type FakeHubSpot } from '../hubspot-fake/index.js';
import { TEST_APP } from '../support/harness.js';
import { mirrorPolicy } from '../support/mirror-policy.js';
import { cardRequest, installDirect, newTokenKey, startBackendProcess, type BackendProcess } from './support/backend-process.js';
import { startOwnPostgres, type OwnPostgres } from './support/own-postgres.js';
import { FaultTally } from './support/tally.js';

const account = loadSeed().accounts[0]!;
const P = account.portalId;
const ana = account.users.find((user) => user.superAdmin)!;
const bob = account.users.find((user) => user.firstName === 'Bob')!;
const tickets = account.tickets.map((ticket) => ticket.id);
/** The account's window at the local HubSpot: small, so each burst fills it several times over. */
const WINDOW = { max: 20, windowMs: 2_000 };
const VIEWS_PER_PROCESS = 25;
/** The change feed's listeners and the shared budget's pool, by the application_name each connection carries. */
const LISTENERS = `application_name like 'vg\\_%'`;
const BUDGET_POOL = `application_name = 'viewer-guard-budget'`;

/**
 * Two backend processes on one PostgreSQL (the suite's own), one account, bursts of card views at once: whatever the
 * instances do, HubSpot must never see more of the account's calls than its window holds, which it would answer 429;
 * and a 429 HubSpot sends anyway (other apps, its own reasons) reaches a card as HUBSPOT_RATE_LIMITED, never as an
 * undocumented 5xx. Faults: HubSpot's 429s, and the connections the instances share state through cut mid-burst.
 */
describe('two backend processes sharing one HubSpot budget per account', () => {
  const tally = new FaultTally();
  let postgres: OwnPostgres;
  let fake: FakeHubSpot;
  let a: BackendProcess;
  let b: BackendProcess;
  let databaseUrl: string;

  beforeAll(async () => {
    postgres = await startOwnPostgres();
    databaseUrl = await postgres.createDatabase('vg_instances');
    fake = createFakeHubSpot({ app: TEST_APP });
    const fakeUrl = await fake.listen();
    fake.switches.rateLimits.general = WINDOW;
    fake.switches.latencyMs = 20;
    const tokenKey = newTokenKey();
    const env = { ACCESS_SOURCE: 'policy' };
    a = await startBackendProcess({ fakeUrl, databaseUrl, tokenKey, env });
    b = await startBackendProcess({ fakeUrl, databaseUrl, tokenKey, env });
    await installDirect({ databaseUrl, tokenKey, fake, portalId: P, userId: ana.id });
    // Each instance learns the account's window from HubSpot's headers on its first answers, as on any working day.
    for (const backend of [a, b]) expect((await card(backend, '5001')).status).toBe(200);
  });

  afterAll(async () => {
    await a.kill();
    await b.kill();
    await fake.close();
    await postgres.destroy();
    tally.save();
  });

  const card = (backend: BackendProcess, ticketId: string, userId = ana.id) =>
    cardRequest(backend, { path: `/api/v1/records/tickets/${ticketId}/access`, portalId: P, userId });

  /** Card views at both processes at once; every answer goes through the tally. Returns how many answered 200. */
  async function burst(what: string, during?: () => Promise<void>): Promise<{ ok: number; paced: number }> {
    const views = [a, b].flatMap((backend) =>
      Array.from({ length: VIEWS_PER_PROCESS }, (_, i) =>
        card(backend, tickets[i % tickets.length]!).then((answer) => {
          tally.answer(answer.status, answer.body, what);
          // Paced past the card's budget (HUBSPOT_RATE_LIMITED), or an attempt still on its way when the budget ran out
          // (HUBSPOT_UNAVAILABLE): both say to try again; nothing else may come of a burst.
          if (answer.status !== 200) expect(['HUBSPOT_RATE_LIMITED', 'HUBSPOT_UNAVAILABLE']).toContain(JSON.parse(answer.body).error?.code);
          return answer.status;
        }),
      ),
    );
    await during?.();
    const statuses = await Promise.all(views);
    return { ok: statuses.filter((status) => status === 200).length, paced: statuses.filter((status) => status === 503).length };
  }

  /** One value from the scenario's database. */
  async function count(sql: string): Promise<number> {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      return (await client.query<{ n: number }>(sql)).rows[0]?.n ?? 0;
    } finally {
      await client.end();
    }
  }

  const refusedByHubSpot = () => fake.calls.all().filter((call) => call.status === 429).length;
  const made = () => fake.calls.all().filter((call) => !call.route.endsWith('/search')).length;

  it("never lets the two together exceed the account's window", async () => {
    fake.calls.reset();
    const { ok, paced } = await burst('burst');
    // A warm card view is one HubSpot call: the burst needed more than one window.
    expect(made()).toBeGreaterThan(WINDOW.max);
    expect(refusedByHubSpot()).toBe(0);
    expect(ok).toBeGreaterThan(0);
    tally.line(
      `instances: ${2 * VIEWS_PER_PROCESS} card views at once over 2 processes: ${made()} HubSpot calls, 0 refused 429 (window ${WINDOW.max} per ${WINDOW.windowMs / 1000} s); ${ok} answered, ${paced} HUBSPOT_RATE_LIMITED`,
    );
    expect(tally.undocumented).toEqual([]);
  });

  it("answers HubSpot's own 429s as HUBSPOT_RATE_LIMITED or after a retry, never as an undocumented 5xx", async () => {
    fake.calls.reset();
    await burst('429 storm', async () => {
      fake.switches.rateLimitNext(15, { retryAfterSeconds: 1 });
      tally.fault();
    });
    expect(refusedByHubSpot()).toBe(15);
    expect(tally.undocumented).toEqual([]);
  });

  it('keeps within the window and serving cards when the connections the instances share state through are cut mid-burst', async () => {
    fake.calls.reset();
    let cut = 0;
    const { ok } = await burst('connections cut', async () => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      cut = await count(`select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where ${LISTENERS} or ${BUDGET_POOL}`);
      tally.fault();
    });
    // Both listeners at least, and whatever budget connections were open.
    expect(cut).toBeGreaterThanOrEqual(2);
    expect(ok).toBeGreaterThan(0);
    expect(refusedByHubSpot()).toBe(0);
    expect(tally.undocumented).toEqual([]);
    // Each process noticed its listener was gone (said once) and listens again by itself.
    for (const backend of [a, b]) expect(backend.output().match(/change feed: listener connection lost/g)).toHaveLength(1);
    const deadline = Date.now() + 15_000;
    while ((await count(`select count(*)::int as n from pg_stat_activity where ${LISTENERS}`)) < 2) {
      if (Date.now() > deadline) throw new Error('the listeners did not come back within 15 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  it("uses a policy saved through one process in the other's very next decision", async () => {
    const withBobSeeing = (view: 'owned' | 'everything'): PolicyDocument => {
      const policy = mirrorPolicy(account);
      return { ...policy, users: { ...policy.users, [String(bob.id)]: { tickets: { view, edit: 'owned', delete: 'none' } } } };
    };
    for (const [saver, decider, view] of [
      [a, b, 'owned'],
      [a, b, 'everything'],
      [b, a, 'owned'],
      [b, a, 'everything'],
    ] as const) {
      const saved = await cardRequest(saver, { method: 'PUT', path: '/api/v1/admin/policy', portalId: P, userId: ana.id, body: withBobSeeing(view) });
      tally.answer(saved.status, saved.body, 'policy save');
      expect(saved.status, saved.body).toBe(200);
      const decided = await card(decider, '5001', bob.id);
      tally.answer(decided.status, decided.body, 'decision after a save');
      expect(decided.status, decided.body).toBe(view === 'everything' ? 200 : 403);
    }
  });
});
