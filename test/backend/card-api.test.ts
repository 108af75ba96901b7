import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSeed } from '../hubspot-fake/index.js';
import { startHarness, type Harness } from '../support/harness.js';
import { mirrorPolicy } from '../support/mirror-policy.js';

const seed = loadSeed();
const [northwind, contoso] = seed.accounts as [(typeof seed.accounts)[0], (typeof seed.accounts)[0]];
const byName = (first: string) => northwind.users.find((user) => user.firstName === first)!;
const [ana, bob, carla, dev, erin, farid] = ['Ana', 'Bob', 'Carla', 'Dev', 'Erin', 'Farid'].map(byName) as [
  ReturnType<typeof byName>,
  ...ReturnType<typeof byName>[],
];
const zoe = contoso.users.find((user) => user.superAdmin)!;
const P = northwind.portalId;

describe('card API with the policy source (levels mirrored by the admin)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { ACCESS_SOURCE: 'policy' } });
    await h.installDirect(P, ana.id);
    await h.installDirect(contoso.portalId, zoe.id);
    const saved = await h.signed({ method: 'PUT', path: '/api/v1/admin/policy', portalId: P, userId: ana.id, body: mirrorPolicy(northwind) });
    expect(saved.statusCode).toBe(200);
  });
  afterAll(async () => h.close());

  const access = (userId: number, objectType: string, id: string) => h.signed({ path: `/api/v1/records/${objectType}/${id}/access`, portalId: P, userId });

  it("refuses an owned-only user someone else's ticket, naming the owner and the fix", async () => {
    const response = await access(bob!.id, 'tickets', '5001');
    expect(response.statusCode).toBe(403);
    const error = response.json().error;
    expect(error.code).toBe('OWNED_ONLY_NOT_OWNER');
    expect(error.message).toBe('You can only open tickets you own. This one is owned by Ana Silva.');
    expect(error.fix).toContain('ask Ana to reassign it');
  });

  it('lets the owned-only user work on their own ticket, and explains what they still cannot do', async () => {
    const response = await access(bob!.id, 'tickets', '5002');
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.record).toMatchObject({ title: 'Cannot reset password', owner: { name: 'Bob Stone' } });
    expect(body.verdicts.view).toMatchObject({ allowed: true, code: 'ALLOWED_OWNER' });
    expect(body.verdicts.edit).toMatchObject({ allowed: true });
    expect(body.verdicts.delete).toMatchObject({
      allowed: false,
      code: 'NO_PERMISSION',
      message: "You don't have the Delete permission for tickets in HubSpot.",
    });
    expect(body.verdicts).not.toHaveProperty('communicate');
  });

  it('lets the Super Admin see everything', async () => {
    for (const ticket of northwind.tickets) expect((await access(ana.id, 'tickets', ticket.id)).statusCode).toBe(200);
  });

  it('lets a team user see team-owned tickets and not others', async () => {
    // Farid: Team (+unassigned) view, primary team Support EU only. Carla owns 5003 and is in Support EU.
    expect((await access(farid!.id, 'tickets', '5003')).json().verdicts.view.code).toBe('ALLOWED_TEAM');
    const other = await access(farid!.id, 'tickets', '5002');
    expect(other.statusCode).toBe(403);
    expect(other.json().error.code).toBe('TEAM_ONLY_OTHER_TEAM');
    expect(other.json().error.message).toContain('Bob Stone');
    // Carla's secondary team (Support US) counts too.
    expect((await access(carla!.id, 'tickets', '5002')).statusCode).toBe(200);
  });

  it('applies the +unassigned variants to unassigned tickets', async () => {
    expect((await access(dev!.id, 'tickets', '5004')).json().verdicts.view.code).toBe('ALLOWED_UNASSIGNED');
    expect((await access(farid!.id, 'tickets', '5004')).json().verdicts).toMatchObject({
      view: { allowed: true },
      edit: { allowed: false, code: 'TEAM_ONLY_UNASSIGNED' },
    });
    expect((await access(bob!.id, 'tickets', '5004')).json().error.code).toBe('OWNED_ONLY_UNASSIGNED');
  });

  it('names the missing permission for a user with no ticket access', async () => {
    const response = await access(erin!.id, 'tickets', '5001');
    expect(response.json().error).toMatchObject({
      code: 'NO_PERMISSION',
      message: "You don't have the View permission for tickets in HubSpot.",
      fix: 'Ask a Super Admin to give you View access to tickets.',
    });
  });

  it("lists a contact's tickets the viewer may see, with how many are hidden and why", async () => {
    const response = await h.signed({ path: '/api/v1/contacts/6002/tickets', portalId: P, userId: bob!.id });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.tickets.map((ticket: { id: string }) => ticket.id)).toEqual(['5007']);
    expect(body.tickets[0].owner).toEqual({ ownerId: 7102, name: 'Bob Stone' });
    expect(body.hidden).toEqual({ count: 1, exact: true, reasons: [{ code: 'OWNED_ONLY_NOT_OWNER', message: 'not owned by you', count: 1 }] });
    expect(body.nextPage).toBeNull();
    const all = (await h.signed({ path: '/api/v1/contacts/6001/tickets', portalId: P, userId: ana.id })).json();
    expect(all.tickets).toHaveLength(6);
    expect(all.hidden.count).toBe(0);
  });

  it('refuses a write without changing anything in HubSpot, and audits the refusal', async () => {
    h.fake.calls.reset();
    const response = await h.signed({ method: 'POST', path: '/api/v1/tickets/5001/assign-to-me', portalId: P, userId: bob!.id });
    expect(response.statusCode).toBe(403);
    expect(response.json().error.code).toBe('OWNED_ONLY_NOT_OWNER');
    expect(h.fake.calls.count('PATCH', '/crm/objects/2026-03/tickets/:ticketId')).toBe(0);
    const audit = (await h.signed({ path: `/api/v1/admin/audit?user=${bob!.id}&outcome=refused`, portalId: P, userId: ana.id })).json();
    expect(audit.entries[0]).toMatchObject({
      action: 'assign-to-me',
      recordId: '5001',
      decisionCode: 'OWNED_ONLY_NOT_OWNER',
      source: 'policy',
      outcome: 'refused',
    });
  });

  it('performs allowed writes with the install token and audits them', async () => {
    const assigned = await h.signed({ method: 'POST', path: '/api/v1/tickets/5008/assign-to-me', portalId: P, userId: dev!.id });
    expect(assigned.statusCode).toBe(200);
    expect(assigned.json().result.ownerId).toBe(7104);
    expect((await access(dev!.id, 'tickets', '5008')).json().verdicts.view.code).toBe('ALLOWED_OWNER');

    const badStage = await h.signed({ method: 'POST', path: '/api/v1/tickets/5008/stage', portalId: P, userId: dev!.id, body: { stageId: '99' } });
    expect(badStage.statusCode).toBe(400);
    expect(badStage.json().error.details[0]).toMatchObject({ field: 'body.stageId', message: expect.stringContaining('2 (Waiting on contact)') });
    const moved = await h.signed({ method: 'POST', path: '/api/v1/tickets/5008/stage', portalId: P, userId: dev!.id, body: { stageId: '3' } });
    expect(moved.json().result.stageId).toBe('3');

    const note = await h.signed({ method: 'POST', path: '/api/v1/tickets/5008/notes', portalId: P, userId: dev!.id, body: { body: 'Called the customer.' } });
    expect(note.statusCode).toBe(200);
    const emptyNote = await h.signed({ method: 'POST', path: '/api/v1/tickets/5008/notes', portalId: P, userId: dev!.id, body: { body: '   ' } });
    expect(emptyNote.statusCode).toBe(400);
    expect(emptyNote.json().error.details[0].field).toBe('body.body');

    const created = await h.signed({
      method: 'POST',
      path: '/api/v1/contacts/6002/tickets',
      portalId: P,
      userId: bob!.id,
      body: { subject: 'Damaged parcel', priority: 'HIGH' },
    });
    expect(created.statusCode).toBe(200);
    const listed = (await h.signed({ path: '/api/v1/contacts/6002/tickets', portalId: P, userId: bob!.id })).json();
    expect(listed.tickets.map((ticket: { subject: string }) => ticket.subject)).toContain('Damaged parcel');

    // A write HubSpot rejects is audited as failed, with HubSpot's correlation id for support.
    h.fake.switches.failNext(1, 400, '/crm/objects/2026-03/notes');
    const failed = await h.signed({ method: 'POST', path: '/api/v1/tickets/5008/notes', portalId: P, userId: dev!.id, body: { body: 'Rejected by HubSpot' } });
    expect(failed.statusCode).toBe(502);
    const failures = (await h.signed({ path: '/api/v1/admin/audit?outcome=failed', portalId: P, userId: ana.id })).json();
    expect(failures.entries[0]).toMatchObject({ action: 'add-note', outcome: 'failed', hubspotCorrelationId: expect.stringMatching(/^[0-9a-f-]{36}$/) });

    const audit = (await h.signed({ path: '/api/v1/admin/audit?outcome=done&limit=2', portalId: P, userId: ana.id })).json();
    expect(audit.entries.map((entry: { action: string }) => entry.action)).toEqual(['create-ticket', 'add-note']);
    const next = (await h.signed({ path: `/api/v1/admin/audit?outcome=done&limit=2&before=${audit.nextCursor}`, portalId: P, userId: ana.id })).json();
    expect(next.entries.map((entry: { action: string }) => entry.action)).toEqual(['move-stage', 'assign-to-me']);
  });

  it("never lets one account read or change another account's records, on any route", async () => {
    const routes: Array<{ method: 'GET' | 'POST'; path: string; body?: unknown }> = [
      { method: 'GET', path: '/api/v1/records/tickets/5001/access' },
      { method: 'GET', path: '/api/v1/records/contacts/6001/access' },
      { method: 'GET', path: '/api/v1/contacts/6001/tickets' },
      { method: 'POST', path: '/api/v1/tickets/5001/assign-to-me' },
      { method: 'POST', path: '/api/v1/tickets/5001/stage', body: { stageId: '2' } },
      { method: 'POST', path: '/api/v1/tickets/5001/notes', body: { body: 'x' } },
      { method: 'POST', path: '/api/v1/contacts/6001/tickets', body: { subject: 'x' } },
    ];
    h.fake.calls.reset();
    for (const route of routes) {
      // Zoe is Super Admin of Contoso: Northwind's ids do not exist in her account.
      const own = await h.signed({ ...route, portalId: contoso.portalId, userId: zoe.id });
      expect(own.statusCode, route.path).toBe(404);
      expect(own.json().error.code).toBe('RECORD_NOT_FOUND');
      // Claiming Northwind's portal id does not help: she is not a Northwind user.
      const claimed = await h.signed({ ...route, portalId: P, userId: zoe.id });
      expect(claimed.statusCode, route.path).toBe(403);
      expect(claimed.json().error.code).toBe('USER_NOT_IN_PORTAL');
    }
    // A search is a read: the list searches while it reads the contact, and finds nothing of another account.
    expect(h.fake.calls.all().filter((call) => call.method !== 'GET' && call.route.startsWith('/crm/') && !call.route.endsWith('/search'))).toHaveLength(0);
  });

  it('keeps the settings API for Super Admins and explains any decision', async () => {
    const refused = await h.signed({ path: '/api/v1/admin/status', portalId: P, userId: bob!.id });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('NOT_AN_ADMIN');
    const status = (await h.signed({ path: '/api/v1/admin/status', portalId: P, userId: ana.id })).json();
    expect(status.installation).toMatchObject({ status: 'active', installedBy: { userId: ana.id, name: 'Ana Silva' } });
    expect(status.scopes.missing).toEqual([]);
    const explained = (
      await h.signed({
        method: 'POST',
        path: '/api/v1/admin/explain',
        portalId: P,
        userId: ana.id,
        body: { userId: bob!.id, objectType: 'tickets', recordId: '5001', action: 'view' },
      })
    ).json();
    expect(explained.decision.code).toBe('OWNED_ONLY_NOT_OWNER');
    expect(explained.trace.policyRule).toMatchObject({ level: 'owned', rule: `user ${bob!.id}` });
    const invalid = await h.signed({
      method: 'PUT',
      path: '/api/v1/admin/policy',
      portalId: P,
      userId: ana.id,
      body: { default: { tickets: { view: 'most' } } },
    });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().error.details[0].field).toBe('body.default.tickets.view');
    const directory = (await h.signed({ path: '/api/v1/admin/directory', portalId: P, userId: ana.id })).json();
    expect(directory.users.map((user: { name: string }) => user.name)).toContain('Bob Stone');
    expect(directory.users.find((user: { id: number }) => user.id === carla!.id).teamIds).toEqual(['301', '302']);
    expect(directory.teams).toEqual(northwind.teams.map(({ id, name }) => ({ id, name })));
    expect(directory.roles.map((role: { name: string }) => role.name)).toContain('Support Agent');
    const policy = (await h.signed({ path: '/api/v1/admin/policy', portalId: P, userId: ana.id })).json();
    expect(policy).toMatchObject({ version: 1, changedBy: ana.id });
    const history = (await h.signed({ path: '/api/v1/admin/policy/history', portalId: P, userId: ana.id })).json();
    expect(history.versions.map((version: { version: number; changedBy: number }) => [version.version, version.changedBy])).toEqual([[1, ana.id]]);
  });
});

