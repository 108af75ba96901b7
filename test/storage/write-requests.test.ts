import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createWriteRequestStore, openDatabase, type StoreDatabase, type WriteRequestStore } from '../../backend/src/store/index.js';
import { databaseTargets } from './databases.js';

const t0 = Date.parse('2026-11-01T10:00:00Z');

describe.each(databaseTargets)('write request keys on $title', (target) => {
  describe.skipIf(target.skip)(target.name, () => {
    let database: StoreDatabase;
    let other: StoreDatabase;
    let keys: WriteRequestStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      const created = await target.create();
      cleanup = created.cleanup;
      database = await openDatabase(created.url);
      // A second connection pool on the same database, as a second backend instance would have.
      other = await openDatabase(created.url);
      keys = createWriteRequestStore(database.db);
    });
    afterEach(async () => {
      await other.close();
      await database.close();
      await cleanup();
    });

    it('lets the first claim win, tells a repeat it is still running, then gives every repeat the first answer', async () => {
      expect(await keys.claim('k1', 1, new Date(t0))).toEqual({ kind: 'claimed' });
      expect(await createWriteRequestStore(other.db).claim('k1', 1, new Date(t0 + 5))).toMatchObject({ kind: 'pending' });
      await keys.answer('k1', 200, '{"ok":true}');
      expect(await createWriteRequestStore(other.db).claim('k1', 1, new Date(t0 + 10))).toEqual({ kind: 'answered', statusCode: 200, response: '{"ok":true}' });
    });

    it('lets exactly one of many concurrent claims from two instances win', async () => {
      const stores = [keys, createWriteRequestStore(other.db)];
      const claims = await Promise.all(Array.from({ length: 20 }, (_, index) => stores[index % 2]!.claim('k2', 1, new Date(t0))));
      expect(claims.filter((claim) => claim.kind === 'claimed')).toHaveLength(1);
    });

    it('frees a released key for the next attempt, but never an answered one', async () => {
      await keys.claim('k3', 1, new Date(t0));
      await keys.release('k3');
      expect(await keys.claim('k3', 1, new Date(t0 + 1))).toEqual({ kind: 'claimed' });
      await keys.answer('k3', 403, '{"error":{}}');
      await keys.release('k3');
      expect(await keys.claim('k3', 1, new Date(t0 + 2))).toMatchObject({ kind: 'answered', statusCode: 403 });
    });

    it('purges keys older than the cutoff only', async () => {
      await keys.claim('old', 1, new Date(t0));
      await keys.claim('new', 1, new Date(t0 + 60_000));
      expect(await keys.purgeOlderThan(new Date(t0 + 30_000))).toBe(1);
      expect(await keys.claim('old', 1, new Date(t0 + 61_000))).toEqual({ kind: 'claimed' });
      expect(await keys.claim('new', 1, new Date(t0 + 61_000))).toMatchObject({ kind: 'pending' });
    });
  });
});
