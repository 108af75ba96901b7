import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide } from '../../backend/src/access/decide.js';
import { LEVELS, type Grant, type RecordFacts, type ViewerFacts } from '../../backend/src/access/model.js';
import { visibility } from '../../backend/src/access/visibility.js';
import { CRM_OBJECTS } from '../../backend/src/hubspot/crm.js';
import { SEARCH_LIMITS, ownerScopeFilterGroups } from '../../backend/src/hubspot/search-filters.js';
import { createFakeHubSpot, loadSeed, type Seed } from '../hubspot-fake/index.js';

const APP = { clientId: 'prop-client', clientSecret: 'prop-secret', appId: 1 };
const TEAMS = ['301', '302', '303'];
const CONTACT = '6001';
const base = [{ propertyName: 'associations.contact', operator: 'EQ' as const, value: CONTACT }];
/** Tickets are searched as a contact's (the contact card's list); deals and companies by owner alone. */
const OBJECTS = ['tickets', 'deals', 'companies'] as const;
type Searched = (typeof OBJECTS)[number];
const baseOf = (objectType: Searched) => (objectType === 'tickets' ? base : []);

/** A random account: owners (each with a user on random teams) and records of one type with a random owner or none. */
const worldArbitrary = fc.record({
  objectType: fc.constantFrom(...OBJECTS),
  owners: fc.uniqueArray(fc.record({ id: fc.integer({ min: 7001, max: 7040 }), teams: fc.subarray(TEAMS) }), {
    selector: (owner) => owner.id,
    minLength: 1,
    maxLength: 12,
  }),
  tickets: fc.array(fc.record({ ownerPick: fc.nat(), unassigned: fc.boolean(), aboutContact: fc.boolean() }), { minLength: 1, maxLength: 25 }),
  viewer: fc.record({
    superAdmin: fc.boolean(),
    ownsPick: fc.option(fc.nat(), { nil: null }),
    teams: fc.subarray(TEAMS),
    level: fc.constantFrom(...LEVELS),
    configured: fc.boolean(),
  }),
});
type World = typeof worldArbitrary extends fc.Arbitrary<infer T> ? T : never;

function seedFor(world: World): Seed {
  const template = loadSeed().accounts[0]!;
  const permissions = template.users[0]!.permissions;
  const users = world.owners.map((owner, index) => ({
    id: 3000 + index,
    email: `u${index}@example.com`,
    firstName: 'U',
    lastName: String(index),
    superAdmin: false,
    canInstallApps: false,
    deactivated: false,
    roleIds: [],
    primaryTeamId: owner.teams[0],
    secondaryTeamIds: owner.teams.slice(1),
    permissions,
  }));
  const records = world.tickets.map((ticket, index) => ({
    id: String(5000 + index),
    properties: {
      subject: `T${index}`,
      hubspot_owner_id: ticket.unassigned ? null : String(world.owners[ticket.ownerPick % world.owners.length]!.id),
      hs_pipeline: '0',
      hs_pipeline_stage: '1',
    },
  }));
  return {
    accounts: [
      {
        ...template,
        users,
        owners: world.owners.map((owner, index) => ({
          id: owner.id,
          userId: 3000 + index,
          email: `u${index}@example.com`,
          firstName: 'U',
          lastName: String(index),
          archived: false,
        })),
        tickets: world.objectType === 'tickets' ? records : [],
        deals: world.objectType === 'deals' ? records : [],
        companies: world.objectType === 'companies' ? records : [],
        contacts: [{ id: CONTACT, properties: { firstname: 'C', lastname: 'X', email: 'c@example.com', hubspot_owner_id: null } }],
        ticketContacts: records.filter((_, index) => world.tickets[index]!.aboutContact).map((ticket) => [ticket.id, CONTACT] as [string, string]),
      },
    ],
  };
}

