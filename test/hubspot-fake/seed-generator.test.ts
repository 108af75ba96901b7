import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { policyDocumentSchema } from '../../backend/src/access/policy.js';
import { mirrorPolicy } from '../support/mirror-policy.js';
import { TEST_APP } from '../support/harness.js';
import { createFakeHubSpot, seedSchema, type FakeHubSpot } from './index.js';
import { BIG_CONTACT_TICKETS, generateWorld } from './seed-generator.js';

const size = { users: 200, tickets: 3_000, seed: 42 };
const world = generateWorld(size);
const account = world.seed.accounts[0]!;

describe('generated worlds', () => {
  it('are the same for the same numbers, and differ for another seed', () => {
    expect(JSON.stringify(generateWorld(size))).toBe(JSON.stringify(world));
    expect(JSON.stringify(generateWorld({ ...size, seed: 43 }).seed)).not.toBe(JSON.stringify(world.seed));
  });

  it('pass the seed schema (owner ids distinct from user ids, owners naming known users)', () => {
    expect(() => seedSchema.parse(world.seed)).not.toThrow();
  });

  it('have the users, owners, tickets and contacts asked for', () => {
    expect(world.seed.accounts).toHaveLength(1);
    expect(account.portalId).toBe(world.portalId);
    expect(account.users).toHaveLength(200);
    expect(account.owners).toHaveLength(200);
    expect(account.tickets).toHaveLength(3_000);
    expect(account.contacts).toHaveLength(300);
    expect(new Set(account.tickets.map((ticket) => ticket.id)).size).toBe(3_000);
  });

  it('give every user an owner, archived exactly when the user is deactivated, and teams and roles that exist', () => {
    const teams = new Set(account.teams.map((team) => team.id));
    const roles = new Set(account.roles.map((role) => role.id));
    for (const user of account.users) {
      const owners = account.owners.filter((owner) => owner.userId === user.id);
      expect(owners).toHaveLength(1);
      expect(owners[0]?.archived).toBe(user.deactivated);
      expect([user.primaryTeamId, ...user.secondaryTeamIds].every((id) => id !== undefined && teams.has(id))).toBe(true);
      expect(user.secondaryTeamIds).not.toContain(user.primaryTeamId);
      expect(user.roleIds.every((id) => roles.has(id))).toBe(true);
    }
  });

  it('own each ticket by an active owner or nobody, and associate it with exactly one existing contact', () => {
    const activeOwners = new Set(account.owners.filter((owner) => !owner.archived).map((owner) => String(owner.id)));
    const contacts = new Set(account.contacts.map((contact) => contact.id));
    const pairs = new Map<string, string[]>();
    for (const [ticketId, contactId] of account.ticketContacts) pairs.set(ticketId, [...(pairs.get(ticketId) ?? []), contactId]);
    for (const ticket of account.tickets) {
      const owner = ticket.properties.hubspot_owner_id;
      expect(owner === null || activeOwners.has(owner ?? '')).toBe(true);
      expect(pairs.get(ticket.id)).toHaveLength(1);
      expect(contacts.has(pairs.get(ticket.id)?.[0] ?? '')).toBe(true);
    }
    expect(account.tickets.some((ticket) => ticket.properties.hubspot_owner_id === null)).toBe(true);
  });

  it('have a deal and a company per ten tickets, each owned by an active owner or nobody, with levels that follow tickets and contacts', () => {
    const activeOwners = new Set(account.owners.filter((owner) => !owner.archived).map((owner) => String(owner.id)));
    for (const kind of ['deals', 'companies'] as const) {
      expect(account[kind]).toHaveLength(300);
      expect(new Set(account[kind].map((record) => record.id)).size).toBe(300);
      for (const record of account[kind])
        expect(record.properties.hubspot_owner_id === null || activeOwners.has(record.properties.hubspot_owner_id ?? '')).toBe(true);
      expect(account[kind].some((record) => record.properties.hubspot_owner_id === null)).toBe(true);
    }
    for (const user of account.users) {
      expect(user.permissions.deals).toEqual(user.permissions.tickets);
      expect(user.permissions.companies).toEqual(user.permissions.contacts);
    }
  });

  it('give the big contact the first 1,000 tickets, and no other contact as many', () => {
    const tickets = account.ticketContacts.filter(([, contactId]) => contactId === world.bigContactId).map(([ticketId]) => ticketId);
    expect(world.bigContactTickets).toBe(BIG_CONTACT_TICKETS);
    expect(tickets).toEqual(account.tickets.slice(0, 1_000).map((ticket) => ticket.id));
    const perContact = new Map<string, number>();
    for (const [, contactId] of account.ticketContacts) perContact.set(contactId, (perContact.get(contactId) ?? 0) + 1);
    expect(Math.max(...[...perContact].filter(([id]) => id !== world.bigContactId).map(([, count]) => count))).toBeLessThan(1_000);
  });

  it('name an installing Super Admin, an agent who sees every ticket, and an agent who sees their teams', () => {
    const user = (id: number) => account.users.find((candidate) => candidate.id === id)!;
    expect(user(world.people.installer)).toMatchObject({ superAdmin: true, deactivated: false });
    expect(user(world.people.agent)).toMatchObject({ superAdmin: false, deactivated: false, permissions: { tickets: { view: 'everything' } } });
    expect(user(world.people.teamAgent)).toMatchObject({
      superAdmin: false,
      deactivated: false,
      permissions: { tickets: { view: 'team' }, contacts: { view: 'everything' } },
    });
  });

  it('give permission sets an admin could mirror: the mirrored policy keeps Edit and Delete within View', () => {
    expect(policyDocumentSchema.safeParse(mirrorPolicy(account)).success).toBe(true);
  });

  it('keep a world smaller than the big contact whole: all its tickets are that contact’s', () => {
    const tiny = generateWorld({ users: 3, tickets: 5, seed: 1 });
    expect(tiny.bigContactTickets).toBe(5);
    expect(tiny.seed.accounts[0]!.ticketContacts.every(([, contactId]) => contactId === tiny.bigContactId)).toBe(true);
    expect(() => generateWorld({ users: 2, tickets: 5, seed: 1 })).toThrow(/users/);
    expect(() => generateWorld({ users: 3, tickets: 0, seed: 1 })).toThrow(/tickets/);
  });
});

