import SQLite from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditLog, openDatabase, type AuditEntry } from '../../backend/src/store/index.js';
import { createFakeHubSpot, loadSeed, type FakeHubSpot } from '../hubspot-fake/index.js';
import { TEST_APP } from '../support/harness.js';
import { withHubSpotIdentity } from '../support/hubspot-fetch.js';
import { signedRequest } from '../support/signing.js';
import { installDirect, newTokenKey, startBackendProcess, type BackendProcess } from './support/backend-process.js';
import { FaultTally } from './support/tally.js';
import { mountSmallDisk, type SmallDisk } from './support/tmpfs.js';

const account = loadSeed().accounts[0]!;
const P = account.portalId;
const ana = account.users.find((user) => user.superAdmin)!;
const ROUNDS = 3;
const WRITES_PER_ROUND = 16;
const TICKETS = ['5001', '5002', '5003', '5004'];
const CONTACTS = ['6001', '6002'];

/** One write as HubSpot sends it: signed once, so a retry is the very same request. */
interface Write {
  kind: 'note' | 'ticket';
  /** The note's body or the ticket's subject: unique, so HubSpot's copies can be counted. */
  text: string;
  send(): Promise<{ status: number; body: string }>;
}

/**
 * The disk under the backend's SQLite fills up while notes and tickets are being created, then is freed. A write is
 * claimed, its intent stored, sent to HubSpot, and its answer stored with its audit entry: the disk fills between any
 * two of those steps. Whatever the moment, no note or ticket is made twice (not by our retries, not by HubSpot's
 * repeats of the same signed request), every write HubSpot accepted has exactly one audit entry once the disk has room
 * again and the sweeper has run, and every 5xx names its code (DATABASE_UNAVAILABLE when nothing was sent).
 */
