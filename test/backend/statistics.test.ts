import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuditLog, createUsageDays, DAY_MS, dayOf } from '../../backend/src/store/index.js';
import type { AccountStatistics } from '../../hubspot-project/app/shared/types.ts';
import { startHarness, type Harness } from '../support/harness.js';
import { mirrorPolicy } from '../support/mirror-policy.js';
import { ana, bob, contoso, northwind, zoe } from '../support/people.js';
import { databaseTargets } from '../storage/databases.js';

/**
 * The settings page's statistics, from requests through the app against the local HubSpot: refusals and writes as the
 * audit log has them, views allowed, HubSpot calls and 429s as the instances counted them.
 */
const P = northwind.portalId;
const TOKEN_ROUTE = 'POST /oauth/2026-03/token';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function harness(shared?: { databaseUrl: string; tokenKeys: Buffer[] }): Promise<Harness> {
  const h = await startHarness({ env: { ACCESS_SOURCE: 'policy' }, ...shared });
  cleanups.push(() => h.close());
  return h;
}

/** Northwind installed by Ana, with the seeded levels mirrored (Bob: his own tickets only). */
async function installNorthwind(h: Harness) {
  await h.installDirect(P, ana.id);
  const saved = await h.signed({ method: 'PUT', path: '/api/v1/admin/policy', portalId: P, userId: ana.id, body: mirrorPolicy(northwind) });
  expect(saved.statusCode).toBe(200);
}

const view = (h: Harness, userId: number, ticketId: string) => h.signed({ path: `/api/v1/records/tickets/${ticketId}/access`, portalId: P, userId });

async function statistics(h: Harness, portalId = P, userId = ana.id) {
  const response = await h.signed({ path: '/api/v1/admin/statistics', portalId, userId });
  expect(response.statusCode, response.body).toBe(200);
  return response.json<AccountStatistics>();
}

const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const today = () => dayOf(Date.now());
/** The account's calls the local HubSpot answered or refused, its token endpoint aside (paced apart, no API limit). */
const apiCalls = (h: Harness) => h.fake.calls.all().filter((call) => `${call.method} ${call.route}` !== TOKEN_ROUTE);

