import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHubSpotApi, type PortalApi } from '../../backend/src/hubspot/api.js';
import type { CrmObjectType } from '../../backend/src/hubspot/crm.js';
import { Deadline } from '../../backend/src/hubspot/deadline.js';
import { HubSpotScheduler } from '../../backend/src/hubspot/scheduler.js';
import { createFakeHubSpot, loadSeed, type FakeHubSpot } from '../hubspot-fake/index.js';

const APP = { clientId: 'objects-client', clientSecret: 'objects-secret', appId: 1 };
const seed = loadSeed();
const [northwind, contoso] = seed.accounts as [(typeof seed.accounts)[0], (typeof seed.accounts)[0]];
const P = northwind.portalId;
const admin = northwind.users.find((user) => user.superAdmin)!;
const ownerOf = (first: string) => northwind.owners.find((owner) => owner.userId === northwind.users.find((user) => user.firstName === first)!.id)!.id;

/** The generic record reads and writes of hubspot/crm.ts against the local HubSpot, held to the 2026-03 specs. */
describe('CRM records of any described object type', () => {
  let fake: FakeHubSpot;
  let portal: PortalApi;
  beforeEach(async () => {
    fake = createFakeHubSpot({ app: APP });
    const base = await fake.listen();
    const token = fake.tokens.issue(P, admin.id).accessToken;
    portal = createHubSpotApi({ apiBaseUrl: base, scheduler: new HubSpotScheduler(), getToken: async () => token }).forPortal(P, {
      deadline: new Deadline({ budgetMs: 60_000, attemptCapMs: 5_000 }, 'the test'),
      token,
      userId: admin.id,
    });
  });
  afterEach(async () => {
    expect(fake.contract.violations()).toEqual([]);
    await fake.close();
  });

  const records = (objectType: 'deals' | 'companies') => fake.state.account(P)![objectType];
  const cases = [
    {
      objectType: 'deals',
      route: '/crm/objects/2026-03/0-3',
      details: (p: Record<string, string | null>) => ({ amount: p.amount, stage: p.dealstage }),
      title: 'dealname',
    },
    { objectType: 'companies', route: '/crm/objects/2026-03/companies', details: (p: Record<string, string | null>) => ({ domain: p.domain }), title: 'name' },
  ] as const;

  for (const { objectType, route, details, title } of cases) {
    describe(objectType, () => {
      it('reads a record as title, owner and details, and finds no record of another account or none at all', async () => {
        const record = records(objectType).find((candidate) => candidate.properties.hubspot_owner_id !== null)!;
        expect(await portal.getRecord(objectType, record.id)).toEqual({
          id: record.id,
          title: record.properties[title],
          ownerId: Number(record.properties.hubspot_owner_id),
          details: details(record.properties),
        });
        const unassigned = records(objectType).find((candidate) => candidate.properties.hubspot_owner_id === null)!;
        expect((await portal.getRecord(objectType, unassigned.id))?.ownerId).toBeNull();
        expect(await portal.getRecord(objectType, contoso[objectType][0]!.id)).toBeUndefined();
        expect(await portal.getRecord(objectType, '999999')).toBeUndefined();
        expect(fake.calls.count('GET', `${route}/:${objectType === 'deals' ? 'dealId' : 'companyId'}`)).toBe(4);
      });

      it('searches by owners or for unassigned records in one search, in id order, within the limit', async () => {
        const owners = [ownerOf('Bob'), ownerOf('Carla')];
        const expected = records(objectType)
          .filter((record) => owners.map(String).includes(record.properties.hubspot_owner_id ?? ''))
          .map((record) => ({ id: record.id, ownerId: Number(record.properties.hubspot_owner_id) }));
        expect(expected.length).toBeGreaterThanOrEqual(2);
        expect(await portal.searchRecordsByOwner(objectType, { kind: 'owners', ownerIds: owners }, 100)).toEqual(expected);
        expect(await portal.searchRecordsByOwner(objectType, { kind: 'owners', ownerIds: owners }, 1)).toEqual(expected.slice(0, 1));
        const unassigned = records(objectType).filter((record) => record.properties.hubspot_owner_id === null);
        expect(await portal.searchRecordsByOwner(objectType, { kind: 'unassigned' }, 100)).toEqual(
          unassigned.map((record) => ({ id: record.id, ownerId: null })),
        );
        // More than one page asks for one full page, which HubSpot accepts, rather than a size it refuses.
        expect(await portal.searchRecordsByOwner(objectType, { kind: 'owners', ownerIds: owners }, 10_000)).toEqual(expected);
        expect(fake.calls.count('POST', `${route}/search`)).toBe(4);
      });

      it('asks HubSpot nothing for no owners, rather than searching without the owner filter, nor for no records', async () => {
        expect(await portal.searchRecordsByOwner(objectType, { kind: 'owners', ownerIds: [] }, 100)).toEqual([]);
        expect(await portal.searchRecordsByOwner(objectType, { kind: 'unassigned' }, 0)).toEqual([]);
        expect(fake.calls.all()).toEqual([]);
      });

      it('assigns a record to an owner and adds a note associated with it', async () => {
        const record = records(objectType).find((candidate) => candidate.properties.hubspot_owner_id === null)!;
        const assigned = await portal.assignRecord(objectType, record.id, ownerOf('Dev'));
        expect(assigned.ownerId).toBe(ownerOf('Dev'));
        expect(record.properties.hubspot_owner_id).toBe(String(ownerOf('Dev')));
        const note = await portal.createNoteOn(objectType, record.id, 'Spoke to them', ownerOf('Dev'), new Date('2026-11-01T10:00:00Z'));
        expect(fake.state.notes.find((candidate) => candidate.id === note.id)).toMatchObject({
          body: 'Spoke to them',
          records: [{ kind: objectType, id: record.id }],
          ownerId: String(ownerOf('Dev')),
        });
      });

      it("reads HubSpot's permissions API for its records with their own object type id", async () => {
        const ids = records(objectType).map((record) => record.id);
        const answers = await portal.permittedUsersMany(objectType, ids);
        expect([...answers.keys()].sort()).toEqual([...ids].sort());
        for (const answer of answers.values()) expect(answer?.get('view')).toContain(admin.id);
        const communicates = [...answers.values()].some((answer) => answer?.has('communicate'));
        expect(communicates).toBe(objectType === 'companies');
      });
    });
  }

  it('keeps the ticket and contact reads it generalizes: the same record through getRecord', async () => {
    const types: CrmObjectType[] = ['tickets', 'contacts'];
    const [ticket, contact] = await Promise.all(types.map((objectType) => portal.getRecord(objectType, objectType === 'tickets' ? '5001' : '6001')));
    expect(ticket).toMatchObject({ id: '5001', title: (await portal.getTicket('5001'))!.subject, ownerId: (await portal.getTicket('5001'))!.ownerId });
    expect(contact).toMatchObject({ id: '6001', title: (await portal.getContact('6001'))!.name, details: { email: (await portal.getContact('6001'))!.email } });
  });
});
