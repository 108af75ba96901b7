import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAuditLog, createPolicyStore, openDatabase, type AuditLog, type PolicyStore, type StoreDatabase } from '../../backend/src/store/index.js';
import { createLocalChangeFeed } from '../../backend/src/instances/change-feed.js';
import { databaseTargets } from './databases.js';

const t0 = Date.parse('2026-11-01T10:00:00Z');

describe.each(databaseTargets)('audit log and policies on $title', (target) => {
  describe.skipIf(target.skip)(target.name, () => {
    let database: StoreDatabase;
    let audit: AuditLog;
    let policies: PolicyStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      const created = await target.create();
      cleanup = created.cleanup;
      database = await openDatabase(created.url);
      audit = createAuditLog(database.db);
      policies = createPolicyStore(database.db, createLocalChangeFeed());
    });
    afterEach(async () => {
      await database.close();
      await cleanup();
    });

    it('pages newest first with a cursor, filters, and keeps accounts apart', async () => {
      for (let i = 0; i < 5; i += 1) {
        await audit.record(
          { portalId: 1, userId: i % 2 === 0 ? 10 : 11, action: `a${i}`, recordId: String(500 + i), outcome: i === 3 ? 'refused' : 'done' },
          new Date(t0 + i * 1000),
        );
      }
      await audit.record({ portalId: 2, userId: 10, action: 'other-account', outcome: 'done' }, new Date(t0 + 9000));
      const first = await audit.page(1, { limit: 2 });
      expect(first.entries.map((entry) => entry.action)).toEqual(['a4', 'a3']);
      const second = await audit.page(1, { limit: 2, before: first.nextCursor ?? undefined });
      expect(second.entries.map((entry) => entry.action)).toEqual(['a2', 'a1']);
      const last = await audit.page(1, { limit: 2, before: second.nextCursor ?? undefined });
      expect(last).toMatchObject({ entries: [{ action: 'a0' }], nextCursor: null });
      expect((await audit.page(1, { limit: 10, userId: 11 })).entries.map((entry) => entry.action)).toEqual(['a3', 'a1']);
      expect((await audit.page(1, { limit: 10, outcome: 'refused' })).entries.map((entry) => entry.recordId)).toEqual(['503']);
      expect((await audit.page(1, { limit: 10, recordId: '502' })).entries).toHaveLength(1);
      expect((await audit.page(2, { limit: 10 })).entries.map((entry) => entry.action)).toEqual(['other-account']);
    });

    it('deletes entries past retention and keeps the rest', async () => {
      await audit.record({ portalId: 1, userId: 10, action: 'old', outcome: 'done' }, new Date(t0));
      await audit.record({ portalId: 1, userId: 10, action: 'new', outcome: 'done' }, new Date(t0 + 91 * 86_400_000));
      expect(await audit.purgeOlderThan(new Date(t0 + 1))).toBe(1);
      expect((await audit.page(1, { limit: 10 })).entries.map((entry) => entry.action)).toEqual(['new']);
    });

    it('versions policies: each save is a new version, with who and when', async () => {
      expect(await policies.current(1)).toBeUndefined();
      await policies.save(1, { default: { tickets: { view: 'owned' } }, roles: {}, teams: {}, users: {} }, 10, new Date(t0));
      const second = await policies.save(
        1,
        { default: { tickets: { view: 'team' } }, roles: {}, teams: {}, users: { '11': { contacts: { communicate: 'none' } } } },
        11,
        new Date(t0 + 1000),
      );
      expect(second.version).toBe(2);
      expect(await policies.current(1)).toMatchObject({ version: 2, changedByUserId: 11, document: { default: { tickets: { view: 'team' } } } });
      expect((await policies.history(1, 10)).map((stored) => [stored.version, stored.changedByUserId])).toEqual([
        [2, 11],
        [1, 10],
      ]);
      expect(await policies.current(2)).toBeUndefined();
    });

    it('refuses an invalid policy without storing anything', async () => {
      const invalid = { default: { tickets: { view: 'most' } }, roles: {}, teams: {}, users: {} } as unknown as Parameters<PolicyStore['save']>[1];
      await expect(policies.save(1, invalid, 10, new Date(t0))).rejects.toThrow();
      expect(await policies.current(1)).toBeUndefined();
    });

    it('refuses a rule whose Edit reaches past its View, yet still loads such a version saved before the check', async () => {
      const wider = { default: {}, roles: {}, teams: {}, users: { '2002': { tickets: { view: 'owned' as const, edit: 'team' as const } } } };
      await expect(policies.save(1, wider, 10, new Date(t0))).rejects.toThrow(
        "user 2002: tickets Edit 'Team' would reach tickets that View 'Owned only' hides",
      );
      expect(await policies.current(1)).toBeUndefined();
      await database.db
        .insertInto('policies')
        .values({ portal_id: 1, version: 1, document: JSON.stringify(wider), changed_by_user_id: 10, changed_at: t0 })
        .execute();
      // Written behind the store's back, so read by one that has cached nothing: the point is that it loads at all.
      expect(await createPolicyStore(database.db, createLocalChangeFeed()).current(1)).toMatchObject({ version: 1, document: wider });
    });
  });
});
