import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LEVELS } from '../../backend/src/access/model.js';
import { TICKETS_PER_PAGE } from '../../backend/src/usecases/contact-tickets.js';
import { loadSeed, type Seed, type SeedAccount } from '../hubspot-fake/index.js';
import { userMay } from '../hubspot-fake/permissions.js';
import { ASSOCIATIONS_PER_READ } from '../hubspot-fake/routes/crm-objects.js';
import { startHarness, type Harness } from '../support/harness.js';
import { mirrorPolicy } from '../support/mirror-policy.js';

const TEAMS = ['301', '302', '303'];
const CONTACT = '6001';
const OTHER_CONTACT = '6002';
const ADMIN = 3000;
/** Contacts big enough that HubSpot pages their associations on read, and lists that span pages. */
const MOST_TICKETS = ASSOCIATIONS_PER_READ + 25;

type Page = {
  tickets: Array<{ id: string }>;
  hidden: { count: number; exact: boolean; reasons: Array<{ count: number }> };
  nextPage: string | null;
};

const worldArbitrary = fc.record({
  users: fc.array(
    fc.record({
      teams: fc.subarray(TEAMS),
      tickets: fc.constantFrom(...LEVELS),
      contacts: fc.constantFrom(...LEVELS),
      superAdmin: fc.integer({ min: 0, max: 9 }).map((draw) => draw === 0),
    }),
    { minLength: 1, maxLength: 5 },
  ),
  contactOwner: fc.option(fc.nat(), { nil: null }),
  // Mostly one or a few pages; sometimes more tickets than one read of the contact lists.
  ticketCount: fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: 2 * TICKETS_PER_PAGE + 5 }), weight: 2 },
    fc.integer({ min: ASSOCIATIONS_PER_READ + 1, max: MOST_TICKETS }),
  ),
  ticketOwners: fc.array(fc.option(fc.nat(), { nil: null, freq: 5 }), { minLength: MOST_TICKETS, maxLength: MOST_TICKETS }),
  elsewhere: fc.integer({ min: 0, max: 4 }),
  source: fc.constantFrom('policy', 'hubspot', 'auto', 'auto, no levels set'),
});
type World = typeof worldArbitrary extends fc.Arbitrary<infer T> ? T : never;

/** The world as HubSpot holds it: an admin who installs, the random users (each an owner), one contact's tickets and a few of another's. */
function seedFor(world: World): Seed {
  const template = loadSeed().accounts[0]!;
  const user = (id: number, spec: World['users'][number]) => ({
    id,
    email: `u${id}@example.com`,
    firstName: 'U',
    lastName: String(id),
    superAdmin: spec.superAdmin,
    canInstallApps: spec.superAdmin,
    deactivated: false,
    roleIds: [],
    primaryTeamId: spec.teams[0],
    secondaryTeamIds: spec.teams.slice(1),
    permissions: {
      tickets: { view: spec.tickets, edit: 'none' as const, delete: 'none' as const },
      contacts: { view: spec.contacts, edit: 'none' as const, delete: 'none' as const, communicate: 'none' as const },
      deals: { view: 'none' as const, edit: 'none' as const, delete: 'none' as const },
      companies: { view: 'none' as const, edit: 'none' as const, delete: 'none' as const, communicate: 'none' as const },
    },
  });
  const users = [
    user(ADMIN, { teams: [], tickets: 'everything', contacts: 'everything', superAdmin: true }),
    ...world.users.map((spec, index) => user(ADMIN + 1 + index, spec)),
  ];
  const owners = users.map((entry, index) => ({
    id: 7000 + index,
    userId: entry.id,
    email: entry.email,
    firstName: 'U',
    lastName: entry.lastName,
    archived: false,
  }));
  const ownerOf = (pick: number | null) => (pick === null ? null : String(owners[pick % owners.length]!.id));
  const ticket = (index: number, owner: string | null) => ({
    id: String(900_000 + index),
    properties: { subject: `T${index}`, hubspot_owner_id: owner, hs_pipeline: '0', hs_pipeline_stage: '1' },
  });
  const mine = world.ticketOwners.slice(0, world.ticketCount).map((pick, index) => ticket(index, ownerOf(pick)));
  const theirs = Array.from({ length: world.elsewhere }, (_, index) => ticket(MOST_TICKETS + index, ownerOf(index)));
  const contact = (id: string, owner: string | null) => ({
    id,
    properties: { firstname: 'C', lastname: id, email: `c${id}@example.com`, hubspot_owner_id: owner },
  });
  return {
    accounts: [
      {
        ...template,
        users,
        owners,
        tickets: [...mine, ...theirs],
        contacts: [contact(CONTACT, ownerOf(world.contactOwner)), contact(OTHER_CONTACT, null)],
        ticketContacts: [
          ...mine.map((entry) => [entry.id, CONTACT] as [string, string]),
          ...theirs.map((entry) => [entry.id, OTHER_CONTACT] as [string, string]),
        ],
      },
    ],
  };
}

