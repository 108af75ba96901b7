import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkResponse } from './contract.js';
import { createFakeHubSpot, loadSeed, type FakeHubSpot } from './index.js';
import { ASSOCIATIONS_PER_READ } from './routes/crm-objects.js';

const APP = { clientId: 'contract-client', clientSecret: 'contract-secret', appId: 1 };
const seed = loadSeed();
const [northwind, contoso] = seed.accounts as [(typeof seed.accounts)[0], (typeof seed.accounts)[0]];
const admin = northwind.users.find((user) => user.superAdmin)!;

describe('the contract check itself', () => {
  it('flags a body that breaks the spec, so it cannot pass silently', async () => {
    const violation = await checkResponse({ method: 'GET', url: '/settings/v3/users/1', status: 200, body: { id: '1', firstName: 'No email' } });
    expect(violation?.errors.join(' ')).toMatch(/email/);
    const badError = await checkResponse({ method: 'GET', url: '/crm/v3/owners/1', status: 404, body: { message: 'no category, no correlationId' } });
    expect(badError?.errors.join(' ')).toMatch(/category|correlationId/);
    const unknown = await checkResponse({ method: 'GET', url: '/crm/v3/not-a-thing', status: 200, body: {} });
    expect(unknown?.errors).toEqual(['no operation in any published spec matches this path']);
  });

  it('accepts a body that follows the spec', async () => {
    expect(
      await checkResponse({ method: 'GET', url: '/settings/v3/users/1', status: 200, body: { id: '1', email: 'a@b.example', roleIds: [], superAdmin: false } }),
    ).toBeUndefined();
  });

  it('checks the dated 2026-03 paths against the 2026-03 specs, including a 204 that must come without a body', async () => {
    const stage = { id: '1', label: 'New', displayOrder: 0, archived: false, createdAt: '2026-01-05T09:00:00.000Z', updatedAt: '2026-01-05T09:00:00.000Z' };
    const pipeline = (stages: unknown[]) => ({ ...stage, id: '0', label: 'Support', stages });
    // 2026-03/pipelines.json's PipelineStage requires writePermissions; crm-pipelines-v3.json's does not.
    const dated = await checkResponse({ method: 'GET', url: '/crm/pipelines/2026-03/tickets/0', status: 200, body: pipeline([{ ...stage, metadata: {} }]) });
    expect(dated?.errors.join(' ')).toMatch(/writePermissions/);
    expect(
      await checkResponse({ method: 'GET', url: '/crm/v3/pipelines/tickets/0', status: 200, body: pipeline([{ ...stage, metadata: {} }]) }),
    ).toBeUndefined();
    const complete = pipeline([{ ...stage, metadata: {}, writePermissions: 'CRM_PERMISSIONS_ENFORCEMENT' }]);
    expect(await checkResponse({ method: 'GET', url: '/crm/pipelines/2026-03/tickets/0', status: 200, body: complete })).toBeUndefined();

    const uninstall = (body: unknown) => checkResponse({ method: 'DELETE', url: '/appinstalls/2026-03/external-install', status: 204, body });
    expect(await uninstall(null)).toBeUndefined();
    expect((await uninstall({ ok: true }))?.errors.join(' ')).toMatch(/no body/);
  });

  it("holds the permissions API to the shape HubSpot documents in prose, and its errors to the specs' Error", async () => {
    const url = '/resource-permissions/v3/permitted-users?resource=hcrn:1:crm-object:0-5:42';
    const check = (body: unknown, status = 200) => checkResponse({ method: 'GET', url, status, body });
    expect(
      await check({ resources: { 'hcrn:1:crm-object:0-5:42': { 'crm-object:VIEW': { permittedUsers: [1, 2] }, 'crm-object:EDIT': { permittedUsers: [1] } } } }),
    ).toBeUndefined();
    expect(await check({ resources: {} })).toBeUndefined();
    expect((await check({ results: [{ userId: '1', permissions: ['VIEW'] }] }))?.errors.join(' ')).toMatch(/resources|additional/);
    expect(await check({ resources: { h: { 'crm-object:VIEW': { permittedUsers: ['1'] } } } })).toBeDefined();
    expect(await check({ resources: { h: { 'crm-object:VIEW': { permittedUsers: [1], permittedTeams: [] } } } })).toBeDefined();
    expect(await check({ resources: { h: { VIEW: { permittedUsers: [1] } } } })).toBeDefined();
    expect(await check({ resources: {}, paging: { next: { after: '1' } } })).toBeDefined();
    expect((await check({ message: 'no category' }, 400))?.errors.join(' ')).toMatch(/category|correlationId/);
  });
});

