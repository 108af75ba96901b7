import { afterEach, describe, expect, it } from 'vitest';
import { loadSeed } from '../hubspot-fake/index.js';
import { startHarness, type Harness } from '../support/harness.js';
import { mirrorPolicy } from '../support/mirror-policy.js';

/**
 * Permission facts are cached (README "Trust and caching"); these tests hold each cache to its stated bound and to
 * the changes we can see: a reassignment (re-read with the record on every request) and our own writes.
 */
const seed = loadSeed();
const northwind = seed.accounts[0]!;
const P = northwind.portalId;
const user = (first: string) => northwind.users.find((candidate) => candidate.firstName === first)!;
const ownerOf = (first: string) => northwind.owners.find((owner) => owner.userId === user(first).id)!.id;
const [ana, bob, farid, ines] = [user('Ana'), user('Bob'), user('Farid'), user('Ines')];

let h: Harness;
let clock = Date.now();
afterEach(async () => h.close());

async function start(accessSource: 'policy' | 'hubspot' | 'auto', options: { mirror?: boolean } = {}) {
  clock = Date.now();
  h = await startHarness({ now: () => clock, env: { ACCESS_SOURCE: accessSource } });
  await h.installDirect(P, ana.id);
  if (options.mirror === true) {
    const saved = await h.signed({ method: 'PUT', path: '/api/v1/admin/policy', portalId: P, userId: ana.id, body: mirrorPolicy(northwind) });
    expect(saved.statusCode).toBe(200);
  }
}
const view = (userId: number, ticketId: string) => h.signed({ path: `/api/v1/records/tickets/${ticketId}/access`, portalId: P, userId });
const code = async (response: Promise<{ json(): { error?: { code: string } } }>) => (await response).json().error?.code;

describe('the viewer cache (VIEWER_CACHE_TTL_SECONDS, default 60 s)', () => {
  it('keeps a deactivated user no longer than the TTL, and audits the refusal with the user it was asked for', async () => {
    await start('policy', { mirror: true });
    expect((await h.signed({ path: '/api/v1/me', portalId: P, userId: bob.id })).statusCode).toBe(200);
    h.fake.world.deactivateUser(P, bob.id);
    clock += 59_000;
    expect((await h.signed({ path: '/api/v1/me', portalId: P, userId: bob.id })).statusCode).toBe(200);
    clock += 2_000;
    const refused = await h.signed({ path: '/api/v1/me', portalId: P, userId: bob.id });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('USER_NOT_IN_PORTAL');
    const audit = (await h.signed({ path: `/api/v1/admin/audit?outcome=refused&user=${bob.id}`, portalId: P, userId: ana.id })).json();
    expect(audit.entries[0]).toMatchObject({ userId: bob.id, decisionCode: 'USER_NOT_IN_PORTAL', outcome: 'refused' });
  });

  it('sees a team move in HubSpot once the TTL has passed', async () => {
    await start('policy', { mirror: true });
    // Farid (Team access, Support EU) sees Carla's ticket 5003 through their shared team.
    expect((await view(farid.id, '5003')).statusCode).toBe(200);
    h.fake.world.setTeams(P, farid.id, { primary: undefined, secondary: [] });
    clock += 61_000;
    expect(await code(view(farid.id, '5003'))).toBe('TEAM_ONLY_OTHER_TEAM');
  });
});

describe("team access goes by the owner's teams, secondary ones included", () => {
  it.each(['policy', 'hubspot'] as const)('lets a Support EU viewer see a ticket whose owner has Support EU as a secondary team (%s)', async (source) => {
    await start(source, { mirror: source === 'policy' });
    // Hugo owns 5013: primary team Support US, secondary Support EU. Ines is on Support EU only, with Team access.
    const allowed = await view(ines.id, '5013');
    expect(allowed.statusCode).toBe(200);
    expect(allowed.json().verdicts.edit.allowed).toBe(true);
    expect((await view(ines.id, '5014')).statusCode).toBe(403);
    const list = (await h.signed({ path: '/api/v1/contacts/6006/tickets', portalId: P, userId: ines.id })).json();
    expect(list.tickets.map((ticket: { id: string }) => ticket.id)).toEqual(['5013']);
    expect(list.hidden.count).toBe(1);
  });
});

describe("HubSpot's per-record answer (ACCESS_SOURCE hubspot and auto)", () => {
  it.each(['hubspot', 'auto'] as const)('refuses at once after a reassignment in HubSpot, before the 30 s cache would end (%s)', async (source) => {
    await start(source, { mirror: source === 'auto' });
    expect((await view(bob.id, '5002')).statusCode).toBe(200);
    h.fake.world.reassign(P, 'tickets', '5002', ownerOf('Ana'));
    expect((await view(bob.id, '5002')).statusCode).toBe(403);
    const note = await h.signed({ method: 'POST', path: '/api/v1/tickets/5002/notes', portalId: P, userId: bob.id, body: { body: 'still mine?' } });
    expect(note.statusCode).toBe(403);
  });

  it.each(['hubspot', 'auto'] as const)('refuses at once after an admin assigns the ticket away through Viewer Guard (%s)', async (source) => {
    await start(source, { mirror: source === 'auto' });
    expect((await view(bob.id, '5002')).statusCode).toBe(200);
    expect((await h.signed({ method: 'POST', path: '/api/v1/tickets/5002/assign-to-me', portalId: P, userId: ana.id })).statusCode).toBe(200);
    for (const [path, body] of [
      ['/api/v1/tickets/5002/notes', { body: 'note' }],
      ['/api/v1/tickets/5002/stage', { stageId: '2' }],
      ['/api/v1/tickets/5002/assign-to-me', undefined],
    ] as const) {
      const response = await h.signed({ method: 'POST', path, portalId: P, userId: bob.id, ...(body === undefined ? {} : { body }) });
      expect(response.statusCode, path).toBe(403);
      expect(response.body).not.toContain('Cannot reset password');
    }
    expect((await view(bob.id, '5002')).statusCode).toBe(403);
  });

  it('holds a permission-set change no longer than 30 s, and drops it at once after our own write to the record', async () => {
    await start('hubspot');
    expect((await view(bob.id, '5002')).statusCode).toBe(200);
    h.fake.world.setPermissions(P, bob.id, 'tickets', { view: 'none', edit: 'none' });
    // Nothing tells us about a permission-set change: within the bound, the shared answer still stands...
    expect((await view(bob.id, '5002')).statusCode).toBe(200);
    clock += 31_000;
    // ...and past it, HubSpot is asked again.
    expect((await view(bob.id, '5002')).statusCode).toBe(403);

    h.fake.world.setPermissions(P, bob.id, 'tickets', { view: 'owned', edit: 'owned' });
    clock += 31_000;
    expect((await view(bob.id, '5002')).statusCode).toBe(200);
    h.fake.world.setPermissions(P, bob.id, 'tickets', { view: 'none', edit: 'none' });
    const stage = await h.signed({ method: 'POST', path: '/api/v1/tickets/5002/stage', portalId: P, userId: bob.id, body: { stageId: '2' } });
    expect(stage.statusCode).toBe(200);
    // Our write changed the record: what HubSpot said about it before is not reused.
    expect((await view(bob.id, '5002')).statusCode).toBe(403);
  });
});