describe('statistics for the settings page', () => {
  it("counts today's refusals by code, writes by outcome, views allowed, and every HubSpot call and 429 made for the account", async () => {
    const h = await harness();
    await installNorthwind(h);
    expect((await view(h, bob.id, '5001')).statusCode).toBe(403);
    expect((await view(h, bob.id, '5003')).statusCode).toBe(403);
    expect((await view(h, bob.id, '5002')).statusCode).toBe(200);
    // HubSpot answers the next ticket read 429 once: the scheduler waits and tries again.
    h.fake.switches.rateLimitNext(1, { retryAfterSeconds: 1, pathPrefix: '/crm/objects/2026-03/tickets/5002' });
    expect((await view(h, bob.id, '5002')).statusCode).toBe(200);
    const assigned = await h.signed({ method: 'POST', path: '/api/v1/tickets/5002/assign-to-me', portalId: P, userId: bob.id });
    expect(assigned.statusCode, assigned.body).toBe(200);

    const stats = await statistics(h);
    const calls = apiCalls(h);
    expect(calls.filter((call) => call.status === 429)).toHaveLength(1);

    expect(stats.window).toEqual({ from: isoDay(today() - 29 * DAY_MS), to: isoDay(today()), days: 30 });
    expect(stats.days.map((day) => day.day)).toEqual(Array.from({ length: 30 }, (_, i) => isoDay(today() - (29 - i) * DAY_MS)));
    const last = stats.days.at(-1)!;
    expect(last.refusals).toEqual([{ code: 'OWNED_ONLY_NOT_OWNER', count: 2 }]);
    // The policy save and the assignment.
    expect(last.writes).toEqual({ done: 2, failed: 0, unknown: 0 });
    expect(last.viewsAllowed).toBe(2);
    // Counted in the scheduler: each attempt, the one HubSpot refused included, and the statistics request's own.
    expect(last.hubspotCalls).toBe(calls.length);
    expect(last.hubspotRateLimited).toBe(1);
    expect(stats.refusalCodes).toEqual(['OWNED_ONLY_NOT_OWNER']);
    expect(stats.totals).toEqual({
      viewsAllowed: { current: 2, previous: 0 },
      refusals: { current: 2, previous: 0 },
      writes: { current: 2, previous: 0 },
      hubspotCalls: { current: calls.length, previous: 0 },
      hubspotRateLimited: { current: 1, previous: 0 },
    });
    for (const day of stats.days.slice(0, -1)) {
      expect(day).toEqual({ day: day.day, viewsAllowed: 0, refusals: [], writes: { done: 0, failed: 0, unknown: 0 }, hubspotCalls: 0, hubspotRateLimited: 0 });
    }
  });

  it('puts earlier entries and stored counts on their own UTC day, and the 30 days before the window into the comparison only', async () => {
    const h = await harness();
    await h.installDirect(P, ana.id);
    const audit = createAuditLog(h.database.db);
    const refusal = { portalId: P, userId: bob.id, action: 'GET /api/v1/records/:objectType/:id/access', outcome: 'refused' as const };
    // The last millisecond of the day three days ago, the first of the window, and one day before the window.
    await audit.record({ ...refusal, decisionCode: 'NO_PERMISSION' }, new Date(today() - 2 * DAY_MS - 1));
    await audit.record({ ...refusal, decisionCode: 'TEAM_ONLY_NOT_ON_TEAM' }, new Date(today() - 29 * DAY_MS));
    await audit.record({ ...refusal, decisionCode: 'NO_PERMISSION' }, new Date(today() - 30 * DAY_MS));
    await audit.record({ portalId: P, userId: bob.id, action: 'add-note', outcome: 'unknown' }, new Date(today() - 5 * DAY_MS + 1));
    await audit.record({ portalId: P, userId: bob.id, action: 'add-note', outcome: 'failed' }, new Date(today() - 61 * DAY_MS));
    await createUsageDays(h.database.db).add([
      { portalId: P, day: today() - 4 * DAY_MS, viewsAllowed: 7, hubspotCalls: 40, hubspotRateLimited: 3 },
      { portalId: P, day: today() - 45 * DAY_MS, viewsAllowed: 1, hubspotCalls: 5, hubspotRateLimited: 0 },
    ]);

    const stats = await statistics(h);
    const on = (daysAgo: number) => stats.days[29 - daysAgo]!;
    expect(on(3).refusals).toEqual([{ code: 'NO_PERMISSION', count: 1 }]);
    expect(on(29).refusals).toEqual([{ code: 'TEAM_ONLY_NOT_ON_TEAM', count: 1 }]);
    expect(on(5).writes).toEqual({ done: 0, failed: 0, unknown: 1 });
    expect(on(4)).toMatchObject({ viewsAllowed: 7, hubspotCalls: 40, hubspotRateLimited: 3 });
    const quiet = stats.days.filter((_, i) => ![29 - 3, 0, 29 - 5, 29 - 4, 29].includes(i));
    expect(quiet).toHaveLength(25);
    for (const day of quiet) expect(day).toMatchObject({ viewsAllowed: 0, refusals: [], writes: { done: 0, failed: 0, unknown: 0 }, hubspotRateLimited: 0 });
    expect(stats.totals.refusals).toEqual({ current: 2, previous: 1 });
    expect(stats.totals.writes).toEqual({ current: 1, previous: 0 });
    expect(stats.totals.viewsAllowed).toEqual({ current: 7, previous: 1 });
    expect(stats.totals.hubspotRateLimited).toEqual({ current: 3, previous: 0 });
    expect(stats.refusalCodes).toEqual(['NO_PERMISSION', 'TEAM_ONLY_NOT_ON_TEAM']);
  });

  it("never shows one account another account's figures", async () => {
    const h = await harness();
    await installNorthwind(h);
    await h.installDirect(contoso.portalId, zoe.id);
    expect((await view(h, bob.id, '5001')).statusCode).toBe(403);
    expect((await view(h, bob.id, '5002')).statusCode).toBe(200);
    const northwindCalls = (await statistics(h)).totals.hubspotCalls.current;
    expect(northwindCalls).toBeGreaterThan(0);

    const before = apiCalls(h).length;
    const stats = await statistics(h, contoso.portalId, zoe.id);
    // Only the calls made for Zoe's own statistics request (resolving her as a viewer).
    const contosoCalls = apiCalls(h).length - before;
    expect(stats.totals).toEqual({
      viewsAllowed: { current: 0, previous: 0 },
      refusals: { current: 0, previous: 0 },
      writes: { current: 0, previous: 0 },
      hubspotCalls: { current: contosoCalls, previous: 0 },
      hubspotRateLimited: { current: 0, previous: 0 },
    });
    expect(stats.refusalCodes).toEqual([]);
    // And Northwind's figures did not take Contoso's calls.
    expect((await statistics(h)).totals.hubspotCalls.current).toBe(apiCalls(h).length - contosoCalls);
  });

  describe.each(databaseTargets)('instances sharing a database ($title)', (target) => {
    it.skipIf(target.skip)('stores what each instance counted when it closes, adding to what the others stored', async () => {
      const created = await target.create();
      cleanups.push(created.cleanup);
      const shared = { databaseUrl: created.url, tokenKeys: [randomBytes(32)] };
      const counted: number[] = [];
      for (const views of [2, 3]) {
        const h = await harness(shared);
        await installNorthwind(h);
        for (let i = 0; i < views; i += 1) expect((await view(h, bob.id, '5002')).statusCode).toBe(200);
        // A clean close stores the counts: the next instance reads them from the database alone.
        await h.close();
        cleanups.pop();
        counted.push(apiCalls(h).length);
      }
      const reader = await harness(shared);
      await reader.installDirect(P, ana.id);
      const stored = await createUsageDays(reader.database.db).read(P, today(), today() + DAY_MS);
      expect(stored).toEqual([{ portalId: P, day: today(), viewsAllowed: 5, hubspotCalls: counted[0]! + counted[1]!, hubspotRateLimited: 0 }]);
      expect((await statistics(reader)).totals.viewsAllowed.current).toBe(5);
    });
  });
});
