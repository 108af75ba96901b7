import { afterEach, describe, expect, it, vi } from 'vitest';
import type { PortalApi } from '../../backend/src/hubspot/api.js';
import { Deadline, DEADLINES, type DeadlineSettings } from '../../backend/src/hubspot/deadline.js';
import { CONCURRENT_CALLS_PER_LANE } from '../../backend/src/hubspot/scheduler.js';
import { createDirectory } from '../../backend/src/viewer/directory.js';
import { loadSeed } from '../hubspot-fake/index.js';
import { startHarness, type Harness } from '../support/harness.js';

const northwind = loadSeed().accounts[0]!;
const P = northwind.portalId;
const admin = northwind.users.find((user) => user.superAdmin)!;
const colleague = northwind.users.find((user) => !user.superAdmin && !user.deactivated)!;
/** What the budget does not cover, on a machine shared with other suites: the answer's own work and a late timer. */
const MARGIN_MS = 750;
const TOKEN_PATH = '/oauth/2026-03/token';

/**
 * A card request's one budget, end to end, against the local HubSpot's hang switches: whatever HubSpot does, the card
 * gets our answer before its budget (plus the margin) is over, and what HubSpot eventually says is not lost.
 */
describe("a card request's deadline", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    if (h !== undefined) expect(h.fake.contract.violations()).toEqual([]);
    await h?.close();
    h = undefined;
  });

  async function start(deadlines?: Partial<DeadlineSettings>): Promise<Harness> {
    h = await startHarness(deadlines === undefined ? {} : { deadlines });
    return h;
  }

  async function timed<T>(work: Promise<T>): Promise<{ answer: T; ms: number }> {
    const started = performance.now();
    const answer = await work;
    return { answer, ms: performance.now() - started };
  }

  const me = (harness: Harness, userId = admin.id) => harness.signed({ path: '/api/v1/me', portalId: P, userId });

  it('answers 503 HUBSPOT_UNAVAILABLE within its budget when every HubSpot call hangs, whatever the route', async () => {
    const budgetMs = 600;
    const harness = await start({ card: { budgetMs, attemptCapMs: 300 } });
    await harness.installDirect(P, admin.id);
    harness.fake.switches.timeoutNext(1_000);
    for (const path of ['/api/v1/me', '/api/v1/records/tickets/5001/access', '/api/v1/contacts/6001/tickets']) {
      const { answer, ms } = await timed(harness.signed({ path, portalId: P, userId: admin.id }));
      expect(answer.statusCode).toBe(503);
      expect(answer.json().error).toMatchObject({
        code: 'HUBSPOT_UNAVAILABLE',
        message: 'HubSpot did not answer in time, and the card could not wait longer.',
      });
      expect(ms).toBeLessThan(budgetMs + MARGIN_MS);
    }
  });

  it("answers well within hubspot.fetch's 15 s with the production budget", async () => {
    const harness = await start();
    await harness.installDirect(P, admin.id);
    harness.fake.switches.timeoutNext(1_000);
    const { answer, ms } = await timed(me(harness));
    expect(answer.statusCode).toBe(503);
    expect(answer.json().error.code).toBe('HUBSPOT_UNAVAILABLE');
    expect(ms).toBeLessThan(DEADLINES.card.budgetMs + MARGIN_MS);
    expect(ms).toBeLessThan(15_000);
  });

  it("is not starved by hung calls filling the account's slots: they free at their deadlines, within the other card's own", async () => {
    const budgetMs = 1_500;
    // One attempt per call: the hung ones hold their slots (CONCURRENT_CALLS_PER_LANE per account and lane) until their deadlines.
    const harness = await start({ card: { budgetMs, attemptCapMs: budgetMs } });
    await harness.installDirect(P, admin.id);
    expect((await me(harness)).statusCode).toBe(200);
    harness.fake.switches.timeoutNext(CONCURRENT_CALLS_PER_LANE);
    const finished: string[] = [];
    const hung = Array.from({ length: CONCURRENT_CALLS_PER_LANE }, (_, i) =>
      harness.signed({ path: `/api/v1/records/tickets/${5001 + (i % 10)}/access`, portalId: P, userId: admin.id }).then((answer) => {
        finished.push('hung');
        return answer;
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 700));
    const other = await timed(
      me(harness, colleague.id).then((answer) => {
        finished.push('other');
        return answer;
      }),
    );
    expect(other.answer.statusCode).toBe(200);
    expect(other.answer.json()).toMatchObject({ userId: colleague.id });
    expect(other.ms).toBeLessThan(budgetMs);
    for (const answer of await Promise.all(hung)) {
      expect(answer.statusCode).toBe(503);
      expect(answer.json().error.code).toBe('HUBSPOT_UNAVAILABLE');
    }
    // It waited for a hung call's slot: it could not finish before one of them had been given up.
    expect(finished.indexOf('other')).toBeGreaterThan(0);
  });

  it('stops waiting for a slow token refresh at its deadline; the refresh finishes, commits, and serves the next request', async () => {
    const budgetMs = 800;
    const harness = await start({ card: { budgetMs, attemptCapMs: budgetMs } });
    const expired = await harness.installExpired(P, admin.id);
    harness.fake.switches.timeoutNext(1, { pathPrefix: TOKEN_PATH, forMs: 2_000 });
    const cards = await Promise.all(Array.from({ length: 3 }, () => timed(me(harness))));
    for (const { answer, ms } of cards) {
      expect(answer.statusCode).toBe(503);
      expect(answer.json().error).toMatchObject({
        code: 'HUBSPOT_UNAVAILABLE',
        message: 'Renewing the HubSpot access token took too long, and the card could not wait longer.',
      });
      expect(ms).toBeLessThan(budgetMs + MARGIN_MS);
    }
    // No card's deadline aborted the refresh they shared: HubSpot's late answer is committed.
    await vi.waitFor(async () => expect((await harness.installations.get(P))?.accessToken).not.toBe(expired), { timeout: 5_000, interval: 100 });
    const next = await timed(me(harness));
    expect(next.answer.statusCode).toBe(200);
    expect(next.ms).toBeLessThan(budgetMs);
    expect(harness.fake.calls.count('POST', TOKEN_PATH)).toBe(1);
  });

  it('answers within its budget while the token endpoint hangs, and recovers without a restart once it answers again', async () => {
    const budgetMs = 800;
    const harness = await start({ card: { budgetMs, attemptCapMs: budgetMs }, tokenCall: { budgetMs: 1_500, attemptCapMs: 1_500 } });
    await harness.installExpired(P, admin.id);
    harness.fake.switches.timeoutNext(1, { pathPrefix: TOKEN_PATH });
    const answers: number[] = [];
    await vi.waitFor(
      async () => {
        const { answer, ms } = await timed(me(harness));
        answers.push(answer.statusCode);
        expect(ms).toBeLessThan(budgetMs + MARGIN_MS);
        if (answer.statusCode !== 200) expect(answer.json().error.code).toBe('HUBSPOT_UNAVAILABLE');
        expect(answer.statusCode).toBe(200);
      },
      { timeout: 8_000, interval: 50 },
    );
    // The hung refresh held every card until its own deadline, then gave up; the next refresh got through.
    expect(answers[0]).toBe(503);
    expect((await harness.installations.get(P))?.status).toBe('active');
  });
});

