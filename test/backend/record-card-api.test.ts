import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSeed } from '../hubspot-fake/index.js';
import { startHarness, type Harness } from '../support/harness.js';
import { mirrorPolicy } from '../support/mirror-policy.js';

const seed = loadSeed();
const [northwind, contoso] = seed.accounts as [(typeof seed.accounts)[0], (typeof seed.accounts)[0]];
const user = (first: string) => northwind.users.find((candidate) => candidate.firstName === first)!;
const ownerOf = (first: string) => northwind.owners.find((owner) => owner.userId === user(first).id)!.id;
const P = northwind.portalId;

/** The record card's API on deals and companies, under both sources: HubSpot's permissions API and mirrored levels. */
describe.each(['policy', 'hubspot'] as const)('deals and companies through the card API (ACCESS_SOURCE=%s)', (source) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { ACCESS_SOURCE: source } });
    await h.installDirect(P, user('Ana').id);
    await h.installDirect(contoso.portalId, contoso.users[0]!.id);
    if (source === 'policy')
      expect(
        (await h.signed({ method: 'PUT', path: '/api/v1/admin/policy', portalId: P, userId: user('Ana').id, body: mirrorPolicy(northwind) })).statusCode,
      ).toBe(200);
  });
  afterAll(async () => h.close());

  const access = (first: string, objectType: string, id: string) =>
    h.signed({ path: `/api/v1/records/${objectType}/${id}/access`, portalId: P, userId: user(first).id });
  const write = (first: string, path: string, body?: unknown) =>
    h.signed({ method: 'POST', path: `/api/v1/records/${path}`, portalId: P, userId: user(first).id, ...(body === undefined ? {} : { body }) });
  const code = (allowed: string, byHubSpot = source === 'hubspot') =>
    byHubSpot ? (allowed.startsWith('ALLOWED') ? 'ALLOWED_BY_HUBSPOT' : 'DENIED_BY_HUBSPOT') : allowed;

  it("answers a deal with its title, owner, details and the viewer's verdict on each of a deal's actions", async () => {
    const response = await access('Carla', 'deals', '8001');
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.record).toEqual({
      objectType: 'deals',
      id: '8001',
      title: 'Lisbon Foods: annual support plan',
      owner: { ownerId: ownerOf('Bob'), name: 'Bob Stone', teams: [{ id: '302', name: 'Support US' }] },
      details: { amount: '12000', stage: 'contractsent' },
    });
    // Carla: deals view everything, edit team (Bob is on her secondary team), delete none.
    expect(Object.keys(body.verdicts)).toEqual(['view', 'edit', 'delete']);
    expect(body.verdicts.view).toMatchObject({ allowed: true, code: code('ALLOWED_ALL') });
    expect(body.verdicts.edit).toMatchObject({ allowed: true, code: code('ALLOWED_TEAM') });
    expect(body.verdicts.delete).toMatchObject({ allowed: false });
  });

  it('answers a company with its domain and a Communicate verdict, which deals do not have', async () => {
    const body = (await access('Bob', 'companies', '9008')).json();
    expect(body.record).toMatchObject({ title: 'Madrid Metro', details: { domain: 'madridmetro.example' }, owner: { name: 'Ana Silva' } });
    // Bob: companies view everything, edit and communicate owned only.
    expect(Object.keys(body.verdicts)).toEqual(['view', 'edit', 'delete', 'communicate']);
    expect(body.verdicts.view.allowed).toBe(true);
    expect(body.verdicts.edit).toMatchObject({ allowed: false, code: code('OWNED_ONLY_NOT_OWNER') });
    expect(body.verdicts.communicate).toMatchObject({ allowed: false, code: code('OWNED_ONLY_NOT_OWNER') });
    if (source === 'policy') expect(body.verdicts.edit.message).toBe('You can only edit companies you own. This one is owned by Ana Silva.');
  });

  it('refuses a deal the viewer may not open, in words about deals, and a deal of another account as not found', async () => {
    const refused = await access('Dev', 'deals', '8001');
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe(code('OWNED_ONLY_NOT_OWNER'));
    if (source === 'policy') expect(refused.json().error.message).toBe('You can only open deals you own. This one is owned by Bob Stone.');
    expect(JSON.stringify(refused.json())).not.toContain('Lisbon Foods');
    expect((await access('Ana', 'deals', contoso.deals[0]!.id)).json().error.code).toBe('RECORD_NOT_FOUND');
    expect((await access('Ana', 'companies', '999999')).statusCode).toBe(404);
  });

  it('assigns a deal to the viewer who may edit it, adds a note to a company, and audits both', async () => {
    const assigned = await write('Carla', 'deals/8004/assign-to-me');
    expect(assigned.statusCode).toBe(200);
    expect(assigned.json().result).toMatchObject({ id: '8004', ownerId: ownerOf('Carla'), title: 'Denver Outfitters: two-year renewal' });
    expect(h.fake.state.account(P)!.deals.find((deal) => deal.id === '8004')!.properties.hubspot_owner_id).toBe(String(ownerOf('Carla')));
    // Her verdict was asked for again: the deal is hers now.
    expect((await access('Carla', 'deals', '8004')).json().record.owner.name).toBe('Carla Mendes');

    const note = await write('Farid', 'companies/9004/notes', { body: 'Asked about the premium plan.' });
    expect(note.statusCode).toBe(200);
    expect(h.fake.state.notes.find((candidate) => candidate.id === note.json().result.id)).toMatchObject({
      body: 'Asked about the premium plan.',
      records: [{ kind: 'companies', id: '9004' }],
      ownerId: String(ownerOf('Farid')),
    });
    const audit = (await h.signed({ path: '/api/v1/admin/audit?outcome=done&limit=2', portalId: P, userId: user('Ana').id })).json();
    expect(audit.entries.map((entry: { action: string; objectType: string; recordId: string }) => [entry.action, entry.objectType, entry.recordId])).toEqual([
      ['add-note', 'companies', '9004'],
      ['assign-to-me', 'deals', '8004'],
    ]);
  });

  it('refuses writes without edit, and the record card routes for tickets and contacts, which have routes of their own', async () => {
    const refused = await write('Ines', 'deals/8001/assign-to-me');
    expect(refused.statusCode).toBe(403);
    expect(h.fake.state.account(P)!.deals.find((deal) => deal.id === '8001')!.properties.hubspot_owner_id).toBe(String(ownerOf('Bob')));
    for (const objectType of ['tickets', 'contacts']) expect((await write('Ana', `${objectType}/5001/assign-to-me`)).statusCode).toBe(400);
  });
});

describe('an account installed before deals and companies were served', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    // The scopes of the earlier app-hsmeta.json: no deal or company scope.
    const before = h.config.hubspot.requiredScopes.filter((scope) => !/^crm\.objects\.(deals|companies)\./.test(scope));
    await h.installDirect(P, user('Ana').id, before);
  });
  afterAll(async () => h.close());

  it('refuses deal and company cards as a missing scope, and the status names what each missing scope disables', async () => {
    for (const path of ['deals/8001', 'companies/9001']) {
      const response = await h.signed({ path: `/api/v1/records/${path}/access`, portalId: P, userId: user('Carla').id });
      expect(response.statusCode).toBe(403);
      expect(response.json().error.code).toBe('HUBSPOT_SCOPE_MISSING');
    }
    const status = (await h.signed({ path: '/api/v1/admin/status', portalId: P, userId: user('Ana').id })).json();
    expect(status.scopes.missing).toEqual(
      expect.arrayContaining([
        { scope: 'crm.objects.deals.read', disables: 'reading deals' },
        { scope: 'crm.objects.companies.write', disables: 'assigning companies and adding notes to them' },
      ]),
    );
  });
});
