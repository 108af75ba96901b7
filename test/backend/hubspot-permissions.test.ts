import { afterEach, describe, expect, it } from 'vitest';
import { PERMITTED_USERS_PER_CALL, readPermittedUsers, type PermittedActions } from '../../backend/src/hubspot/crm.js';
import { loadSeed } from '../hubspot-fake/index.js';
import { startHarness, type Harness } from '../support/harness.js';

/**
 * ACCESS_SOURCE=hubspot against HubSpot's permissions API as documented (test/hubspot-fake/routes/permissions.ts):
 * the documented shape gives the right verdicts, any other shape is unknown (never allowed), and a list asks about its
 * records 20 at a time.
 */
const seed = loadSeed();
const northwind = seed.accounts[0]!;
const P = northwind.portalId;
const user = (first: string) => northwind.users.find((candidate) => candidate.firstName === first)!;
const ownerOf = (first: string) => northwind.owners.find((owner) => owner.userId === user(first).id)!.id;
const [ana, bob] = [user('Ana'), user('Bob')];
const PERMITTED = '/resource-permissions/v3/permitted-users';

describe('reading the permissions API answer', () => {
  const hcrn = (id: string) => `hcrn:${P}:crm-object:0-5:${id}`;
  const requested = new Map([
    [hcrn('1'), '1'],
    [hcrn('2'), '2'],
  ]);
  const documented = {
    resources: {
      [hcrn('1')]: { 'crm-object:VIEW': { permittedUsers: [7, 8] }, 'crm-object:EDIT': { permittedUsers: [7] }, 'crm-object:DELETE': { permittedUsers: [] } },
      [hcrn('2')]: { 'crm-object:VIEW': { permittedUsers: [8] } },
    },
  };
  /** Per user id, the actions HubSpot lists them under, sorted. */
  const asPlain = (answer: PermittedActions | undefined) => {
    if (answer === undefined) return undefined;
    const byUser = new Map<number, string[]>();
    for (const [action, userIds] of answer) for (const userId of userIds) byUser.set(userId, [...(byUser.get(userId) ?? []), action].sort());
    return Object.fromEntries(byUser);
  };

  it('reads the documented shape per record; an absent permission means nobody holds it', () => {
    const answers = readPermittedUsers(documented, requested);
    expect(asPlain(answers.get('1'))).toEqual({ 7: ['edit', 'view'], 8: ['view'] });
    expect(asPlain(answers.get('2'))).toEqual({ 8: ['view'] });
  });

  it('ignores a crm-object permission it does not know, which can grant nothing it checks', () => {
    const withNew = {
      resources: { ...documented.resources, [hcrn('2')]: { 'crm-object:VIEW': { permittedUsers: [8] }, 'crm-object:MERGE': { permittedUsers: [9] } } },
    };
    expect(asPlain(readPermittedUsers(withNew, requested).get('2'))).toEqual({ 8: ['view'] });
  });

  it('leaves a requested record without an entry unknown, and the others answered', () => {
    const answers = readPermittedUsers({ resources: { [hcrn('1')]: documented.resources[hcrn('1')] } }, requested);
    expect(answers.get('2')).toBeUndefined();
    expect(answers.get('1')).toBeDefined();
  });

  const entry = (inner: unknown) => ({ resources: { [hcrn('1')]: inner, [hcrn('2')]: documented.resources[hcrn('2')] } });
  it.each([
    ['no body', null],
    ['a list', [documented]],
    ['the old guess: results with string ids', { results: [{ userId: '7', permissions: ['VIEW'] }] }],
    ['another key at the top (paging: maybe cut short)', { ...documented, paging: { next: { after: '20' } } }],
    ['resources as a list', { resources: [documented.resources[hcrn('1')]] }],
    ['an hcrn that was not asked about', { resources: { ...documented.resources, [hcrn('3')]: {} } }],
    ['an hcrn spelled differently', { resources: { [hcrn('01')]: {}, [hcrn('2')]: {} } }],
    ['string user ids', entry({ 'crm-object:VIEW': { permittedUsers: ['7'] } })],
    ['fractional user ids', entry({ 'crm-object:VIEW': { permittedUsers: [7.5] } })],
    ['negative user ids', entry({ 'crm-object:VIEW': { permittedUsers: [-7] } })],
    ['another key beside permittedUsers', entry({ 'crm-object:VIEW': { permittedUsers: [7], permittedTeams: [3] } })],
    ['permittedUsers missing', entry({ 'crm-object:VIEW': {} })],
    ['a lower-case permission', entry({ 'crm-object:view': { permittedUsers: [7] } })],
    ['a permission outside crm-object', entry({ VIEW: { permittedUsers: [7] } })],
    ['a permission as a bare list', entry({ 'crm-object:VIEW': [7] })],
  ])('treats %s as unknown for every record, never as allowed', (_, answer) => {
    const answers = readPermittedUsers(answer, requested);
    expect([...answers.keys()]).toEqual(['1', '2']);
    expect([...answers.values()]).toEqual([undefined, undefined]);
  });
});

