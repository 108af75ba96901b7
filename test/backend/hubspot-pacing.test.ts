import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHubSpotApi, type PortalApi } from '../../backend/src/hubspot/api.js';
import { Deadline } from '../../backend/src/hubspot/deadline.js';
import { HubSpotScheduler } from '../../backend/src/hubspot/scheduler.js';
import { createFakeHubSpot, loadSeed, type FakeHubSpot } from '../hubspot-fake/index.js';

const APP = { clientId: 'pacing-client', clientSecret: 'pacing-secret', appId: 1 };
const northwind = loadSeed().accounts[0]!;
const P = northwind.portalId;
const admin = northwind.users.find((user) => user.superAdmin)!;

/** The backend's HubSpot client against the local HubSpot, with real timers: what HubSpot counts is what it saw. */
describe("pacing from what HubSpot says, against the local HubSpot's limits", () => {
  let fake: FakeHubSpot;
  let base: string;
  let token: string;
  beforeEach(async () => {
    fake = createFakeHubSpot({ app: APP });
    base = await fake.listen();
    token = fake.tokens.issue(P, admin.id).accessToken;
  });
  afterEach(async () => {
    expect(fake.contract.violations()).toEqual([]);
    await fake.close();
  });

  // Pacing, not deadlines, is under test here: a budget no test comes near.
  const portal = (): PortalApi =>
    createHubSpotApi({ apiBaseUrl: base, scheduler: new HubSpotScheduler(), getToken: async () => token }).forPortal(P, {
      deadline: new Deadline({ budgetMs: 60_000, attemptCapMs: 5_000 }, 'the test'),
      token,
      userId: admin.id,
    });
  const refused = () => fake.calls.all().filter((call) => call.status === 429);

  it("learns the account's window from X-HubSpot-RateLimit-Max and -Interval-Milliseconds and stays inside it", async () => {
    // Not HubSpot's documented 110 per 10 s: the account's answers say so.
    fake.switches.rateLimits.general = { max: 12, windowMs: 1_000 };
    const hubspot = portal();
    const tickets = await Promise.all(Array.from({ length: 30 }, () => hubspot.getTicket('5001')));
    expect(tickets.every((ticket) => ticket?.id === '5001')).toBe(true);
    expect(refused()).toEqual([]);
    expect(fake.calls.count('GET', '/crm/objects/2026-03/tickets/:ticketId')).toBe(30);
  });

  it('leaves what other clients of the app used, as X-HubSpot-RateLimit-Remaining says', async () => {
    fake.switches.rateLimits.general = { max: 20, windowMs: 2_000 };
    // Another instance of the backend, with the same install token, used 15 of the account's 20.
    for (let i = 0; i < 15; i += 1)
      expect((await fetch(`${base}/crm/objects/2026-03/tickets/5001`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    const hubspot = portal();
    // Our window has room for 20; HubSpot's first answer says 4 are left.
    await hubspot.getTicket('5001');
    await Promise.all(Array.from({ length: 10 }, () => hubspot.getTicket('5002')));
    expect(refused()).toEqual([]);
    expect(fake.calls.count('GET', '/crm/objects/2026-03/tickets/:ticketId')).toBe(26);
  });

  it('keeps searches within five a second in a lane of their own, which ordinary calls do not wait behind', async () => {
    const hubspot = portal();
    const answered: string[] = [];
    const searches = Array.from({ length: 12 }, () => hubspot.countContactTickets('6001').then(() => answered.push('search')));
    const read = hubspot.getTicket('5001').then(() => answered.push('read'));
    await Promise.all([...searches, read]);
    expect(refused()).toEqual([]);
    expect(fake.calls.count('POST', '/crm/objects/2026-03/tickets/search')).toBe(12);
    // Only the first five searches can be answered before the read.
    expect(answered.indexOf('read')).toBeLessThanOrEqual(5);
  });
});
