import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEADLINES } from '../../backend/src/hubspot/deadline.js';
import { createFakeHubSpot, loadSeed, type FakeHubSpot } from '../hubspot-fake/index.js';
import { TEST_APP } from '../support/harness.js';
import { cardRequest, installDirect, newTokenKey, startBackendProcess, type BackendProcess } from './support/backend-process.js';
import { FaultTally } from './support/tally.js';

const account = loadSeed().accounts[0]!;
const admin = account.users.find((user) => user.superAdmin)!;
const viewers = account.users.filter((user) => !user.deactivated);
const TOKEN_PATH = '/oauth/2026-03/token';
/** The card's budget, plus what it does not cover, for a child process over loopback on a machine shared with others. */
const ANSWER_MS = DEADLINES.card.budgetMs + 2_000;
/** How long a storm's end may take to stop showing: the token endpoint's own deadline for a hung refresh, and more. */
const RECOVERY_MS = DEADLINES.tokenCall.budgetMs + 15_000;

interface Storm {
  name: string;
  /** The token endpoint storms need a refresh: the stored access token is made to need one first. */
  refresh: boolean;
  /** Whether a round may come through the storm without a 5xx (every storm must still be answered in time, documented). */
  mayPassUnseen?: boolean;
  start(fake: FakeHubSpot): void;
}

/**
 * HubSpot misbehaving, from outside, against the real backend process on SQLite: storms of 5xx, 429, hung calls and
 * reset connections, on the API and on the token endpoint. During a storm every card answers, within its deadline,
 * either normally or with a documented code; after the storm the same process serves cards again by itself.
 */
describe('HubSpot storms against a backend process', () => {
  const tally = new FaultTally();
  let fake: FakeHubSpot;
  let dir: string;
  let databaseUrl: string;
  let tokenKey: string;
  let backend: BackendProcess;
  const slowest = { ms: 0, what: '' };
  const recoveries: Array<{ name: string; ms: number }> = [];

  beforeAll(async () => {
    fake = createFakeHubSpot({ app: TEST_APP });
    const fakeUrl = await fake.listen();
    dir = mkdtempSync(join(tmpdir(), 'vg-storms-'));
    databaseUrl = `sqlite:${join(dir, 'viewer-guard.db')}`;
    tokenKey = newTokenKey();
    // Viewers are looked up again every second, so storms reach the Users and Owners APIs too.
    backend = await startBackendProcess({ fakeUrl, databaseUrl, tokenKey, env: { VIEWER_CACHE_TTL_SECONDS: '1' } });
    await installDirect({ databaseUrl, tokenKey, fake, portalId: account.portalId, userId: admin.id });
  });

  afterAll(async () => {
    await backend.kill();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
    const recovered = recoveries.reduce((worst, one) => (one.ms > worst.ms ? one : worst), { name: '', ms: 0 });
    tally.line(
      `HubSpot storms: ${recoveries.length} (API and token endpoint: 5xx, 429, hangs, resets); slowest card answer ${(slowest.ms / 1000).toFixed(1)} s ` +
        `(budget ${DEADLINES.card.budgetMs / 1000} s); each recovered without a restart, the slowest (${recovered.name}) in ${(recovered.ms / 1000).toFixed(1)} s`,
    );
    tally.save();
  });

  /** One card request, answered within its deadline, tallied. */
  async function card(path: string, userId: number, what: string, method: 'GET' | 'POST' = 'GET', body?: unknown) {
    const started = performance.now();
    const answer = await cardRequest(backend, { method, path, portalId: account.portalId, userId, body });
    const ms = performance.now() - started;
    if (ms > slowest.ms) Object.assign(slowest, { ms, what: `${what}: ${method} ${path}` });
    tally.answer(answer.status, answer.body, `${what}: ${method} ${path}`);
    expect(ms, `${what}: ${method} ${path} took ${Math.round(ms)} ms`).toBeLessThan(ANSWER_MS);
    return answer;
  }

  /** Card views by different users across the card's routes, and a note: what an account does at once. */
  const round = (what: string) =>
    Promise.all([
      ...viewers.map((viewer, index) => card(`/api/v1/records/tickets/${5001 + index}/access`, viewer.id, what)),
      card('/api/v1/contacts/6001/tickets', admin.id, what),
      card(`/api/v1/me`, viewers[1]!.id, what),
      card('/api/v1/tickets/5001/notes', admin.id, what, 'POST', { body: `Storm check (${what})` }),
    ]);

  /** Until the admin's cards are answered normally again; how long that took. */
  async function recovery(what: string): Promise<number> {
    const started = performance.now();
    for (;;) {
      const answers = await Promise.all([
        card('/api/v1/records/tickets/5001/access', admin.id, `${what}, recovering`),
        card('/api/v1/contacts/6001/tickets', admin.id, `${what}, recovering`),
      ]);
      if (answers.every((answer) => answer.status === 200)) return performance.now() - started;
      expect(performance.now() - started, `${what}: not recovered`).toBeLessThan(RECOVERY_MS);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  const storms: Storm[] = [
    { name: 'API 5xx storm', refresh: false, start: (hubspot) => hubspot.switches.failNext(60, 503) },
    { name: 'API 429 storm', refresh: false, start: (hubspot) => hubspot.switches.rateLimitNext(60, { retryAfterSeconds: 1 }) },
    { name: 'API hang storm', refresh: false, start: (hubspot) => hubspot.switches.timeoutNext(30) },
    // A reset read is tried again on a new connection, and a warm view makes one call: a round may get through on its
    // retries once the resets are used up, so this storm is not bound to reach a card as a 5xx.
    { name: 'API reset storm', refresh: false, mayPassUnseen: true, start: (hubspot) => hubspot.switches.resetNext(30, { afterMs: 200 }) },
    { name: 'token endpoint 5xx storm', refresh: true, start: (hubspot) => hubspot.switches.failNext(20, 503, TOKEN_PATH) },
    {
      name: 'token endpoint 429 storm',
      refresh: true,
      start: (hubspot) => hubspot.switches.rateLimitNext(20, { retryAfterSeconds: 1, pathPrefix: TOKEN_PATH }),
    },
    { name: 'token endpoint hang', refresh: true, start: (hubspot) => hubspot.switches.timeoutNext(3, { pathPrefix: TOKEN_PATH }) },
    { name: 'token endpoint reset storm', refresh: true, start: (hubspot) => hubspot.switches.resetNext(20, { pathPrefix: TOKEN_PATH, afterMs: 200 }) },
  ];

  it.each(storms)('$name: every card answers in time with a documented code, and the same process recovers', async (storm) => {
    expect((await card('/api/v1/records/tickets/5001/access', admin.id, `${storm.name}, before`)).status).toBe(200);
    if (storm.refresh) {
      // The install's access token needs a refresh before the next call (a fresh one: the last is long since used).
      await installDirect({ databaseUrl, tokenKey, fake, portalId: account.portalId, userId: admin.id, accessTokenTtlMs: 0 });
    }
    storm.start(fake);
    tally.fault();
    try {
      const answers = await round(storm.name);
      if (storm.mayPassUnseen !== true) expect(answers.some((answer) => answer.status >= 500)).toBe(true);
    } finally {
      // Whatever this storm left queued must not meet the next one's calls.
      fake.switches.clearFailures();
    }
    recoveries.push({ name: storm.name, ms: await recovery(storm.name) });
    expect(backend.alive()).toBe(true);
    expect(tally.undocumented).toEqual([]);
    expect(fake.contract.violations()).toEqual([]);
  });
});