describe('local HubSpot endpoints', () => {
  let fake: FakeHubSpot;
  let base: string;
  let now = Date.parse('2026-11-01T10:00:00Z');
  beforeAll(async () => {
    fake = createFakeHubSpot({ app: APP, now: () => now });
    base = await fake.listen();
  });
  afterAll(async () => {
    expect(fake.contract.violations()).toEqual([]);
    await fake.close();
  });

  const get = async (path: string, token?: string) => {
    const response = await fetch(base + path, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
    return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
  };
  const token = (portalId = northwind.portalId, scopes?: string[]) => fake.tokens.issue(portalId, admin.id, scopes).accessToken;

  it("serves users, teams, roles and the user list with HubSpot's shapes", async () => {
    const bearer = token();
    const user = await get(`/settings/v3/users/${admin.id}`, bearer);
    expect(user.status).toBe(200);
    expect(user.body).toMatchObject({ id: String(admin.id), email: admin.email, superAdmin: true });
    expect((await get(`/settings/v3/users/${admin.email}?idProperty=EMAIL`, bearer)).body.id).toBe(String(admin.id));
    const teams = await get('/settings/v3/users/teams', bearer);
    expect((teams.body.results as unknown[]).length).toBe(northwind.teams.length);
    expect((await get('/settings/v3/users/roles', bearer)).status).toBe(200);
    const list = await get('/settings/users/v3?limit=2', bearer);
    expect((list.body.results as unknown[]).length).toBe(2);
    expect(list.body.paging).toBeDefined();
  });

  it('serves owners by id and by user id, with teams, and hides archived owners unless asked', async () => {
    const bearer = token();
    const owner = northwind.owners[1]!;
    expect((await get(`/crm/v3/owners/${owner.id}`, bearer)).body).toMatchObject({ id: String(owner.id), userId: owner.userId, type: 'PERSON' });
    const byUser = await get(`/crm/v3/owners/${owner.userId}?idProperty=userId`, bearer);
    expect(byUser.body.id).toBe(String(owner.id));
    expect((byUser.body.teams as unknown[]).length).toBeGreaterThan(0);
    const archived = northwind.owners.find((candidate) => candidate.archived)!;
    expect((await get(`/crm/v3/owners/${archived.id}`, bearer)).status).toBe(404);
    expect((await get(`/crm/v3/owners/${archived.id}?archived=true`, bearer)).status).toBe(200);
    expect(((await get(`/crm/v3/owners?email=${encodeURIComponent(owner.email)}`, bearer)).body.results as unknown[]).length).toBe(1);
  });

  it('serves tickets and contacts with only the requested properties, and 404 for unknown ids', async () => {
    const bearer = token();
    const ticket = await get(`/crm/v3/objects/tickets/${northwind.tickets[0]!.id}?properties=subject,hubspot_owner_id`, bearer);
    expect(ticket.status).toBe(200);
    expect(ticket.body.properties).toMatchObject({
      subject: northwind.tickets[0]!.properties.subject,
      hubspot_owner_id: northwind.tickets[0]!.properties.hubspot_owner_id,
    });
    expect(ticket.body.properties).not.toHaveProperty('content');
    expect((await get(`/crm/v3/objects/contacts/${northwind.contacts[0]!.id}`, bearer)).status).toBe(200);
    expect((await get('/crm/v3/objects/tickets/999999', bearer)).status).toBe(404);
  });

  it("lists a contact's associated tickets on read, paged past 100, and leaves out a contact's missing associations", async () => {
    const bearer = token();
    const read = async (contactId: string) => (await get(`/crm/objects/2026-03/contacts/${contactId}?associations=tickets`, bearer)).body;
    const seeded = northwind.ticketContacts.filter(([, contactId]) => contactId === '6001').map(([ticketId]) => ticketId);
    expect(await read('6001')).toMatchObject({ associations: { tickets: { results: seeded.map((id) => ({ id, type: 'contact_to_ticket' })) } } });
    expect((await read('6001')).associations).not.toHaveProperty('tickets.paging');
    const lonely = northwind.contacts.find((contact) => !northwind.ticketContacts.some(([, contactId]) => contactId === contact.id));
    expect(await read(lonely!.id)).not.toHaveProperty('associations');
    // Past ASSOCIATIONS_PER_READ the read holds the first ones and says there are more.
    const account = fake.state.account(northwind.portalId)!;
    for (let index = 0; index < ASSOCIATIONS_PER_READ; index += 1) {
      account.tickets.push({ id: String(800_000 + index), properties: { subject: `Bulk ${index}`, hubspot_owner_id: null } });
      account.ticketContacts.push([String(800_000 + index), '6003']);
    }
    const many = (await read('6003')) as { associations: { tickets: { results: unknown[]; paging?: { next?: { after: string } } } } };
    expect(many.associations.tickets.results).toHaveLength(ASSOCIATIONS_PER_READ);
    expect(many.associations.tickets.paging?.next?.after).toEqual(expect.any(String));
  });

  it("searches a contact's tickets with HubSpot's total of every match, page by page with its `after` cursor", async () => {
    const bearer = token();
    const search = async (body: unknown) => {
      now += 1_001;
      const response = await fetch(`${base}/crm/objects/2026-03/tickets/search`, {
        method: 'POST',
        headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(response.status).toBe(200);
      return (await response.json()) as { total: number; results: Array<{ id: string }>; paging?: { next: { after: string } } };
    };
    const about = { propertyName: 'associations.contact', operator: 'EQ', value: '6001' };
    const seeded = northwind.ticketContacts.filter(([, contactId]) => contactId === '6001').map(([ticketId]) => ticketId);
    const ids: string[] = [];
    let after: string | undefined;
    do {
      const page = await search({ filterGroups: [{ filters: [about] }], limit: 4, ...(after === undefined ? {} : { after }) });
      expect(page.total).toBe(seeded.length);
      ids.push(...page.results.map((result) => result.id));
      after = page.paging?.next.after;
    } while (after !== undefined);
    expect(ids).toEqual([...seeded].sort((a, b) => Number(a) - Number(b)));
    const owner = northwind.tickets.find((ticket) => ticket.id === seeded[0])!.properties.hubspot_owner_id!;
    const owned = await search({ filterGroups: [{ filters: [about, { propertyName: 'hubspot_owner_id', operator: 'IN', values: [owner] }] }], limit: 1 });
    const expected = northwind.tickets.filter((ticket) => seeded.includes(ticket.id) && ticket.properties.hubspot_owner_id === owner);
    expect(owned.total).toBe(expected.length);
    // A ticket created through the API is found by the next search.
    const created = await fetch(`${base}/crm/objects/2026-03/tickets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        properties: { subject: 'New', hs_pipeline: '0', hs_pipeline_stage: '1' },
        associations: [{ to: { id: '6001' }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 16 }] }],
      }),
    });
    expect(created.status).toBe(201);
    expect((await search({ filterGroups: [{ filters: [about] }], limit: 1 })).total).toBe(seeded.length + 1);
  });

  describe('deals and companies, at the 2026-03 paths (deals by type id 0-3, as 2026-03/deals.json serves them)', () => {
    const objects = [
      { path: '/crm/objects/2026-03/0-3', records: () => northwind.deals, title: 'dealname', scope: 'crm.objects.deals.read', noteTypeId: 214, kind: 'deals' },
      {
        path: '/crm/objects/2026-03/companies',
        records: () => northwind.companies,
        title: 'name',
        scope: 'crm.objects.companies.read',
        noteTypeId: 190,
        kind: 'companies',
      },
    ] as const;
    const send = async (method: string, path: string, body: unknown, bearer = token()) => {
      now += 1_001;
      const response = await fetch(base + path, {
        method,
        headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };

    for (const object of objects) {
      it(`reads a ${object.kind} record with only the requested properties, 404 for unknown ids and another account's, 403 without ${object.scope}`, async () => {
        const record = object.records()[0]!;
        const read = await get(`${object.path}/${record.id}?properties=${object.title},hubspot_owner_id`, token());
        expect(read.status).toBe(200);
        expect(read.body.properties).toMatchObject({ [object.title]: record.properties[object.title], hubspot_owner_id: record.properties.hubspot_owner_id });
        expect(Object.keys(read.body.properties as object).sort()).toEqual(
          ['createdate', 'hs_lastmodifieddate', 'hs_object_id', 'hubspot_owner_id', object.title].sort(),
        );
        expect((await get(`${object.path}/999999`, token())).status).toBe(404);
        expect((await get(`${object.path}/${contoso[object.kind][0]!.id}`, token())).status).toBe(404);
        const refused = await get(`${object.path}/${record.id}`, token(northwind.portalId, ['oauth', 'tickets']));
        expect(refused.status).toBe(403);
        expect(JSON.stringify(refused.body)).toContain(object.scope);
      });

      it(`searches ${object.kind} by owner and for unassigned ones, in id order`, async () => {
        const owner = object.records().find((record) => record.properties.hubspot_owner_id !== null)!.properties.hubspot_owner_id!;
        const byOwner = await send('POST', `${object.path}/search`, {
          filterGroups: [{ filters: [{ propertyName: 'hubspot_owner_id', operator: 'IN', values: [owner] }] }],
          properties: ['hubspot_owner_id'],
          sorts: ['hs_object_id'],
          limit: 100,
        });
        expect(byOwner.status).toBe(200);
        const ids = (byOwner.body.results as Array<{ id: string }>).map((result) => result.id);
        expect(ids).toEqual(
          object
            .records()
            .filter((record) => record.properties.hubspot_owner_id === owner)
            .map((record) => record.id),
        );
        const unassigned = await send('POST', `${object.path}/search`, {
          filterGroups: [{ filters: [{ propertyName: 'hubspot_owner_id', operator: 'NOT_HAS_PROPERTY' }] }],
          limit: 100,
        });
        expect((unassigned.body.results as Array<{ id: string }>).map((result) => result.id)).toEqual(
          object
            .records()
            .filter((record) => record.properties.hubspot_owner_id === null)
            .map((record) => record.id),
        );
        expect(unassigned.body.total).toBeGreaterThan(0);
      });

      it(`reassigns a ${object.kind} record and adds a note to it with the HubSpot-defined type id ${object.noteTypeId}`, async () => {
        const record = object.records().find((candidate) => candidate.properties.hubspot_owner_id === null)!;
        const patched = await send('PATCH', `${object.path}/${record.id}`, { properties: { hubspot_owner_id: '7102' } });
        expect(patched.status).toBe(200);
        expect(fake.state.account(northwind.portalId)![object.kind].find((candidate) => candidate.id === record.id)!.properties.hubspot_owner_id).toBe('7102');
        const note = await send('POST', '/crm/objects/2026-03/notes', {
          properties: { hs_note_body: 'Called them', hs_timestamp: '2026-11-01T10:00:00.000Z' },
          associations: [{ to: { id: record.id }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: object.noteTypeId }] }],
        });
        expect(note.status).toBe(201);
        expect(fake.state.notes.find((candidate) => candidate.id === note.body.id)).toMatchObject({
          records: [{ kind: object.kind, id: record.id }],
          ticketIds: [],
        });
        await send('PATCH', `${object.path}/${record.id}`, { properties: { hubspot_owner_id: '' } });
      });
    }
  });

  it("keeps accounts apart: a token of one account cannot read another's users or records", async () => {
    const bearer = token(northwind.portalId);
    expect((await get(`/settings/v3/users/${contoso.users[0]!.id}`, bearer)).status).toBe(404);
    expect((await get(`/crm/v3/objects/tickets/${contoso.tickets[0]!.id}`, bearer)).status).toBe(404);
  });

  it('answers 401 without or with an expired token, and 403 naming the missing scope', async () => {
    expect((await get(`/settings/v3/users/${admin.id}`)).status).toBe(401);
    const bearer = token();
    now += 1801 * 1000;
    const expired = await get(`/settings/v3/users/${admin.id}`, bearer);
    expect(expired.status).toBe(401);
    expect(expired.body.category).toBe('EXPIRED_AUTHENTICATION');
    const narrow = token(northwind.portalId, ['oauth', 'tickets']);
    const refused = await get(`/settings/v3/users/${admin.id}`, narrow);
    expect(refused.status).toBe(403);
    expect(JSON.stringify(refused.body)).toContain('settings.users.read');
  });

  describe('the permissions API', () => {
    const hcrn = (objectTypeId: string, recordId: string, portalId = northwind.portalId) => `hcrn:${portalId}:crm-object:${objectTypeId}:${recordId}`;
    const permitted = (...resources: string[]) =>
      `/resource-permissions/v3/permitted-users?${resources.map((resource) => `resource=${encodeURIComponent(resource)}`).join('&')}`;
    const userId = (first: string) => northwind.users.find((user) => user.firstName === first)!.id;

    it('answers every requested record in one call: per permission, the users holding it; COMMUNICATE on contacts and companies only', async () => {
      const ticket = hcrn('0-5', '5002');
      const contact = hcrn('0-1', '6001');
      const deal = hcrn('0-3', '8001');
      const company = hcrn('0-2', '9001');
      const answer = await get(permitted(ticket, contact, deal, company), token());
      expect(answer.status).toBe(200);
      expect(Object.keys(answer.body)).toEqual(['resources']);
      const resources = answer.body.resources as Record<string, Record<string, { permittedUsers: number[] }>>;
      expect(Object.keys(resources).sort()).toEqual([contact, ticket, deal, company].sort());
      expect(Object.keys(resources[ticket]!)).toEqual(['crm-object:VIEW', 'crm-object:EDIT', 'crm-object:DELETE']);
      expect(Object.keys(resources[deal]!)).toEqual(['crm-object:VIEW', 'crm-object:EDIT', 'crm-object:DELETE']);
      expect(Object.keys(resources[contact]!)).toEqual(['crm-object:VIEW', 'crm-object:EDIT', 'crm-object:DELETE', 'crm-object:COMMUNICATE']);
      expect(Object.keys(resources[company]!)).toEqual(['crm-object:VIEW', 'crm-object:EDIT', 'crm-object:DELETE', 'crm-object:COMMUNICATE']);
      // Deal 8001 is Bob's (deals: owned only, no delete); Carla sees every deal; Dev sees only deals he owns
      // (none); Erin has no deal access; Ines (team) is not on Bob's team.
      expect(resources[deal]!['crm-object:VIEW']!.permittedUsers).toEqual(expect.arrayContaining([userId('Ana'), userId('Bob'), userId('Carla')]));
      for (const first of ['Dev', 'Erin', 'Ines']) expect(resources[deal]!['crm-object:VIEW']!.permittedUsers).not.toContain(userId(first));
      expect(resources[deal]!['crm-object:DELETE']!.permittedUsers).not.toContain(userId('Bob'));
      // Ticket 5002 is Bob's (owned only, no delete); Ana is a Super Admin; Erin has no ticket access; Gina is deactivated.
      expect(resources[ticket]!['crm-object:VIEW']!.permittedUsers).toEqual(expect.arrayContaining([userId('Ana'), userId('Bob')]));
      expect(resources[ticket]!['crm-object:VIEW']!.permittedUsers).not.toContain(userId('Erin'));
      expect(resources[ticket]!['crm-object:VIEW']!.permittedUsers).not.toContain(userId('Gina'));
      expect(resources[ticket]!['crm-object:DELETE']!.permittedUsers).not.toContain(userId('Bob'));
    });

    it("takes 20 resources per call and refuses 21 or none with HubSpot's error body", async () => {
      const twenty = Array.from({ length: 20 }, (_, index) => hcrn('0-5', String(5001 + (index % 14))));
      expect((await get(permitted(...twenty), token())).status).toBe(200);
      for (const resources of [[...twenty, hcrn('0-5', '5001')], []]) {
        const refused = await get(permitted(...resources), token());
        expect(refused.status).toBe(400);
        expect(refused.body).toMatchObject({ status: 'error', category: 'VALIDATION_ERROR' });
        expect(refused.body.correlationId).toEqual(expect.any(String));
      }
    });

    it("gives no entry for another account's record or a record that does not exist, and refuses types it does not answer for", async () => {
      const own = hcrn('0-5', '5001');
      const answer = await get(permitted(own, hcrn('0-5', contoso.tickets[0]!.id, contoso.portalId), hcrn('0-5', '999999')), token());
      expect(Object.keys(answer.body.resources as object)).toEqual([own]);
      for (const other of [hcrn('0-7', '1'), hcrn('2-1234567', '1'), 'hcrn:1:crm-object:tickets:5001'])
        expect((await get(permitted(other), token())).status).toBe(400);
    });

    it('needs its scope (settings.users.read, an assumption: see routes/permissions.ts)', async () => {
      const refused = await get(permitted(hcrn('0-5', '5001')), token(northwind.portalId, ['oauth', 'tickets']));
      expect(refused.status).toBe(403);
      expect(JSON.stringify(refused.body)).toContain('settings.users.read');
    });
  });

  it("enforces 110 requests per rolling 10 s per account, with HubSpot's headers", async () => {
    const bearer = token();
    const other = token(contoso.portalId);
    const first = await get('/settings/v3/users/roles', bearer);
    expect(first.headers.get('x-hubspot-ratelimit-max')).toBe('110');
    for (let i = 1; i < 110; i += 1) await get('/settings/v3/users/roles', bearer);
    const limited = await get('/settings/v3/users/roles', bearer);
    expect(limited.status).toBe(429);
    expect(limited.body.policyName).toBe('TEN_SECONDLY_ROLLING');
    expect((await get('/settings/v3/users/roles', other)).status).toBe(200);
    now += 10_001;
    expect((await get('/settings/v3/users/roles', bearer)).status).toBe(200);
  });

  it('limits CRM search to five a second per account, apart from the 10 s window, with no rate-limit headers', async () => {
    const bearer = token();
    const search = async (path = '/crm/v3/objects/tickets/search') => {
      const response = await fetch(base + path, {
        method: 'POST',
        headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
        body: JSON.stringify({ limit: 1 }),
      });
      return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
    };
    const remaining = async () => Number((await get('/settings/v3/users/roles', bearer)).headers.get('x-hubspot-ratelimit-remaining'));
    const before = await remaining();
    for (let i = 0; i < 5; i += 1) {
      const found = await search(i % 2 === 0 ? '/crm/v3/objects/tickets/search' : '/crm/v3/objects/contacts/search');
      expect(found.status).toBe(200);
      expect([...found.headers.keys()].filter((name) => name.startsWith('x-hubspot-ratelimit'))).toEqual([]);
    }
    const limited = await search();
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ errorType: 'RATE_LIMIT', policyName: 'SECONDLY' });
    expect(limited.headers.get('x-hubspot-ratelimit-remaining')).toBeNull();
    // Searches do not count against the 10-second window, nor its calls against theirs.
    expect(await remaining()).toBe(before - 1);
    expect((await search('/crm/v3/objects/contacts/search')).status).toBe(429);
    now += 1_001;
    expect((await search()).status).toBe(200);
  });

  it('has switches for 5xx, 429 with Retry-After, latency and timeouts, and counts calls per route', async () => {
    const bearer = token();
    fake.calls.reset();
    fake.switches.failNext(1, 503);
    expect((await get('/settings/v3/users/teams', bearer)).status).toBe(503);
    fake.switches.rateLimitNext(1, { retryAfterSeconds: 2 });
    const limited = await get('/settings/v3/users/teams', bearer);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');
    expect((await get('/settings/v3/users/teams', bearer)).status).toBe(200);
    expect(fake.calls.count('GET', '/settings/v3/users/teams')).toBe(3);

    fake.switches.latencyMs = 150;
    const started = performance.now();
    await get('/settings/v3/users/teams', bearer);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    fake.switches.latencyMs = 0;

    fake.switches.timeoutNext(1);
    const hung = fetch(`${base}/settings/v3/users/teams`, { headers: { authorization: `Bearer ${bearer}` }, signal: AbortSignal.timeout(300) });
    await expect(hung).rejects.toThrow();
  });

  it('hangs or resets only the paths it is told to, and a hang with forMs is answered as usual afterwards', async () => {
    const bearer = token();
    const refresh = fake.tokens.issue(northwind.portalId, admin.id).refreshToken;
    const tokenCall = (signal?: AbortSignal) =>
      fetch(`${base}/oauth/2026-03/token`, {
        method: 'POST',
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refresh, client_id: APP.clientId, client_secret: APP.clientSecret }),
        ...(signal === undefined ? {} : { signal }),
      });
    fake.switches.timeoutNext(1, { pathPrefix: '/oauth/2026-03/token' });
    // Other paths are not held by it.
    expect((await get('/settings/v3/users/teams', bearer)).status).toBe(200);
    await expect(tokenCall(AbortSignal.timeout(300))).rejects.toMatchObject({ name: 'TimeoutError' });

    fake.switches.timeoutNext(1, { pathPrefix: '/oauth/2026-03/token', forMs: 200 });
    const started = performance.now();
    expect((await tokenCall()).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);

    fake.switches.resetNext(1, { pathPrefix: '/settings/', afterMs: 50 });
    const reset = await fetch(`${base}/settings/v3/users/teams`, { headers: { authorization: `Bearer ${bearer}` } }).catch((error: unknown) => error);
    expect(reset).toMatchObject({ name: 'TypeError', message: 'fetch failed' });
    expect((reset as TypeError).cause).toMatchObject({ code: expect.stringMatching(/^(ECONNRESET|UND_ERR_SOCKET)$/) as unknown });

    fake.switches.timeoutNext(2);
    fake.switches.resetNext(2);
    fake.switches.clearFailures();
    expect((await get('/settings/v3/users/teams', bearer)).status).toBe(200);
  });

  it('runs the OAuth code flow: single-use codes, refresh until the install is revoked', async () => {
    const redirect = 'https://viewer-guard.example.com/oauth/callback';
    const form = new URLSearchParams({
      client_id: APP.clientId,
      redirect_uri: redirect,
      scope: 'oauth tickets',
      state: 's1',
      userId: String(admin.id),
      decision: 'allow',
    });
    const consent = await fetch(`${base}/oauth/authorize`, { method: 'POST', body: form, redirect: 'manual' });
    const back = new URL(consent.headers.get('location')!);
    expect(back.searchParams.get('state')).toBe('s1');
    const code = back.searchParams.get('code')!;
    const exchange = (body: Record<string, string>) =>
      fetch(`${base}/oauth/2026-03/token`, {
        method: 'POST',
        body: new URLSearchParams({ client_id: APP.clientId, client_secret: APP.clientSecret, ...body }),
      });

    const first = await exchange({ grant_type: 'authorization_code', code, redirect_uri: redirect });
    const tokens = (await first.json()) as { access_token: string; refresh_token: string; hub_id: number; user_id: number; scopes: string[] };
    expect(tokens).toMatchObject({ hub_id: northwind.portalId, user_id: admin.id, scopes: ['oauth', 'tickets'] });
    const reused = await exchange({ grant_type: 'authorization_code', code, redirect_uri: redirect });
    expect(reused.status).toBe(400);
    expect(await reused.json()).toMatchObject({ error: 'invalid_grant' });

    const refreshed = await exchange({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(refreshed.status).toBe(200);
    expect(((await refreshed.json()) as { access_token: string }).access_token).not.toBe(tokens.access_token);
    expect((await exchange({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_secret: 'wrong' })).status).toBe(400);

    fake.tokens.revokeInstall(northwind.portalId);
    const dead = await exchange({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(dead.status).toBe(400);
    expect(await dead.json()).toMatchObject({ status: 'BAD_REFRESH_TOKEN', error: 'invalid_grant' });
    expect((await get('/settings/v3/users/roles', tokens.access_token)).status).toBe(401);
  });

  it('shows the role error to a user who may not install, and never redirects', async () => {
    const bystander = northwind.users.find((user) => !user.superAdmin && !user.canInstallApps && !user.deactivated)!;
    const form = new URLSearchParams({
      client_id: APP.clientId,
      redirect_uri: 'https://vg.example.com/cb',
      scope: 'oauth',
      userId: String(bystander.id),
      decision: 'allow',
    });
    const response = await fetch(`${base}/oauth/authorize`, { method: 'POST', body: form, redirect: 'manual' });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('You do not have the correct role to grant these permissions');
    const unknownApp = await fetch(`${base}/oauth/authorize?client_id=nope&redirect_uri=https://x.example/cb&scope=oauth`);
    expect(unknownApp.status).toBe(400);
  });
});
