import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createAuditLog } from '../../backend/src/store/index.js';
import { loadSeed } from '../hubspot-fake/index.js';
import { makeReadOnly, refuseChanges } from '../support/database-faults.js';
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

/** The audit entries of one action, newest first. */
const auditOf = async (action: string) => (await createAuditLog(h.database.db).page(P, { limit: 50 })).entries.filter((entry) => entry.action === action);
const notesWith = (body: string) => h.fake.state.notes.filter((note) => note.body === body);

describe('a write and its audit entry', () => {
  it('stores the audit entry with the answer: one entry per write, none for its repeat', async () => {
    const request = signedOnce('/api/v1/tickets/5002/notes', bob.id, { body: 'Audited once.' });
    expect((await h.app.inject(request)).statusCode).toBe(200);
    expect((await h.app.inject(request)).headers['x-viewer-guard-repeat']).toBe('true');
    expect(await auditOf('add-note')).toEqual([
      expect.objectContaining({
        userId: bob.id,
        objectType: 'tickets',
        recordId: '5002',
        outcome: 'done',
        decisionCode: expect.any(String),
        source: 'hubspot',
      }),
    ]);
  });

  it('sends nothing to HubSpot when the database refuses the intent, and answers 503 DATABASE_UNAVAILABLE', async () => {
    const lift = await refuseChanges(h.database, { table: 'write_requests', on: 'update', when: 'new.intent_at is not null' });
    const request = signedOnce('/api/v1/tickets/5002/notes', bob.id, { body: 'No intent, no note.' });
    const refused = await h.app.inject(request);
    expect(refused.statusCode).toBe(503);
    expect(refused.json().error).toMatchObject({ code: 'DATABASE_UNAVAILABLE', retryAfter: 5 });
    expect(refused.headers['retry-after']).toBe('5');
    expect(notesWith('No intent, no note.')).toHaveLength(0);
    expect(h.fake.calls.count('POST', '/crm/objects/2026-03/notes')).toBe(0);
    // Nothing was sent, so HubSpot's retry of the same request runs once the database takes writes again.
    await lift();
    expect((await h.app.inject(request)).statusCode).toBe(200);
    expect(notesWith('No intent, no note.')).toHaveLength(1);
  });

  it('sends nothing to HubSpot when the database is read-only (SQLite query_only)', async (context) => {
    if (h.database.dialect !== 'sqlite') context.skip();
    const lift = await makeReadOnly(h.database);
    const refused = await h.app.inject(signedOnce('/api/v1/contacts/6002/tickets', ana.id, { subject: 'Read-only database' }));
    await lift();
    expect(refused.statusCode).toBe(503);
    expect(refused.json().error.code).toBe('DATABASE_UNAVAILABLE');
    expect(h.fake.calls.count('POST', '/crm/objects/2026-03/tickets')).toBe(0);
  });

  it('never sends a create again after a connection reset: HubSpot made the note, and its answer was lost', async () => {
    h.fake.switches.resetAfterNext(1, '/crm/objects/2026-03/notes');
    const request = signedOnce('/api/v1/tickets/5002/notes', bob.id, { body: 'Reset on the way back.' });
    const first = await h.app.inject(request);
    expect(first.json().error.code).toBe('HUBSPOT_UNAVAILABLE');
    // Our scheduler did not send it again (a second attempt would have made a second note), nor does HubSpot's retry.
    expect(notesWith('Reset on the way back.')).toHaveLength(1);
    const repeat = await h.app.inject(request);
    expect(repeat.statusCode).toBe(first.statusCode);
    expect(repeat.headers['x-viewer-guard-repeat']).toBe('true');
    expect(notesWith('Reset on the way back.')).toHaveLength(1);
    // Audited once, and honestly: HubSpot may have made it.
    expect(await auditOf('add-note')).toEqual([expect.objectContaining({ outcome: 'unknown', message: expect.stringContaining('HUBSPOT_UNAVAILABLE') })]);
  });
});

describe('a write HubSpot accepted while the database fails', () => {
  let clockOffsetMs = 0;
  beforeEach(async () => {
    // This suite's own backend, whose timers (the sweeper's) and clock the test moves on.
    await h.close();
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    clockOffsetMs = 0;
    h = await startHarness({ env: { ACCESS_SOURCE: 'hubspot' }, now: () => Date.now() + clockOffsetMs });
    await h.installDirect(P, ana.id);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('is answered 2xx, is not run again by a repeat, and is audited by the sweeper once the database recovers', async () => {
    const lift = await refuseChanges(h.database, { table: 'audit_log', on: 'insert' });
    const request = signedOnce('/api/v1/tickets/5002/notes', bob.id, { body: 'Disk full after HubSpot.' });
    const accepted = await h.app.inject(request);
    expect(accepted.statusCode).toBe(200);
    expect(accepted.json()).toMatchObject({ result: { id: expect.any(String) } });

    // Its outcome was never stored: HubSpot's retry is told it is in progress, never run a second time.
    const repeat = await h.app.inject(request);
    expect(repeat.json().error.code).toBe('WRITE_IN_PROGRESS');
    expect(notesWith('Disk full after HubSpot.')).toHaveLength(1);
    expect(await auditOf('add-note')).toEqual([]);

    // The database recovers; a minute later the sweeper has found the intent and audited it, once.
    await lift();
    clockOffsetMs = 60_000;
    await vi.advanceTimersByTimeAsync(60_000);
    await vi.waitFor(async () =>
      expect(await auditOf('add-note')).toEqual([
        expect.objectContaining({ userId: bob.id, recordId: '5002', outcome: 'unknown', message: expect.stringMatching(/never recorded/) }),
      ]),
    );
    expect((await h.app.inject(request)).json().error.code).toBe('WRITE_IN_PROGRESS');
    expect(notesWith('Disk full after HubSpot.')).toHaveLength(1);
  });
});