describe("card API with HubSpot's permissions API (auto)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await h.installDirect(P, ana.id);
  });
  afterAll(async () => h.close());

  it('answers from HubSpot, in plain words even before the admin set any level', async () => {
    const refused = await h.signed({ path: '/api/v1/records/tickets/5001/access', portalId: P, userId: bob!.id });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error).toMatchObject({
      code: 'DENIED_BY_HUBSPOT',
      message: "HubSpot's permissions don't allow you to open this ticket (owned by Ana Silva).",
    });
    const allowed = await h.signed({ path: '/api/v1/records/tickets/5002/access', portalId: P, userId: bob!.id });
    expect(allowed.json().verdicts.view).toMatchObject({ allowed: true, source: 'hubspot' });
    // With no level set by the admin, the list is checked ticket by ticket with HubSpot rather than shown empty.
    const list = (await h.signed({ path: '/api/v1/contacts/6002/tickets', portalId: P, userId: bob!.id })).json();
    expect(list.tickets.map((ticket: { id: string }) => ticket.id)).toEqual(['5007']);
    expect(list.hidden).toEqual({ count: 1, exact: true, reasons: [{ code: 'DENIED_BY_HUBSPOT', message: 'outside your HubSpot permissions', count: 1 }] });
  });

  it('uses the mirrored levels for the words once the admin set them, and falls back to them when HubSpot fails', async () => {
    await h.signed({ method: 'PUT', path: '/api/v1/admin/policy', portalId: P, userId: ana.id, body: mirrorPolicy(northwind) });
    const refused = await h.signed({ path: '/api/v1/records/tickets/5011/access', portalId: P, userId: bob!.id });
    expect(refused.json().error).toMatchObject({ code: 'OWNED_ONLY_NOT_OWNER', details: { source: 'hubspot' } });
    // HubSpot can only be asked about existing records: a new ticket is decided by the mirrored levels.
    const list = (await h.signed({ path: '/api/v1/contacts/6002/tickets', portalId: P, userId: bob!.id })).json();
    expect(list.canCreateTicket).toMatchObject({ allowed: true, source: 'policy' });
    const created = await h.signed({ method: 'POST', path: '/api/v1/contacts/6002/tickets', portalId: P, userId: bob!.id, body: { subject: 'From the card' } });
    expect(created.statusCode).toBe(200);
    h.fake.switches.failNext(4, 503, '/resource-permissions/');
    const fallback = await h.signed({ path: '/api/v1/records/tickets/5012/access', portalId: P, userId: dev!.id });
    expect(fallback.json().verdicts.view).toMatchObject({ allowed: true, source: 'policy' });
  });

  it('disconnects: uninstalls in HubSpot, forgets the tokens, and then says the app is not installed', async () => {
    const response = await h.signed({ method: 'POST', path: '/api/v1/admin/disconnect', portalId: P, userId: ana.id });
    expect(response.json()).toMatchObject({ disconnected: true });
    expect(await h.installations.get(P)).toMatchObject({ status: 'uninstalled', accessToken: '', refreshToken: '' });
    const after = await h.signed({ path: '/api/v1/me', portalId: P, userId: bob!.id });
    expect(after.json().error.code).toBe('NOT_INSTALLED');
    // The error handler links the install page wherever reinstalling is the fix.
    expect(after.json().error.link).toBe(`${h.backendUrl}/`);
  });
});
