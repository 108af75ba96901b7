import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSeed } from '../hubspot-fake/index.js';
import { startHarness, type Harness } from '../support/harness.js';

const northwind = loadSeed().accounts[0]!;
const P = northwind.portalId;
const ana = northwind.users.find((user) => user.superAdmin)!;
const bob = northwind.users.find((user) => user.id === 2002)!;
// Ticket 5005 is Dev's; Dev, like Bob, is on team 302 (Support US). Ticket 5002 is Bob's own.
const devsTicket = northwind.tickets.find((ticket) => ticket.id === '5005')!;
const dev = northwind.owners.find((owner) => String(owner.id) === devsTicket.properties.hubspot_owner_id)!;
const bobsTicket = northwind.tickets.find((ticket) => ticket.id === '5002')!;

describe('edit never wider than view, through the API (ACCESS_SOURCE=policy)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { ACCESS_SOURCE: 'policy' } });
    await h.installDirect(P, ana.id);
    expect(northwind.users.find((user) => user.id === dev.userId)?.primaryTeamId).toBe('302');
    expect(bob.primaryTeamId).toBe('302');
  });
  afterAll(async () => h.close());

  const putPolicy = (body: unknown) => h.signed({ method: 'PUT', path: '/api/v1/admin/policy', portalId: P, userId: ana.id, body });
  const moveStage = (ticketId: string) =>
    h.signed({ method: 'POST', path: `/api/v1/tickets/${ticketId}/stage`, portalId: P, userId: bob.id, body: { stageId: '4' } });

  it('refuses to save a rule whose Edit reaches past its View, naming the rule', async () => {
    const version = async () => (await h.signed({ path: '/api/v1/admin/policy', portalId: P, userId: ana.id })).json().version;
    const before = await version();
    const refused = await putPolicy({ users: { '2002': { tickets: { view: 'owned', edit: 'team' } } } });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().error).toMatchObject({
      code: 'VALIDATION_FAILED',
      details: [
        {
          field: 'body.users.2002.tickets.edit',
          message: "user 2002: tickets Edit 'Team' would reach tickets that View 'Owned only' hides; set Edit to 'Owned only' or narrower, or widen View",
        },
      ],
    });
    expect(await version()).toBe(before);
  });

  it("caps a team's Edit at the user's own View: Bob cannot move the stage of a team ticket he cannot open", async () => {
    const saved = await putPolicy({ users: { '2002': { tickets: { view: 'owned' } } }, teams: { '302': { tickets: { edit: 'team' } } } });
    expect(saved.statusCode).toBe(200);
    h.fake.calls.reset();

    const view = await h.signed({ path: `/api/v1/records/tickets/${devsTicket.id}/access`, portalId: P, userId: bob.id });
    expect(view.statusCode).toBe(403);
    const moved = await moveStage(devsTicket.id);
    expect(moved.statusCode).toBe(403);
    expect(moved.json().error.code).toBe('OWNED_ONLY_NOT_OWNER');
    expect(moved.body).not.toContain(devsTicket.properties.subject);
    expect(h.fake.calls.all().filter((call) => call.method !== 'GET' && call.route.startsWith('/crm/'))).toEqual([]);

    const explained = await h.signed({
      method: 'POST',
      path: '/api/v1/admin/explain',
      portalId: P,
      userId: ana.id,
      body: { userId: bob.id, objectType: 'tickets', recordId: devsTicket.id, action: 'edit' },
    });
    expect(explained.json().trace.policyRule).toEqual({
      level: 'owned',
      source: 'policy',
      rule: "team 302, limited to View's level from user 2002",
      configured: true,
    });

    // The same rules still let him move his own ticket: the cap narrows Edit to View, not to nothing.
    const own = await moveStage(bobsTicket.id);
    expect(own.statusCode).toBe(200);
  });
});
