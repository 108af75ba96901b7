import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createOAuthStateStore, openDatabase, type OAuthStateStore, type StoreDatabase } from '../../backend/src/store/index.js';
import { databaseTargets } from './databases.js';

const t0 = Date.parse('2026-11-01T10:00:00Z');
const TEN_MINUTES = 10 * 60 * 1000;

describe.each(databaseTargets)('OAuth state nonces on $title', (target) => {
  describe.skipIf(target.skip)(target.name, () => {
    let url: string;
    let cleanup: () => Promise<void>;
    let databases: StoreDatabase[];
    let database: StoreDatabase;
    let store: OAuthStateStore;

    async function open(): Promise<StoreDatabase> {
      const opened = await openDatabase(url);
      databases.push(opened);
      return opened;
    }

    beforeEach(async () => {
      ({ url, cleanup } = await target.create());
      databases = [];
      database = await open();
      store = createOAuthStateStore(database.db);
    });
    afterEach(async () => {
      await Promise.all(databases.map((opened) => opened.close()));
      await cleanup();
    });

    const rows = () => database.db.selectFrom('oauth_states').selectAll().execute();

    it('consumes a saved nonce exactly once, and never one it did not save', async () => {
      await store.save('nonce-a', new Date(t0 + TEN_MINUTES), new Date(t0));
      expect(await store.consume('nonce-b', new Date(t0 + 1000))).toBe(false);
      expect(await store.consume('nonce-a', new Date(t0 + 1000))).toBe(true);
      expect(await store.consume('nonce-a', new Date(t0 + 2000))).toBe(false);
      expect(await rows()).toEqual([]);
    });

    it('stores a hash of the nonce with its expiry and creation time, never the nonce itself', async () => {
      const nonce = 'Zm9vYmFyLXNlY3JldC1ub25jZQ';
      await store.save(nonce, new Date(t0 + TEN_MINUTES), new Date(t0));
      const stored = await rows();
      expect(stored).toHaveLength(1);
      expect(stored[0]).toMatchObject({ expires_at: t0 + TEN_MINUTES, created_at: t0 });
      expect(JSON.stringify(stored)).not.toContain(nonce);
      expect(stored[0]!.nonce_hash).toMatch(/^[A-Za-z0-9_-]{43}$/);
    });

    it('does not consume an expired nonce', async () => {
      await store.save('nonce-a', new Date(t0 + TEN_MINUTES), new Date(t0));
      expect(await store.consume('nonce-a', new Date(t0 + TEN_MINUTES))).toBe(false);
    });

    it('lets exactly one of many concurrent consumers win, across connections', async () => {
      await store.save('raced', new Date(t0 + TEN_MINUTES), new Date(t0));
      const others = await Promise.all([open(), open(), open()]);
      const stores = [store, ...others.map((opened) => createOAuthStateStore(opened.db))];
      const results = await Promise.all(stores.flatMap((each) => [1, 2, 3].map(() => each.consume('raced', new Date(t0 + 1000)))));
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('purges expired nonces on issue, a bounded batch at a time, and keeps live ones', async () => {
      const expired = Array.from({ length: 130 }, (_, index) => ({ nonce_hash: `dead-${index}`, expires_at: t0 - 1 - index, created_at: t0 - TEN_MINUTES }));
      await database.db.insertInto('oauth_states').values(expired).execute();
      await store.save('live', new Date(t0 + TEN_MINUTES), new Date(t0 - TEN_MINUTES));

      await store.save('first', new Date(t0 + TEN_MINUTES), new Date(t0));
      // 130 dead rows, at most 100 deleted per issue: 30 dead + 'live' + 'first' remain.
      expect(await rows()).toHaveLength(32);
      await store.save('second', new Date(t0 + TEN_MINUTES), new Date(t0));
      expect((await rows()).every((row) => row.expires_at > t0)).toBe(true);
      expect(await rows()).toHaveLength(3);
      expect(await store.consume('live', new Date(t0))).toBe(true);
    });
  });
});