describe('compiled search filters agree with decide()', () => {
  it("for random viewers, teams and records (tickets, deals, companies), as executed by the local HubSpot's search", async () => {
    await fc.assert(
      fc.asyncProperty(worldArbitrary, async (world) => {
        const seed = seedFor(world);
        const account = seed.accounts[0]!;
        const fake = createFakeHubSpot({ app: APP, seed });
        try {
          const { accessToken } = fake.tokens.issue(account.portalId, account.users[0]!.id);
          const ownerTeams = new Map(world.owners.map((owner) => [owner.id, owner.teams]));
          const viewerOwnerId = world.viewer.ownsPick === null ? null : world.owners[world.viewer.ownsPick % world.owners.length]!.id;
          const viewer: ViewerFacts = {
            userId: 1,
            name: 'V',
            superAdmin: world.viewer.superAdmin,
            ownerId: viewerOwnerId,
            teams: world.viewer.teams.map((id) => ({ id, name: id })),
          };
          const grant: Grant = { level: world.viewer.level, source: 'policy', rule: 'random', configured: world.viewer.configured };
          const teamOwnerIds = world.owners.filter((owner) => owner.teams.some((team) => world.viewer.teams.includes(team))).map((owner) => owner.id);

          const { objectType } = world;
          const expected = account[objectType]
            .filter((ticket) => objectType !== 'tickets' || account.ticketContacts.some(([ticketId]) => ticketId === ticket.id))
            .filter((ticket) => {
              const ownerId = ticket.properties.hubspot_owner_id === null ? null : Number(ticket.properties.hubspot_owner_id);
              const record: RecordFacts = {
                objectType,
                id: ticket.id,
                owner: ownerId === null ? null : { ownerId, name: 'O', teamIds: ownerTeams.get(ownerId) ?? [] },
              };
              return decide(viewer, 'view', record, grant).allowed;
            })
            .map((ticket) => ticket.id);

          const groups = ownerScopeFilterGroups(visibility(viewer, grant, teamOwnerIds), baseOf(objectType), CRM_OBJECTS[objectType].ownerProperty);
          expect(groups).toBeDefined();
          let found: string[] = [];
          if (groups !== 'none' && groups !== undefined) {
            const response = await fake.app.inject({
              method: 'POST',
              url: `${CRM_OBJECTS[objectType].path}/search`,
              headers: { authorization: `Bearer ${accessToken}` },
              payload: { filterGroups: groups, limit: 200 },
            });
            expect(response.statusCode).toBe(200);
            found = (response.json().results as Array<{ id: string }>).map((result) => result.id);
          }
          expect(found.sort()).toEqual(expected.sort());
        } finally {
          await fake.close();
        }
      }),
      { numRuns: 150 },
    );
  });

  it("splits large owner lists into IN chunks within HubSpot's limits, and gives up past them", () => {
    const viewer: ViewerFacts = { userId: 1, name: 'V', superAdmin: false, ownerId: 1, teams: [{ id: '301', name: 'A' }] };
    const grant: Grant = { level: 'team+unassigned', source: 'policy', rule: 'r', configured: true };
    const many = Array.from({ length: 250 }, (_, index) => index + 2);
    const groups = ownerScopeFilterGroups(visibility(viewer, grant, many), base, CRM_OBJECTS.tickets.ownerProperty);
    expect(groups).not.toBe('none');
    if (groups === undefined || groups === 'none') throw new Error('expected filter groups');
    expect(groups).toHaveLength(4);
    for (const group of groups) {
      expect(group.filters.length).toBeLessThanOrEqual(SEARCH_LIMITS.filtersPerGroup);
      for (const filter of group.filters) if ('values' in filter) expect(filter.values.length).toBeLessThanOrEqual(SEARCH_LIMITS.inValues);
    }
    expect(
      ownerScopeFilterGroups(
        visibility(
          viewer,
          grant,
          Array.from({ length: 600 }, (_, index) => index + 2),
        ),
        base,
        CRM_OBJECTS.tickets.ownerProperty,
      ),
    ).toBeUndefined();
  });
});