describe('a full disk under the backend while it creates notes and tickets (SQLite on a small tmpfs)', () => {
  const tally = new FaultTally();
  let fake: FakeHubSpot;
  let disk: SmallDisk;
  let file: string;
  let databaseUrl: string;
  let backend: BackendProcess;

  beforeAll(async () => {
    fake = createFakeHubSpot({ app: TEST_APP });
    const fakeUrl = await fake.listen();
    disk = await mountSmallDisk(16 * 1024 * 1024);
    file = join(disk.dir, 'viewer-guard.db');
    databaseUrl = `sqlite:${file}`;
    const tokenKey = newTokenKey();
    backend = await startBackendProcess({ fakeUrl, databaseUrl, tokenKey });
    await installDirect({ databaseUrl, tokenKey, fake, portalId: P, userId: ana.id });
  });

  afterAll(async () => {
    await backend.kill();
    await fake.close();
    await disk.unmount();
    tally.save();
  });

  let counter = 0;
  function newWrite(kind: Write['kind']): Write {
    counter += 1;
    const text = `${kind === 'note' ? 'Note' : 'Ticket'} ${counter} (write atomicity)`;
    const path =
      kind === 'note' ? `/api/v1/tickets/${TICKETS[counter % TICKETS.length]}/notes` : `/api/v1/contacts/${CONTACTS[counter % CONTACTS.length]}/tickets`;
    const signed = signedRequest({
      clientSecret: TEST_APP.clientSecret,
      publicBaseUrl: backend.url,
      method: 'POST',
      path: withHubSpotIdentity(path, { portalId: P, userId: ana.id, appId: TEST_APP.appId }),
      body: kind === 'note' ? { body: text } : { subject: text },
      timestamp: Date.now(),
    });
    return {
      kind,
      text,
      async send() {
        const response = await fetch(`${backend.url}${signed.url}`, {
          method: 'POST',
          headers: signed.headers,
          body: signed.payload ?? null,
          signal: AbortSignal.timeout(15_000),
        });
        const answer = { status: response.status, body: await response.text() };
        tally.answer(answer.status, answer.body, `${kind} ${text}`);
        return answer;
      },
    };
  }

  /**
   * Empties the write-ahead log into the database file and truncates it, so the next commit has to grow a file, as it
   * does on any database whose log has not wrapped yet; then fills the disk.
   */
  function fillDisk() {
    const connection = new SQLite(file);
    try {
      connection.pragma('busy_timeout = 5000');
      connection.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      connection.close();
    }
    disk.fill();
    tally.fault();
  }

  /** The account as the local HubSpot holds it now, created tickets included. */
  const atHubSpot = () => fake.state.account(P)!;
  /** How many copies of a write HubSpot holds. */
  const copiesAt = (write: Write) =>
    write.kind === 'note'
      ? fake.state.notes.filter((note) => note.body === write.text).length
      : atHubSpot().tickets.filter((ticket) => ticket.properties.subject === write.text).length;

  it('makes no write twice, audits every write HubSpot accepted exactly once, and names every 5xx', async () => {
    // HubSpot takes its time, so the disk fills while writes are between their intent and their answer.
    fake.switches.latencyMs = 150;
    const writes: Write[] = [];
    const statuses = new Map<number, number>();
    const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);

    for (let round = 0; round < ROUNDS; round += 1) {
      const batch = Array.from({ length: WRITES_PER_ROUND }, (_, index) => newWrite(index % 4 === 3 ? 'ticket' : 'note'));
      writes.push(...batch);
      // Staggered over a second or so; the disk fills in the middle of it.
      const firsts = batch.map(async (write, index) => {
        await new Promise((resolve) => setTimeout(resolve, index * 80));
        const first = await write.send();
        count(first.status);
        // HubSpot's retry of the same signed request, while the disk is still full.
        count((await write.send()).status);
      });
      await new Promise((resolve) => setTimeout(resolve, 400 + Math.floor(Math.random() * 400)));
      fillDisk();
      await Promise.all(firsts);
      disk.free();
      // Retries after the disk has room again: a write never sent may run now; one that may have reached HubSpot never again.
      for (const write of batch) count((await write.send()).status);
    }

    for (const write of writes) expect(copiesAt(write), write.text).toBeLessThanOrEqual(1);

    // The sweeper audits every intent whose answer the full disk refused (after 30 s, every 10 s).
    const database = await openDatabase(databaseUrl);
    try {
      const openIntents = async () =>
        Number(
          (
            await database.db
              .selectFrom('write_requests')
              .select((eb) => eb.fn.countAll().as('open'))
              .where('intent_at', 'is not', null)
              .where('completed_at', 'is', null)
              .executeTakeFirstOrThrow()
          ).open,
        );
      const until = Date.now() + 90_000;
      while ((await openIntents()) > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(await openIntents()).toBe(0);

      const entries: AuditEntry[] = (await createAuditLog(database.db).page(P, { limit: 10_000 })).entries;
      const audited = (action: string, recordId: string) =>
        entries.filter((entry) => entry.action === action && entry.recordId === recordId && (entry.outcome === 'done' || entry.outcome === 'unknown')).length;
      for (const ticketId of TICKETS) {
        const accepted = fake.state.notes.filter((note) => note.ticketIds.includes(ticketId) && note.body.endsWith('(write atomicity)')).length;
        expect(audited('add-note', ticketId), `notes on ticket ${ticketId}`).toBe(accepted);
      }
      const ours = new Set(writes.filter((write) => write.kind === 'ticket').map((write) => write.text));
      for (const contactId of CONTACTS) {
        const { tickets, ticketContacts } = atHubSpot();
        const accepted = tickets.filter(
          (ticket) => ours.has(ticket.properties.subject ?? '') && ticketContacts.some(([ticket2, contact]) => ticket2 === ticket.id && contact === contactId),
        ).length;
        expect(audited('create-ticket', contactId), `tickets for contact ${contactId}`).toBe(accepted);
      }

      const accepted = writes.filter((write) => copiesAt(write) === 1).length;
      const unknown = entries.filter((entry) => entry.outcome === 'unknown').length;
      const figures = [...statuses.entries()]
        .sort(([a], [b]) => a - b)
        .map(([status, times]) => `${times}×${status}`)
        .join(', ');
      tally.line(
        `write atomicity: ${writes.length} writes over ${ROUNDS} full disks (answers ${figures}); ${accepted} made at HubSpot, each once and audited once (${unknown} audited 'unknown' by the sweeper)`,
      );
    } finally {
      await database.close();
    }
    expect(tally.undocumented).toEqual([]);
  });
});