/** Every page of the contact's list for one viewer, following nextPage, as the card does. */
async function allPages(h: Harness, portalId: number, userId: number): Promise<{ status: number; body: unknown; pages: Page[] }> {
  const pages: Page[] = [];
  let after: string | null = null;
  do {
    const query: string = after === null ? '' : `?after=${encodeURIComponent(after)}`;
    const response = await h.signed({ path: `/api/v1/contacts/${CONTACT}/tickets${query}`, portalId, userId });
    if (response.statusCode !== 200) return { status: response.statusCode, body: response.json(), pages };
    pages.push(response.json<Page>());
    after = pages.at(-1)!.nextPage;
  } while (after !== null);
  return { status: 200, body: null, pages };
}

function expectations(account: SeedAccount, userId: number) {
  const user = account.users.find((candidate) => candidate.id === userId)!;
  const contact = account.contacts.find((candidate) => candidate.id === CONTACT)!;
  const tickets = account.tickets.filter((ticket) => account.ticketContacts.some(([id, about]) => id === ticket.id && about === CONTACT));
  const visible = tickets.filter((ticket) => userMay(account, user, 'tickets', 'view', ticket)).map((ticket) => ticket.id);
  return { contactVisible: userMay(account, user, 'contacts', 'view', contact), visible, hidden: tickets.length - visible.length };
}

describe("a contact's ticket list agrees with HubSpot's permissions, page by page", () => {
  it('shows exactly the tickets HubSpot lets each viewer see, and never more hidden than there are, exactly when it says so', async () => {
    await fc.assert(
      fc.asyncProperty(worldArbitrary, async (world) => {
        const seed = seedFor(world);
        const account = seed.accounts[0]!;
        const source = world.source === 'auto, no levels set' ? 'auto' : world.source;
        const h = await startHarness({ seed, env: { ACCESS_SOURCE: source }, liftRateLimits: 10_000 });
        try {
          await h.installDirect(account.portalId, ADMIN);
          if (world.source !== 'auto, no levels set') {
            const saved = await h.signed({
              method: 'PUT',
              path: '/api/v1/admin/policy',
              portalId: account.portalId,
              userId: ADMIN,
              body: mirrorPolicy(account),
            });
            expect(saved.statusCode).toBe(200);
          }
          for (const user of account.users) {
            const expected = expectations(account, user.id);
            const answer = await allPages(h, account.portalId, user.id);
            if (!expected.contactVisible) {
              // Refused before anything about its tickets is said: no count, no ticket.
              expect(answer.status).toBe(403);
              expect(JSON.stringify(answer.body)).not.toMatch(/hidden|900\d{3}/);
              continue;
            }
            expect(answer.status).toBe(200);
            const shown = answer.pages.flatMap((page) => page.tickets.map((ticket) => ticket.id));
            expect(new Set(shown).size).toBe(shown.length);
            expect([...shown].sort()).toEqual([...expected.visible].sort());
            for (const page of answer.pages) {
              expect(page.tickets.length).toBeLessThanOrEqual(TICKETS_PER_PAGE);
              expect(page.hidden.reasons.reduce((sum, reason) => sum + reason.count, 0)).toBe(page.hidden.count);
              // A lower bound at worst, and the truth when it says it is exact.
              expect(page.hidden.count).toBeLessThanOrEqual(expected.hidden);
              if (page.hidden.exact) expect(page.hidden.count).toBe(expected.hidden);
            }
            // The admin's levels decide at the source: every page knows the whole count.
            if (source === 'policy' || user.superAdmin) expect(answer.pages.every((page) => page.hidden.exact)).toBe(true);
            if (answer.pages.length === 1) expect(answer.pages[0]!.hidden.exact).toBe(true);
          }
        } finally {
          await h.close();
        }
      }),
      { numRuns: 24 },
    );
  });
});
