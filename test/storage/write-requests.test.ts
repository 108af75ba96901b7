import { Migrator, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createAuditLog,
  createWriteRequestStore,
  openDatabase,
  type AuditLog,
  type StoreDatabase,
  type WriteIntent,
  type WriteRequestStore,
} from '../../backend/src/store/index.js';
import { migrationProvider } from '../../backend/src/store/migrations.js';
import { postgresKysely } from '../../backend/src/store/postgres.js';
import { sqliteKysely } from '../../backend/src/store/sqlite.js';
import { refuseChanges } from '../support/database-faults.js';
import { databaseTargets } from './databases.js';

const t0 = Date.parse('2026-11-01T10:00:00Z');
const at = (ms: number) => new Date(t0 + ms);
const P = 1;
const note: WriteIntent = { userId: 7, action: 'add-note', objectType: 'tickets', recordId: '5002', decisionCode: 'TEAM_ACCESS', source: 'hubspot' };
const done = { outcome: 'done', message: 'You have Team access.', hubspotCorrelationId: null } as const;
const ok = { statusCode: 200, response: '{"ok":true}' };

describe.each(databaseTargets)('write requests and their outbox on $title', (target) => {
  describe.skipIf(target.skip)(target.name, () => {
    let url: string;
    let database: StoreDatabase;
    let other: StoreDatabase;
    let keys: WriteRequestStore;
    let audit: AuditLog;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      const created = await target.create();
      url = created.url;
      cleanup = created.cleanup;
      database = await openDatabase(url);
      // A second connection pool on the same database, as a second backend instance would have.
      other = await openDatabase(url);
      keys = createWriteRequestStore(database.db);
      audit = createAuditLog(database.db);
    });
    afterEach(async () => {
      await other.close();
      await database.close();
      await cleanup();
    });

    const entries = async () => (await audit.page(P, { limit: 50 })).entries;

    it('lets the first claim win, tells a repeat it is still running, then gives every repeat the first answer', async () => {
      expect(await keys.claim('k1', P, at(0))).toEqual({ kind: 'claimed' });
      expect(await createWriteRequestStore(other.db).claim('k1', P, at(5))).toMatchObject({ kind: 'pending' });
      await keys.settle('k1', { answer: ok, outcome: null }, at(8));
      expect(await createWriteRequestStore(other.db).claim('k1', P, at(10))).toEqual({ kind: 'answered', ...ok });
      // No intent was recorded (a refusal, say): nothing was sent to HubSpot, so there is no write to audit here.
      expect(await entries()).toEqual([]);
    });

    it('lets exactly one of many concurrent claims from two instances win', async () => {
      const stores = [keys, createWriteRequestStore(other.db)];
      const claims = await Promise.all(Array.from({ length: 20 }, (_, index) => stores[index % 2]!.claim('k2', P, at(0))));
      expect(claims.filter((claim) => claim.kind === 'claimed')).toHaveLength(1);
    });

    it('frees a key settled without an answer for the next attempt, but never an answered one', async () => {
      await keys.claim('k3', P, at(0));
      await keys.settle('k3', { answer: null, outcome: null }, at(1));
      expect(await keys.claim('k3', P, at(2))).toEqual({ kind: 'claimed' });
      await keys.settle('k3', { answer: { statusCode: 403, response: '{"error":{}}' }, outcome: null }, at(3));
      await keys.settle('k3', { answer: null, outcome: null }, at(4));
      expect(await keys.claim('k3', P, at(5))).toMatchObject({ kind: 'answered', statusCode: 403 });
    });

    it('commits the answer and the audit entry of a write together, the entry made of the stored intent', async () => {
      await keys.claim('k4', P, at(0));
      await keys.intend('k4', note, at(1));
      await keys.settle('k4', { answer: ok, outcome: done }, at(2));
      expect(await keys.claim('k4', P, at(3))).toEqual({ kind: 'answered', ...ok });
      expect(await entries()).toEqual([
        expect.objectContaining({
          userId: 7,
          action: 'add-note',
          objectType: 'tickets',
          recordId: '5002',
          decisionCode: 'TEAM_ACCESS',
          source: 'hubspot',
          outcome: 'done',
          message: 'You have Team access.',
          at: at(2),
        }),
      ]);
    });

    it('stores neither when the audit entry is refused, so the intent stays open for the sweeper', async () => {
      await keys.claim('k5', P, at(0));
      await keys.intend('k5', note, at(1));
      const lift = await refuseChanges(database, { table: 'audit_log', on: 'insert' });
      await expect(keys.settle('k5', { answer: ok, outcome: done }, at(2))).rejects.toThrow();
      await lift();
      // Not answered (the answer rolled back with the entry), and never run again: a repeat hears it is running.
      expect(await keys.claim('k5', P, at(3))).toMatchObject({ kind: 'pending' });
      expect(await entries()).toEqual([]);
      expect(await keys.closeAbandoned(at(30_000), at(40_000))).toBe(1);
      expect(await entries()).toEqual([
        expect.objectContaining({
          action: 'add-note',
          recordId: '5002',
          outcome: 'unknown',
          message: expect.stringMatching(/^Outcome unknown: .*never recorded/),
          at: at(1),
        }),
      ]);
      expect(await keys.claim('k5', P, at(40_001))).toMatchObject({ kind: 'pending' });
    });

    it('frees an update for its retry and audits the failure in the same transaction', async () => {
      await keys.claim('k6', P, at(0));
      await keys.intend('k6', { ...note, action: 'move-stage' }, at(1));
      await keys.settle('k6', { answer: null, outcome: { outcome: 'unknown', message: 'HUBSPOT_UNAVAILABLE: …', hubspotCorrelationId: null } }, at(2));
      expect(await keys.claim('k6', P, at(3))).toEqual({ kind: 'claimed' });
      expect(await entries()).toEqual([expect.objectContaining({ action: 'move-stage', outcome: 'unknown', message: 'HUBSPOT_UNAVAILABLE: …' })]);
    });

    it('closes only intents older than the cutoff that never settled, each once, whichever instance sweeps', async () => {
      for (const [key, intentAt] of [
        ['old', 1],
        ['young', 50_000],
        ['settled', 2],
      ] as const) {
        await keys.claim(key, P, at(intentAt - 1));
        await keys.intend(key, { ...note, recordId: key }, at(intentAt));
      }
      await keys.claim('never-sent', P, at(0));
      await keys.settle('settled', { answer: ok, outcome: done }, at(3));

      const sweep = (store: WriteRequestStore) => store.closeAbandoned(at(30_000), at(60_000));
      const both = [keys, createWriteRequestStore(other.db)] as const;
      // Two PostgreSQL instances sweep at the same moment. An SQLite file has one backend process; two connections in
      // one thread would only wait on each other's transaction locks, so there the second sweeps after the first.
      const sweeps = target.name === 'postgres' ? await Promise.all(both.map(sweep)) : [await sweep(both[0]), await sweep(both[1])];
      expect(sweeps[0]! + sweeps[1]!).toBe(1);
      expect(await keys.closeAbandoned(at(30_000), at(61_000))).toBe(0);
      const byRecord = (await entries()).map((entry) => [entry.recordId, entry.outcome]);
      expect(byRecord.sort()).toEqual([
        ['old', 'unknown'],
        ['settled', 'done'],
      ]);
    });

    it('lets the first of a late settle and the sweeper write the one audit entry', async () => {
      await keys.claim('late', P, at(0));
      await keys.intend('late', note, at(1));
      expect(await keys.closeAbandoned(at(30_000), at(31_000))).toBe(1);
      // The request outlived the sweeper's patience: its settle finds the intent closed and adds nothing.
      await keys.settle('late', { answer: ok, outcome: done }, at(32_000));
      expect((await entries()).map((entry) => entry.outcome)).toEqual(['unknown']);

      await keys.claim('prompt', P, at(0));
      await keys.intend('prompt', note, at(1));
      await keys.settle('prompt', { answer: ok, outcome: done }, at(2));
      expect(await keys.closeAbandoned(at(30_000), at(31_000))).toBe(0);
      expect((await entries()).map((entry) => entry.outcome).sort()).toEqual(['done', 'unknown']);
    });

    it('purges keys older than the cutoff, but never an intent the sweeper has not closed', async () => {
      await keys.claim('old', P, at(0));
      await keys.claim('new', P, at(60_000));
      await keys.claim('open-intent', P, at(0));
      await keys.intend('open-intent', note, at(1));
      expect(await keys.purgeOlderThan(at(30_000))).toBe(1);
      expect(await keys.claim('old', P, at(61_000))).toEqual({ kind: 'claimed' });
      expect(await keys.claim('new', P, at(61_000))).toMatchObject({ kind: 'pending' });
      expect(await keys.claim('open-intent', P, at(61_000))).toMatchObject({ kind: 'pending' });

      await keys.closeAbandoned(at(30_000), at(62_000));
      expect(await keys.purgeOlderThan(at(30_000))).toBe(1);
      expect(await entries()).toHaveLength(1);
    });

    it('keeps audit entries and stored answers through migration 0006, and admits outcome unknown afterwards', async () => {
      // A fresh database brought only as far as 0004, holding what a backend of that version wrote.
      await database.close();
      await other.close();
      await cleanup();
      const fresh = await target.create();
      cleanup = fresh.cleanup;
      const early = target.name === 'sqlite' ? sqliteKysely(fresh.file!) : postgresKysely(fresh.url);
      const schema = target.name === 'postgres' ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(early)).rows[0]!.schema : undefined;
      const { error } = await new Migrator({ db: early, provider: migrationProvider, migrationTableSchema: schema }).migrateTo('0004_write_requests');
      expect(error).toBeUndefined();
      await early.insertInto('write_requests').values({ request_key: 'answered', portal_id: P, created_at: t0, status_code: 200, response: '{}' }).execute();
      await createAuditLog(early).record({ portalId: P, userId: 7, action: 'add-note', outcome: 'done' }, at(0));
      await early.destroy();

      database = await openDatabase(fresh.url);
      other = await openDatabase(fresh.url);
      keys = createWriteRequestStore(database.db);
      audit = createAuditLog(database.db);
      expect(await keys.claim('answered', P, at(1))).toEqual({ kind: 'answered', statusCode: 200, response: '{}' });
      expect(await keys.purgeOlderThan(at(10))).toBe(1);
      await audit.record({ portalId: P, userId: 7, action: 'add-note', outcome: 'unknown' }, at(2));
      expect((await entries()).map((entry) => entry.outcome)).toEqual(['unknown', 'done']);
      await expect(audit.record({ portalId: P, userId: 7, action: 'x', outcome: 'bogus' as never }, at(3))).rejects.toThrow();
    });
  });
});