describe('a HubSpot answer several requests wait for', () => {
  it('is waited for by each request until its own deadline, not the deadline of the request that asked first', async () => {
    let answer = (_user: unknown) => {};
    const user = new Promise((resolve) => (answer = resolve));
    // Only what resolveViewer's first step needs: the user look-up, which HubSpot is slow to answer.
    const portal = (budgetMs: number) =>
      ({ portalId: P, deadline: new Deadline({ budgetMs, attemptCapMs: budgetMs }, 'the card'), getUser: () => user }) as unknown as PortalApi;
    const directory = createDirectory({ ttlMs: 60_000, now: Date.now });
    // A later request asked first (its deadline ends later); an earlier one, nearly out of time, asks for the same viewer.
    const first = directory.resolveViewer(portal(5_000), admin.id).catch((error: unknown) => error);
    const started = performance.now();
    const error = await directory.resolveViewer(portal(300), admin.id).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'HUBSPOT_UNAVAILABLE', message: 'HubSpot did not answer in time, and the card could not wait longer.' });
    expect(performance.now() - started).toBeLessThan(300 + MARGIN_MS);
    answer(undefined);
    // The load itself went on for the request that started it (HubSpot answered: no such user).
    expect(await first).toMatchObject({ code: 'USER_NOT_IN_PORTAL' });
  });
});
