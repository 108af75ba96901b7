import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSeed } from '../hubspot-fake/index.js';
import { startHarness, TEST_APP, type Harness } from '../support/harness.js';
import { signedRequest } from '../support/signing.js';

/**
 * HubSpot retries a hubspot.fetch once after a connection failure or a 5xx, with the same signed request. Each write
 * must happen once: a repeat of the same signed request gets the first answer (README "How a request flows").
 */
const northwind = loadSeed().accounts[0]!;
const P = northwind.portalId;
const ana = northwind.users.find((user) => user.superAdmin)!;
const bob = northwind.users.find((user) => user.firstName === 'Bob')!;

let h: Harness;
beforeEach(async () => {
  h = await startHarness({ env: { ACCESS_SOURCE: 'hubspot' } });
  await h.installDirect(P, ana.id);
});
afterEach(async () => h.close());

/** One signed request, to be sent as many times as a test likes, exactly as HubSpot would resend it. */
const signedOnce = (path: string, userId: number, body: unknown) =>
  signedRequest({
    clientSecret: TEST_APP.clientSecret,
    publicBaseUrl: h.backendUrl,
    method: 'POST',
    path: `${path}?portalId=${P}&userId=${userId}`,
    body,
    timestamp: Date.now(),
  });
/** Notes HubSpot created (a failed attempt created nothing). */
const notesCreated = () =>
  h.fake.calls.all().filter((call) => call.method === 'POST' && call.route === '/crm/objects/2026-03/notes' && call.status < 300).length;

describe('a repeated signed write', () => {
  it('adds one note, and answers the repeat with the first answer', async () => {
    const request = signedOnce('/api/v1/tickets/5002/notes', bob.id, { body: 'Called the customer back.' });
    const first = await h.app.inject(request);
    const repeat = await h.app.inject(request);
    expect(first.statusCode).toBe(200);
    expect(repeat.statusCode).toBe(200);
    expect(repeat.json()).toEqual(first.json());
    expect(repeat.headers['x-viewer-guard-repeat']).toBe('true');
    expect(notesCreated()).toBe(1);
  });

  it('creates one ticket', async () => {
    const request = signedOnce('/api/v1/contacts/6002/tickets', ana.id, { subject: 'Once only' });
    const answers = [await h.app.inject(request), await h.app.inject(request), await h.app.inject(request)];
    expect(answers.map((answer) => answer.statusCode)).toEqual([200, 200, 200]);
    expect(h.fake.calls.all().filter((call) => call.method === 'POST' && call.route === '/crm/objects/2026-03/tickets')).toHaveLength(1);
  });

  it('writes once when the repeat arrives while the first is still running', async () => {
    h.fake.switches.latencyMs = 50;
    const request = signedOnce('/api/v1/tickets/5002/notes', bob.id, { body: 'Two at once.' });
    const answers = await Promise.all([h.app.inject(request), h.app.inject(request)]);
    expect(notesCreated()).toBe(1);
    expect(answers.filter((answer) => answer.statusCode === 200).length).toBeGreaterThanOrEqual(1);
    for (const answer of answers.filter((candidate) => candidate.statusCode !== 200)) expect(answer.json().error.code).toBe('WRITE_IN_PROGRESS');
  });

  it('answers a repeated refusal with the same refusal, and changes nothing', async () => {
    const request = signedOnce('/api/v1/tickets/5001/assign-to-me', bob.id, undefined);
    const first = await h.app.inject(request);
    const repeat = await h.app.inject(request);
    expect(first.statusCode).toBe(403);
    expect(repeat.json().error.code).toBe(first.json().error.code);
    expect(h.fake.calls.count('PATCH', '/crm/objects/2026-03/tickets/:ticketId')).toBe(0);
  });

  it('answers the repeat of a failed create with the same failure, since HubSpot may have made the record', async () => {
    // One failure is enough: a create that may have reached HubSpot is not sent again by our scheduler.
    h.fake.switches.failNext(1, 503, '/crm/objects/2026-03/notes');
    const request = signedOnce('/api/v1/tickets/5002/notes', bob.id, { body: 'After an outage.' });
    const first = await h.app.inject(request);
    expect(first.statusCode).toBeGreaterThanOrEqual(500);
    const repeat = await h.app.inject(request);
    expect(repeat.statusCode).toBe(first.statusCode);
    expect(repeat.headers['x-viewer-guard-repeat']).toBe('true');
    expect(notesCreated()).toBe(0);
    // The viewer trying again makes a new signed request, which runs.
    expect((await h.app.inject(signedOnce('/api/v1/tickets/5002/notes', bob.id, { body: 'After an outage.' }))).statusCode).toBe(200);
    expect(notesCreated()).toBe(1);
  });

  it("runs a failed update again on HubSpot's retry: setting the same stage twice changes nothing", async () => {
    h.fake.switches.failNext(50, 503, '/crm/objects/2026-03/tickets/5002');
    const request = signedOnce('/api/v1/tickets/5002/stage', bob.id, { stageId: '2' });
    const first = await h.app.inject(request);
    expect(first.statusCode).toBeGreaterThanOrEqual(500);
    h.fake.switches.clearFailures();
    const retry = await h.app.inject(request);
    expect(retry.statusCode).toBe(200);
    expect(retry.json()).toMatchObject({ result: { stageId: '2' } });
  });

  it('runs a create again when HubSpot refused it unprocessed (rate limited), instead of replaying the refusal', async () => {
    h.fake.switches.rateLimitNext(1, { retryAfterSeconds: 30 });
    const request = signedOnce('/api/v1/tickets/5002/notes', bob.id, { body: 'After a pause.' });
    const first = await h.app.inject(request);
    expect(first.json()).toMatchObject({ error: { code: 'HUBSPOT_RATE_LIMITED' } });
    // The repeat is carried out again (here it meets the same pause), not answered from the first result.
    const retry = await h.app.inject(request);
    expect(retry.headers['x-viewer-guard-repeat']).toBeUndefined();
    expect(retry.json()).toMatchObject({ error: { code: 'HUBSPOT_RATE_LIMITED' } });
    expect(notesCreated()).toBe(0);
  });
});

describe('a write HubSpot accepted', () => {
  it('is answered 2xx even when its audit entry cannot be stored', async () => {
    await sql`drop table audit_log`.execute(h.database.db);
    const response = await h.app.inject(signedOnce('/api/v1/tickets/5002/notes', bob.id, { body: 'Audit is down.' }));
    expect(response.statusCode).toBe(200);
    expect(notesCreated()).toBe(1);
  });
});