describe('ACCESS_SOURCE=hubspot on that shape', () => {
  let h: Harness;
  afterEach(async () => h.close());
  const start = async () => {
    h = await startHarness({ env: { ACCESS_SOURCE: 'hubspot' } });
    await h.installDirect(P, ana.id);
  };
  const access = (userId: number, objectType: 'tickets' | 'contacts', id: string) =>
    h.signed({ path: `/api/v1/records/${objectType}/${id}/access`, portalId: P, userId });

  it("gives HubSpot's verdicts: Bob may view and edit his own ticket but not delete it, and may not open Ana's", async () => {
    await start();
    // Ticket 5002 and contact 6002 are Bob's; 5001 is Ana's. Bob: tickets owned/owned/none, contacts owned (communicate too).
    const own = await access(bob.id, 'tickets', '5002');
    expect(own.statusCode).toBe(200);
    expect(own.json().verdicts).toMatchObject({
      view: { allowed: true, source: 'hubspot' },
      edit: { allowed: true },
      delete: { allowed: false, code: 'DENIED_BY_HUBSPOT' },
    });
    const others = await access(bob.id, 'tickets', '5001');
    expect(others.statusCode).toBe(403);
    expect(others.json().error.code).toBe('DENIED_BY_HUBSPOT');
    expect((await access(bob.id, 'contacts', '6002')).json().verdicts.communicate).toMatchObject({ allowed: true, code: 'ALLOWED_BY_HUBSPOT' });
  });

  it('refuses with ACCESS_UNKNOWN when HubSpot refuses the call (403: not granted) or keeps failing', async () => {
    await start();
    // A 503 is retried (4 attempts in all); a 403 is not.
    for (const [status, times] of [
      [403, 1],
      [503, 4],
    ] as const) {
      h.fake.switches.failNext(times, status, PERMITTED);
      const refused = await access(bob.id, 'tickets', '5002');
      expect(refused.statusCode).toBe(403);
      expect(refused.json().error.code).toBe('ACCESS_UNKNOWN');
    }
  });

  it('refuses with ACCESS_UNKNOWN when HubSpot answers in any other shape', async () => {
    await start();
    h.fake.switches.answerNext(1, { results: [{ userId: String(bob.id), permissions: ['VIEW', 'EDIT'] }] }, PERMITTED);
    const refused = await access(bob.id, 'tickets', '5002');
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('ACCESS_UNKNOWN');
  });

  it(`asks about a contact's listed tickets a page of ${PERMITTED_USERS_PER_CALL} per call, only for those not cached under their current owner`, async () => {
    await start();
    // Contact 6002 (Bob's) has tickets 5005 (Dev's) and 5007 (Bob's); 43 more, alternately Bob's and Carla's, make 45.
    const bearer = h.fake.tokens.issue(P, ana.id).accessToken;
    const created: string[] = [];
    for (let index = 0; index < 43; index += 1) {
      const response = await fetch(`${h.fake.url}/crm/objects/2026-03/tickets`, {
        method: 'POST',
        headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          properties: {
            subject: `Batch ${index}`,
            hs_pipeline: '0',
            hs_pipeline_stage: '1',
            hubspot_owner_id: String(index % 2 === 0 ? ownerOf('Bob') : ownerOf('Carla')),
          },
          associations: [{ to: { id: '6002' }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 16 }] }],
        }),
      });
      expect(response.status).toBe(201);
      created.push(((await response.json()) as { id: string }).id);
    }
    const bobs = ['5007', ...created.filter((_, index) => index % 2 === 0)];
    type Page = { tickets: Array<{ id: string }>; hidden: { count: number; exact: boolean }; nextPage: string | null };
    /** Every page, as the card would ask for them: Bob's level is not set, so HubSpot judges each page's tickets. */
    const list = async () => {
      const pages: Page[] = [];
      let after: string | null = null;
      do {
        const query: string = after === null ? '' : `?after=${encodeURIComponent(after)}`;
        const response = await h.signed({ path: `/api/v1/contacts/6002/tickets${query}`, portalId: P, userId: bob.id });
        expect(response.statusCode).toBe(200);
        pages.push(response.json<Page>());
        after = pages.at(-1)!.nextPage;
      } while (after !== null);
      return {
        pages,
        tickets: pages.flatMap((page) => page.tickets),
        hidden: pages.reduce((sum, page) => sum + page.hidden.count, 0),
      };
    };

    h.fake.calls.reset();
    const first = await list();
    expect(first.pages).toHaveLength(Math.ceil(45 / PERMITTED_USERS_PER_CALL));
    expect(first.tickets.map((ticket) => ticket.id).sort()).toEqual([...bobs].sort());
    // HubSpot was asked about each page's tickets only: each page's count is a lower bound, and together they are exact.
    expect(first.pages.every((page) => !page.hidden.exact)).toBe(true);
    expect(first.hidden).toBe(45 - bobs.length);
    // One call for the contact itself (cached for the pages after), then one per page of 20.
    expect(h.fake.calls.count('GET', PERMITTED)).toBe(1 + Math.ceil(45 / PERMITTED_USERS_PER_CALL));

    h.fake.calls.reset();
    await list();
    expect(h.fake.calls.count('GET', PERMITTED)).toBe(0);

    // A reassignment in HubSpot makes that one record's answer stale: only it is asked about again, and it shows.
    const moved = created[1]!;
    h.fake.world.reassign(P, 'tickets', moved, ownerOf('Bob'));
    h.fake.calls.reset();
    const after = await list();
    expect(h.fake.calls.count('GET', PERMITTED)).toBe(1);
    expect(after.tickets.map((ticket) => ticket.id)).toContain(moved);
  });
});

