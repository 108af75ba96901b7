import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../backend/src/errors.js';
import { createHubSpotApi, type PortalApi } from '../../backend/src/hubspot/api.js';
import { isNetworkFailure } from '../../backend/src/hubspot/http-error.js';
import { HubSpotScheduler } from '../../backend/src/hubspot/scheduler.js';
import { createFakeHubSpot, loadSeed, type FakeHubSpot } from '../hubspot-fake/index.js';

const APP = { clientId: 'deadline-client', clientSecret: 'deadline-secret', appId: 1 };
const northwind = loadSeed().accounts[0]!;
const P = northwind.portalId;
const admin = northwind.users.find((user) => user.superAdmin)!;

/**
 * The local HubSpot's timeoutNext(n) makes the next n API calls hang until the fake closes: an answer that never
 * comes. A call that ends at all was abandoned by our per-attempt limit.
 */
describe('a HubSpot call that hangs', () => {
  let fake: FakeHubSpot;
  let hubspot: PortalApi;
  beforeEach(async () => {
    fake = createFakeHubSpot({ app: APP });
    const base = await fake.listen();
    const token = fake.tokens.issue(P, admin.id).accessToken;
    // One call in flight per lane: a slot a hung call kept would hold every later call until the scheduler's budget ran out.
    const scheduler = new HubSpotScheduler({ maxAttempts: 2, baseBackoffMs: 1, maxConcurrentPerLane: 1 });
    hubspot = createHubSpotApi({ apiBaseUrl: base, scheduler, getToken: async () => token, requestTimeoutMs: 200 }).forPortal(P, token, admin.id);
  });
  afterEach(async () => {
    expect(fake.contract.violations()).toEqual([]);
    await fake.close();
  });

  const failureOf = (promise: Promise<unknown>) =>
    promise.then(
      () => {
        throw new Error('expected the call to fail');
      },
      (error: unknown) => error,
    );

  it('is abandoned at the per-attempt limit, retried, then given up as HUBSPOT_UNAVAILABLE, and its slot is free again', async () => {
    fake.switches.timeoutNext(2);
    const error = await failureOf(hubspot.getTicket('5001'));
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('HUBSPOT_UNAVAILABLE');
    const cause = (error as AppError).cause;
    expect(cause).toMatchObject({ name: 'TimeoutError' });
    expect(isNetworkFailure(cause)).toBe(true);
    // The only slot of the lane was released: the next call goes out and is answered.
    expect((await hubspot.getTicket('5001'))?.id).toBe('5001');
  });

  it('is retried once abandoned, when it only reads', async () => {
    fake.switches.timeoutNext(1);
    expect((await hubspot.getTicket('5001'))?.id).toBe('5001');
  });

  it('is never sent again once abandoned, when it creates a record (it may have arrived)', async () => {
    fake.switches.timeoutNext(1);
    const error = await failureOf(hubspot.createNote('5001', 'Called back', null, new Date('2026-03-01T10:00:00Z')));
    expect((error as AppError).code).toBe('HUBSPOT_UNAVAILABLE');
    // The hung attempt never answers; a second attempt would have been answered and counted.
    expect(fake.calls.count('POST', '/crm/objects/2026-03/notes')).toBe(0);
    expect((await hubspot.getTicket('5001'))?.id).toBe('5001');
  });
});
