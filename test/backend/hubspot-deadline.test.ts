import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../backend/src/errors.js';
import { createHubSpotApi, type HubSpotApi, type PortalApi } from '../../backend/src/hubspot/api.js';
import { Deadline } from '../../backend/src/hubspot/deadline.js';
import { isNetworkFailure } from '../../backend/src/hubspot/http-error.js';
import { HubSpotScheduler } from '../../backend/src/hubspot/scheduler.js';
import { createFakeHubSpot, loadSeed, type FakeHubSpot } from '../hubspot-fake/index.js';

const APP = { clientId: 'deadline-client', clientSecret: 'deadline-secret', appId: 1 };
const northwind = loadSeed().accounts[0]!;
const P = northwind.portalId;
const admin = northwind.users.find((user) => user.superAdmin)!;

const failureOf = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (error: unknown) => error,
  );

/**
 * The local HubSpot's timeoutNext(n) makes the next n API calls hang until the fake closes: an answer that never
 * comes. A call that ends at all was abandoned by its attempt's limit or its deadline.
 */
describe('a HubSpot call that hangs', () => {
  let fake: FakeHubSpot;
  let api: HubSpotApi;
  let token: string;
  /** HubSpot for one piece of work with its own deadline: 2 s, each attempt at most 200 ms unless it is the last. */
  const portal = (budgetMs = 2_000, attemptCapMs = 200): PortalApi =>
    api.forPortal(P, { deadline: new Deadline({ budgetMs, attemptCapMs }, 'the card'), token, userId: admin.id });
  beforeEach(async () => {
    fake = createFakeHubSpot({ app: APP });
    const base = await fake.listen();
    token = fake.tokens.issue(P, admin.id).accessToken;
    // One call in flight per lane: a slot a hung call kept would hold every later call until its deadline.
    const scheduler = new HubSpotScheduler({ maxAttempts: 3, baseBackoffMs: 1, maxConcurrentPerLane: 1 });
    api = createHubSpotApi({ apiBaseUrl: base, scheduler, getToken: async () => token });
  });
  afterEach(async () => {
    expect(fake.contract.violations()).toEqual([]);
    await fake.close();
  });

  it('is abandoned at each attempt limit and at the deadline, then given up as HUBSPOT_UNAVAILABLE, and its slot is free again', async () => {
    fake.switches.timeoutNext(3);
    const started = performance.now();
    const error = await failureOf(portal().getTicket('5001'));
    expect(performance.now() - started).toBeLessThan(2_000 + 500);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'HUBSPOT_UNAVAILABLE', message: 'HubSpot did not answer in time, and the card could not wait longer.' });
    const cause = (error as AppError).cause;
    expect(cause).toMatchObject({ name: 'TimeoutError' });
    expect(isNetworkFailure(cause)).toBe(true);
    // The only slot of the lane was released: the next call goes out and is answered.
    expect((await portal().getTicket('5001'))?.id).toBe('5001');
  });

  it('is retried once abandoned, when it only reads', async () => {
    fake.switches.timeoutNext(1);
    expect((await portal().getTicket('5001'))?.id).toBe('5001');
  });

  it('is never sent again once abandoned, when it creates a record (it may have arrived)', async () => {
    fake.switches.timeoutNext(1);
    const error = await failureOf(portal(500).createNoteOn('tickets', '5001', 'Called back', null, new Date('2026-03-01T10:00:00Z')));
    expect((error as AppError).code).toBe('HUBSPOT_UNAVAILABLE');
    // The hung attempt never answers; a second attempt would have been answered and counted.
    expect(fake.calls.count('POST', '/crm/objects/2026-03/notes')).toBe(0);
    expect((await portal().getTicket('5001'))?.id).toBe('5001');
  });

  it('releases its slot at its deadline: a call waiting behind it in a lane of one is answered within its own', async () => {
    fake.switches.timeoutNext(1);
    // One attempt only (no cap below the budget), so the hung call holds the slot until its deadline.
    const hung = failureOf(portal(500, 500).getTicket('5001'));
    const waiting = portal(3_000, 3_000);
    const started = performance.now();
    expect((await waiting.getTicket('5002'))?.id).toBe('5002');
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(await hung).toMatchObject({ code: 'HUBSPOT_UNAVAILABLE' });
  });
});