describe('the local HubSpot serving a generated world', () => {
  let fake: FakeHubSpot;
  let url: string;
  let token: string;
  beforeAll(async () => {
    fake = createFakeHubSpot({ seed: world.seed, app: TEST_APP });
    url = await fake.listen();
    token = fake.tokens.issue(world.portalId, world.people.installer).accessToken;
  });
  afterAll(() => fake.close());

  const call = async (path: string, body?: unknown) => {
    const response = await fetch(`${url}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as Record<string, unknown>;
  };

  it('finds the big contact’s 1,000 tickets by association and by search', async () => {
    const associations = await call(`/crm/v4/objects/contacts/${world.bigContactId}/associations/tickets`);
    expect(associations.results).toHaveLength(1_000);
    const search = await call('/crm/objects/2026-03/tickets/search', {
      filterGroups: [{ filters: [{ propertyName: 'associations.contact', operator: 'EQ', value: world.bigContactId }] }],
      limit: 1,
    });
    expect(search.total).toBe(1_000);
  });

  it('answers the permissions API for every user, the team agent only for their teams’ tickets', async () => {
    const ticket = account.tickets.find((candidate) => candidate.properties.hubspot_owner_id !== null)!;
    const hcrn = `hcrn:${world.portalId}:crm-object:0-5:${ticket.id}`;
    const answer = (await call(`/resource-permissions/v3/permitted-users?resource=${hcrn}`)) as {
      resources: Record<string, Record<string, { permittedUsers: number[] }>>;
    };
    const viewers = answer.resources[hcrn]?.['crm-object:VIEW']?.permittedUsers ?? [];
    expect(viewers).toContain(world.people.installer);
    expect(viewers).toContain(world.people.agent);
    const teamAgent = account.users.find((user) => user.id === world.people.teamAgent)!;
    const owner = account.owners.find((candidate) => String(candidate.id) === ticket.properties.hubspot_owner_id)!;
    const ownerUser = account.users.find((user) => user.id === owner.userId)!;
    const ownerTeams = [ownerUser.primaryTeamId, ...ownerUser.secondaryTeamIds];
    const shares = [teamAgent.primaryTeamId, ...teamAgent.secondaryTeamIds].some((id) => ownerTeams.includes(id)) || owner.userId === teamAgent.id;
    expect(viewers.includes(world.people.teamAgent)).toBe(shares);
  });
});