describe("the settings page's live probe of the permissions API", () => {
  let h: Harness;
  afterEach(async () => h.close());
  const status = async () => {
    const response = await h.signed({ path: '/api/v1/admin/status', portalId: P, userId: ana.id });
    expect(response.statusCode).toBe(200);
    return response.json().accessSource as { configured: string; live: string; detail: string | null; checkedAt: string };
  };

  it('asks HubSpot about one ticket on every status, past the cache, and reports what it did', async () => {
    const clock = Date.parse('2026-11-22T09:30:00.000Z');
    h = await startHarness({ now: () => clock, env: { ACCESS_SOURCE: 'auto' } });
    await h.installDirect(P, ana.id);
    h.fake.calls.reset();
    expect(await status()).toEqual({ configured: 'auto', live: 'answering', detail: null, checkedAt: '2026-11-22T09:30:00.000Z' });
    expect(await status()).toMatchObject({ live: 'answering' });
    expect(h.fake.calls.count('GET', PERMITTED)).toBe(2);

    h.fake.switches.failNext(1, 403, PERMITTED);
    expect(await status()).toMatchObject({ live: 'not granted', detail: expect.stringContaining('HubSpot refused') });
    h.fake.switches.failNext(4, 503, PERMITTED);
    expect(await status()).toMatchObject({ live: 'unavailable', detail: expect.any(String) });
    h.fake.switches.answerNext(1, { resources: { other: {} } }, PERMITTED);
    expect(await status()).toMatchObject({ live: 'unexpected answer', detail: expect.stringContaining('not in the documented shape') });
    h.fake.switches.answerNext(1, { total: 0, results: [] }, '/crm/objects/2026-03/tickets/search');
    expect(await status()).toMatchObject({ live: 'unavailable', detail: 'There is no ticket in this account to ask HubSpot about.' });
  });

  it('probes in policy mode too, so an admin knows whether switching to HubSpot would work', async () => {
    h = await startHarness({ env: { ACCESS_SOURCE: 'policy' } });
    await h.installDirect(P, ana.id);
    expect(await status()).toMatchObject({ configured: 'policy', live: 'answering' });
  });
});
