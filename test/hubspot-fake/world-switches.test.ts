import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createFakeHubSpot, loadSeed, type FakeHubSpot, type SeedUser } from './index.js';
import { userMay } from './permissions.js';

const APP = { clientId: 'world-client', clientSecret: 'world-secret', appId: 1 };
const seed = loadSeed();
const northwind = seed.accounts[0]!;
const P = northwind.portalId;
const byName = (first: string): SeedUser => {
  const found = northwind.users.find((candidate) => candidate.firstName === first);
  if (found === undefined) throw new Error(`the seed has no user ${first}`);
  return found;
};
const ownerOf = (userId: number) => northwind.owners.find((candidate) => candidate.userId === userId)!;
const [ana, bob, dev, erin, farid, gina, hugo, ines] = [
  byName('Ana'),
  byName('Bob'),
  byName('Dev'),
  byName('Erin'),
  byName('Farid'),
  byName('Gina'),
  byName('Hugo'),
  byName('Ines'),
];
const TICKETS = '0-5';
const CONTACTS = '0-1';

/** The permissions API's answer (routes/permissions.ts): per hcrn, per permission, the users holding it. */
const permittedUsers = z.object({ resources: z.record(z.string(), z.record(z.string(), z.object({ permittedUsers: z.array(z.number()) }))) });
const owner = z.object({
  id: z.string(),
  archived: z.boolean(),
  userId: z.number().optional(),
  userIdIncludingInactive: z.number().optional(),
  teams: z.array(z.object({ id: z.string(), name: z.string(), primary: z.boolean() })),
});
const user = z.object({ id: z.string(), primaryTeamId: z.string().optional(), secondaryTeamIds: z.array(z.string()) });
const record = z.object({ id: z.string(), properties: z.record(z.string(), z.string()) });
const teams = z.object({ results: z.array(z.object({ id: z.string(), userIds: z.array(z.string()), secondaryUserIds: z.array(z.string()) })) });

