import { afterEach, describe, expect, it } from 'vitest';
import { TICKETS_PER_PAGE } from '../../backend/src/usecases/contact-tickets.js';
import { userMay } from '../hubspot-fake/permissions.js';
import { BIG_CONTACT_TICKETS, generateWorld } from '../hubspot-fake/seed-generator.js';
import { startHarness, type Harness } from '../support/harness.js';
import { mirrorPolicy } from '../support/mirror-policy.js';

/** A contact with 1,000 tickets in an account of 40 users (4 teams): the list view of the performance issue. */
const world = generateWorld({ users: 40, tickets: 1_200, seed: 11 });
const account = world.seed.accounts[0]!;
const { portalId, bigContactId } = world;

const CONTACT = 'GET /crm/objects/2026-03/contacts/:contactId';
const SEARCH = 'POST /crm/objects/2026-03/tickets/search';
const PERMISSIONS = 'GET /resource-permissions/v3/permitted-users';
const PIPELINE = 'GET /crm/pipelines/2026-03/:objectType/:pipelineId';

type Page = { tickets: Array<{ id: string }>; hidden: { count: number; exact: boolean }; nextPage: string | null };

/** What the local HubSpot's own permission model lets the user see of the big contact's tickets. */
function expected(userId: number) {
  const user = account.users.find((candidate) => candidate.id === userId)!;
  const ids = new Set(account.ticketContacts.filter(([, contact]) => contact === bigContactId).map(([ticket]) => ticket));
  const visible = account.tickets.filter((ticket) => ids.has(ticket.id) && userMay(account, user, 'tickets', 'view', ticket));
  return { visible: visible.length, hidden: ids.size - visible.length };
}

describe('a list view of a contact with 1,000 tickets is bounded by the page shown', () => {
  let h: Harness;
  afterEach(async () => h.close());

  async function start(source: 'auto' | 'policy') {
    h = await startHarness({ seed: world.seed, env: { ACCESS_SOURCE: source } });
    await h.installDirect(portalId, world.people.installer);
    const saved = await h.signed({ method: 'PUT', path: '/api/v1/admin/policy', portalId, userId: world.people.installer, body: mirrorPolicy(account) });
    expect(saved.statusCode).toBe(200);
  }

  /** The viewer's profile, the owners and teams loaded by a record view first, as on a card already in use. */
  async function warm(userId: number) {
    await h.signed({ path: `/api/v1/records/tickets/${account.tickets[0]!.id}/access`, portalId, userId });
  }

  /** One list view, and the HubSpot calls it made, by route. */
  async function listView(userId: number, after?: string) {
    h.fake.calls.reset();
    const query = after === undefined ? '' : `?after=${encodeURIComponent(after)}`;
    const response = await h.signed({ path: `/api/v1/contacts/${bigContactId}/tickets${query}`, portalId, userId });
    expect(response.statusCode).toBe(200);
    const calls = h.fake.calls.all();
    const byRoute = (route: string) => calls.filter((call) => `${call.method} ${call.route}` === route).length;
    return {
      page: response.json<Page>(),
      total: calls.length,
      contact: byRoute(CONTACT),
      search: byRoute(SEARCH),
      permissions: byRoute(PERMISSIONS),
      pipeline: byRoute(PIPELINE),
    };
  }

  it('with HubSpot deciding (auto): the contact read, one search and its count, the permissions API for the contact and the page', async () => {
    await start('auto');
    const viewer = world.people.teamAgent;
    const truth = expected(viewer);
    expect(BIG_CONTACT_TICKETS).toBe(1_000);
    expect(truth.visible).toBeGreaterThan(TICKETS_PER_PAGE);
    await warm(viewer);

    const first = await listView(viewer);
    // The contact lists more tickets than one read holds, so their number is a count-only search's total.
    expect(first).toMatchObject({ contact: 1, search: 2, permissions: 2 });
    expect(first.pipeline).toBeLessThanOrEqual(1);
    expect(first.total).toBe(first.contact + first.search + first.permissions + first.pipeline);
    expect(first.page.tickets).toHaveLength(TICKETS_PER_PAGE);
    // HubSpot agrees with the mirrored levels, so the count is the truth, but only this page was asked about.
    expect(first.page.hidden).toMatchObject({ count: truth.hidden, exact: false });
    expect(first.page.nextPage).not.toBeNull();

    // The next page: HubSpot's answer about the contact is still cached under its owner; the page's tickets are asked about.
    const second = await listView(viewer, first.page.nextPage ?? undefined);
    expect(second).toMatchObject({ contact: 1, search: 2, permissions: 1 });
    const shown = [...first.page.tickets, ...second.page.tickets].map((ticket) => ticket.id);
    expect(new Set(shown).size).toBe(2 * TICKETS_PER_PAGE);

    // A viewer who sees every ticket: the search's own total is the contact's tickets, no count needed. HubSpot's answer
    // about the contact names every user, so it is shared with the view above; only the page is asked about.
    const agent = world.people.agent;
    await warm(agent);
    const everything = await listView(agent);
    expect(everything).toMatchObject({ contact: 1, search: 1, permissions: 1 });
    expect(everything.page.hidden.count).toBe(expected(agent).hidden);
  });

  it('with the admin levels deciding (policy): the contact read and the search, and an exact count on every page', async () => {
    await start('policy');
    const viewer = world.people.teamAgent;
    const truth = expected(viewer);
    await warm(viewer);
    const first = await listView(viewer);
    expect(first).toMatchObject({ contact: 1, search: 2, permissions: 0 });
    expect(first.page.hidden).toEqual({ count: truth.hidden, exact: true, reasons: [expect.objectContaining({ count: truth.hidden })] });
    const second = await listView(viewer, first.page.nextPage ?? undefined);
    expect(second.page.hidden).toMatchObject({ count: truth.hidden, exact: true });
  });
});