describe("world switches: changes made in HubSpot's UI show in the next API answer", () => {
  let fake: FakeHubSpot;
  let base: string;
  let bearer: string;
  beforeEach(async () => {
    // A fresh world per test: no test sees another's switches.
    fake = createFakeHubSpot({ app: APP });
    base = await fake.listen();
    bearer = fake.tokens.issue(P, ana.id).accessToken;
  });
  afterEach(async () => {
    expect(fake.contract.violations()).toEqual([]);
    await fake.close();
  });

  const call = async (path: string, body?: unknown) => {
    const response = await fetch(base + path, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: await response.json() };
  };
  const ok = async <T>(path: string, schema: z.ZodType<T>, body?: unknown): Promise<T> => {
    const response = await call(path, body);
    expect(response.status, path).toBe(200);
    return schema.parse(response.body);
  };
  const permitted = async (objectTypeId: string, recordId: string, userId: number): Promise<string[]> => {
    const hcrn = `hcrn:${P}:crm-object:${objectTypeId}:${recordId}`;
    const answer = await ok(`/resource-permissions/v3/permitted-users?resource=${hcrn}`, permittedUsers);
    return Object.entries(answer.resources[hcrn] ?? {}).flatMap(([permission, { permittedUsers: ids }]) =>
      ids.includes(userId) ? [permission.replace('crm-object:', '')] : [],
    );
  };
  const ticketIdsOwnedBy = async (ownerId: string) => {
    const found = await ok('/crm/v3/objects/tickets/search', z.object({ results: z.array(record) }), {
      filterGroups: [{ filters: [{ propertyName: 'hubspot_owner_id', operator: 'EQ', value: ownerId }] }],
      properties: ['hubspot_owner_id'],
      limit: 200,
    });
    return found.results.map((ticket) => ticket.id);
  };

  describe('reassign', () => {
    it('moves a ticket to another owner: record, search and the permissions API follow at once', async () => {
      expect(await permitted(TICKETS, '5001', bob.id)).toEqual([]);
      fake.world.reassign(P, 'tickets', '5001', ownerOf(bob.id).id);
      expect((await ok('/crm/v3/objects/tickets/5001?properties=hubspot_owner_id', record)).properties.hubspot_owner_id).toBe(String(ownerOf(bob.id).id));
      expect(await ticketIdsOwnedBy(String(ownerOf(bob.id).id))).toContain('5001');
      expect(await ticketIdsOwnedBy(String(ownerOf(ana.id).id))).not.toContain('5001');
      expect(await permitted(TICKETS, '5001', bob.id)).toEqual(['VIEW', 'EDIT']);
    });

    it('unassigns with null: the property disappears, unassigned searches find it, owned+unassigned users gain it', async () => {
      expect(await permitted(TICKETS, '5002', dev.id)).toEqual([]);
      fake.world.reassign(P, 'tickets', '5002', null);
      expect((await ok('/crm/v3/objects/tickets/5002?properties=hubspot_owner_id', record)).properties).not.toHaveProperty('hubspot_owner_id');
      const unassigned = await ok('/crm/v3/objects/tickets/search', z.object({ results: z.array(record) }), {
        filterGroups: [{ filters: [{ propertyName: 'hubspot_owner_id', operator: 'NOT_HAS_PROPERTY' }] }],
        limit: 200,
      });
      expect(unassigned.results.map((ticket) => ticket.id)).toContain('5002');
      expect(await permitted(TICKETS, '5002', dev.id)).toEqual(['VIEW', 'EDIT']);
      expect(await permitted(TICKETS, '5002', bob.id)).toEqual([]);
    });

    it('reassigns contacts too', async () => {
      expect(await permitted(CONTACTS, '6004', bob.id)).toEqual([]);
      fake.world.reassign(P, 'contacts', '6004', ownerOf(bob.id).id);
      expect((await ok('/crm/v3/objects/contacts/6004', record)).properties.hubspot_owner_id).toBe(String(ownerOf(bob.id).id));
      expect(await permitted(CONTACTS, '6004', bob.id)).toEqual(['VIEW', 'EDIT', 'COMMUNICATE']);
    });

    it('refuses unknown portals, records and owners, a user id in place of an owner id, and archived owners', () => {
      expect(() => fake.world.reassign(424242, 'tickets', '5001', null)).toThrow('no account with portal id 424242');
      expect(() => fake.world.reassign(P, 'tickets', '999999', null)).toThrow('has no tickets record 999999');
      expect(() => fake.world.reassign(P, 'contacts', '5001', null)).toThrow('has no contacts record 5001');
      expect(() => fake.world.reassign(P, 'tickets', '5001', 7999)).toThrow('7999 is not an owner');
      expect(() => fake.world.reassign(P, 'tickets', '5001', bob.id)).toThrow(`${bob.id} is a user id, whose owner id is ${ownerOf(bob.id).id}`);
      expect(() => fake.world.reassign(P, 'tickets', '5001', ownerOf(gina.id).id)).toThrow('is archived');
      // Another account's owner is unknown here.
      expect(() => fake.world.reassign(P, 'tickets', '5001', seed.accounts[1]!.owners[0]!.id)).toThrow('is not an owner');
    });
  });

  describe('deactivateUser', () => {
    it('removes the user from the Users API and archives their owner, who leaves the active owners', async () => {
      const bobOwner = String(ownerOf(bob.id).id);
      expect((await call(`/settings/v3/users/${bob.id}`)).status).toBe(200);
      fake.world.deactivateUser(P, bob.id);

      const gone = await call(`/settings/v3/users/${bob.id}`);
      expect(gone.status).toBe(404);
      expect(gone.body).toMatchObject({ category: 'OBJECT_NOT_FOUND' });
      expect((await call(`/settings/v3/users/${encodeURIComponent(bob.email)}?idProperty=EMAIL`)).status).toBe(404);
      const listed = await ok('/settings/users/v3', z.object({ results: z.array(user) }));
      expect(listed.results.map((entry) => entry.id)).not.toContain(String(bob.id));
      expect(listed.results.map((entry) => entry.id)).toContain(String(dev.id));
      const teamList = await ok('/settings/v3/users/teams', teams);
      expect(teamList.results.flatMap((team) => [...team.userIds, ...team.secondaryUserIds])).not.toContain(String(bob.id));

      expect((await call(`/crm/v3/owners/${bobOwner}`)).status).toBe(404);
      expect((await call(`/crm/v3/owners/${bob.id}?idProperty=userId`)).status).toBe(404);
      const archived = await ok(`/crm/v3/owners/${bobOwner}?archived=true`, owner);
      expect(archived).toMatchObject({ id: bobOwner, archived: true, userIdIncludingInactive: bob.id });
      expect(archived).not.toHaveProperty('userId');
      const active = await ok('/crm/v3/owners', z.object({ results: z.array(owner) }));
      expect(active.results.map((entry) => entry.id)).not.toContain(bobOwner);
      const archivedList = await ok('/crm/v3/owners?archived=true', z.object({ results: z.array(owner) }));
      expect(archivedList.results.map((entry) => entry.id)).toContain(bobOwner);
    });

    it('leaves their records with them, and takes away every permission the API reported', async () => {
      expect(await permitted(TICKETS, '5002', bob.id)).toEqual(['VIEW', 'EDIT']);
      fake.world.deactivateUser(P, bob.id);
      expect((await ok('/crm/v3/objects/tickets/5002?properties=hubspot_owner_id', record)).properties.hubspot_owner_id).toBe(String(ownerOf(bob.id).id));
      expect(await permitted(TICKETS, '5002', bob.id)).toEqual([]);
      expect(await permitted(TICKETS, '5002', ana.id)).toEqual(['VIEW', 'EDIT', 'DELETE']);
    });

    it('deactivates a user who has no owner record, and refuses users of other portals', async () => {
      expect(northwind.owners.some((candidate) => candidate.userId === erin.id)).toBe(false);
      fake.world.deactivateUser(P, erin.id);
      expect((await call(`/settings/v3/users/${erin.id}`)).status).toBe(404);
      expect(() => fake.world.deactivateUser(P, seed.accounts[1]!.users[0]!.id)).toThrow(`is not a user of portal ${P}`);
      expect(() => fake.world.deactivateUser(P, ownerOf(bob.id).id)).toThrow('is not a user of portal');
    });
  });

  describe('setTeams', () => {
    it("changes the user's teams, their owner's teams and the team lists", async () => {
      fake.world.setTeams(P, bob.id, { primary: '301', secondary: ['302'] });
      expect(await ok(`/settings/v3/users/${bob.id}`, user)).toMatchObject({ primaryTeamId: '301', secondaryTeamIds: ['302'] });
      expect((await ok(`/crm/v3/owners/${ownerOf(bob.id).id}`, owner)).teams).toEqual([
        { id: '301', name: 'Support EU', primary: true },
        { id: '302', name: 'Support US', primary: false },
      ]);
      const teamList = (await ok('/settings/v3/users/teams', teams)).results;
      expect(teamList.find((team) => team.id === '301')?.userIds).toContain(String(bob.id));
      expect(teamList.find((team) => team.id === '302')).toMatchObject({ secondaryUserIds: expect.arrayContaining([String(bob.id)]) });
      expect(teamList.find((team) => team.id === '302')?.userIds).not.toContain(String(bob.id));

      fake.world.setTeams(P, bob.id, { primary: undefined, secondary: [] });
      const teamless = await ok(`/settings/v3/users/${bob.id}`, user);
      expect(teamless).not.toHaveProperty('primaryTeamId');
      expect(teamless.secondaryTeamIds).toEqual([]);
      expect((await ok(`/crm/v3/owners/${ownerOf(bob.id).id}`, owner)).teams).toEqual([]);
    });

    it('moves team access with the owner: a team viewer gains the tickets of someone who joins their team', async () => {
      // Farid views his teams' tickets (Support EU); Bob is on Support US only.
      expect(await permitted(TICKETS, '5002', farid.id)).toEqual([]);
      fake.world.setTeams(P, bob.id, { primary: '302', secondary: ['301'] });
      expect(await permitted(TICKETS, '5002', farid.id)).toEqual(['VIEW', 'EDIT']);
      // And a viewer who leaves the team loses them.
      fake.world.setTeams(P, farid.id, { primary: undefined, secondary: [] });
      expect(await permitted(TICKETS, '5002', farid.id)).toEqual([]);
    });

    it('refuses unknown teams and a team named twice', () => {
      expect(() => fake.world.setTeams(P, bob.id, { primary: '399', secondary: [] })).toThrow('has no team 399');
      expect(() => fake.world.setTeams(P, bob.id, { primary: '301', secondary: [seed.accounts[1]!.teams[0]!.id] })).toThrow('has no team');
      expect(() => fake.world.setTeams(P, bob.id, { primary: '301', secondary: ['301'] })).toThrow('named twice');
      expect(() => fake.world.setTeams(P, 999, { primary: '301', secondary: [] })).toThrow('999 is not a user');
    });
  });

  describe('setPermissions', () => {
    it("changes only the named levels of the user's permission set, as the permissions API then reports", async () => {
      expect(await permitted(TICKETS, '5001', erin.id)).toEqual([]);
      fake.world.setPermissions(P, erin.id, 'tickets', { view: 'everything' });
      expect(await permitted(TICKETS, '5001', erin.id)).toEqual(['VIEW']);

      expect(await permitted(CONTACTS, '6002', bob.id)).toEqual(['VIEW', 'EDIT', 'COMMUNICATE']);
      fake.world.setPermissions(P, bob.id, 'contacts', { communicate: 'none', edit: 'none' });
      expect(await permitted(CONTACTS, '6002', bob.id)).toEqual(['VIEW']);
    });

    it('refuses unknown levels and actions the object type does not have', () => {
      // @ts-expect-error not a HubSpot level: the type refuses it, and so does the switch at run time
      expect(() => fake.world.setPermissions(P, bob.id, 'tickets', { view: 'most' })).toThrow();
      // @ts-expect-error tickets have no communicate permission
      expect(() => fake.world.setPermissions(P, bob.id, 'tickets', { communicate: 'none' })).toThrow();
      expect(() => fake.world.setPermissions(424242, bob.id, 'tickets', { view: 'none' })).toThrow('no account');
    });
  });

  describe('the seeded owner on a secondary team (Hugo) and the team-level viewer (Ines)', () => {
    const ticket = (id: string) => northwind.tickets.find((candidate) => candidate.id === id)!;

    it('is seeded as the case needs: Hugo primary Support US, secondary Support EU; Ines team-level on Support EU only', () => {
      expect(hugo).toMatchObject({ primaryTeamId: '302', secondaryTeamIds: ['301'] });
      expect(ines).toMatchObject({ superAdmin: false, primaryTeamId: '301', secondaryTeamIds: [] });
      expect(ines.permissions.tickets).toMatchObject({ view: 'team', edit: 'team' });
      expect(ines.permissions.contacts.view).toBe('team');
      expect(ticket('5013').properties.hubspot_owner_id).toBe(String(ownerOf(hugo.id).id));
      expect(northwind.ticketContacts).toContainEqual(['5013', '6006']);
      expect(northwind.contacts.map((contact) => contact.id)).toContain('6006');
    });

    it("lets Ines see Hugo's ticket through Hugo's secondary team, and nobody on neither team", () => {
      expect(userMay(northwind, ines, 'tickets', 'view', ticket('5013'))).toBe(true);
      expect(userMay(northwind, ines, 'tickets', 'edit', ticket('5013'))).toBe(true);
      // Bob's ticket on the same contact is Support US only.
      expect(userMay(northwind, ines, 'tickets', 'view', ticket('5014'))).toBe(false);
      // Without Hugo's secondary team, Ines's team no longer covers him: the secondary team is what grants access.
      const hugoPrimaryOnly = {
        ...northwind,
        users: northwind.users.map((candidate) => (candidate.id === hugo.id ? { ...candidate, secondaryTeamIds: [] } : candidate)),
      };
      expect(userMay(hugoPrimaryOnly, ines, 'tickets', 'view', ticket('5013'))).toBe(false);
      const onNeitherTeam = { ...ines, primaryTeamId: '399', secondaryTeamIds: [] };
      expect(userMay(northwind, onNeitherTeam, 'tickets', 'view', ticket('5013'))).toBe(false);
    });

    it('is answered the same way by the permissions API, and follows team changes of either side', async () => {
      expect(await permitted(TICKETS, '5013', ines.id)).toEqual(['VIEW', 'EDIT']);
      expect(await permitted(TICKETS, '5014', ines.id)).toEqual([]);
      // Ines opens the contact too: it is owned by Farid, on her team.
      expect(await permitted(CONTACTS, '6006', ines.id)).toEqual(['VIEW', 'EDIT', 'COMMUNICATE']);
      const associated = await ok('/crm/v4/objects/contacts/6006/associations/tickets', z.object({ results: z.array(z.object({ toObjectId: z.string() })) }));
      expect(associated.results.map((entry) => entry.toObjectId)).toEqual(['5013', '5014']);

      fake.world.setTeams(P, hugo.id, { primary: '302', secondary: [] });
      expect(await permitted(TICKETS, '5013', ines.id)).toEqual([]);
      fake.world.setTeams(P, hugo.id, { primary: '302', secondary: ['301'] });
      expect(await permitted(TICKETS, '5013', ines.id)).toEqual(['VIEW', 'EDIT']);
      fake.world.setTeams(P, ines.id, { primary: undefined, secondary: [] });
      expect(await permitted(TICKETS, '5013', ines.id)).toEqual([]);
    });
  });
});
