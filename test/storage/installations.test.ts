import { randomBytes } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createInstallationStore, openDatabase, TokenCipher, type InstallationStore, type StoreDatabase } from '../../backend/src/store/index.js';
import { databaseTargets } from './databases.js';

const ACCESS = 'CNe-access-token-PLAINTEXT-4f1a';
const REFRESH = 'refresh-token-PLAINTEXT-9c2b';
const t0 = new Date('2026-11-01T10:00:00Z');

describe.each(databaseTargets)('installations on $title', (target) => {
  describe.skipIf(target.skip)(target.name, () => {
    let database: StoreDatabase;
    let store: InstallationStore;
    let cleanup: () => Promise<void>;
    let file: string | undefined;
    let url: string;
    const key = randomBytes(32);

    beforeEach(async () => {
      const created = await target.create();
      ({ cleanup, file, url } = created);
      database = await openDatabase(url);
      store = createInstallationStore(database.db, new TokenCipher(key), database.dialect);
    });
    afterEach(async () => {
      await database.close();
      await cleanup();
    });

    const install = (overrides: Partial<Parameters<InstallationStore['saveInstall']>[0]> = {}) =>
      store.saveInstall(
        { portalId: 10000001, accessToken: ACCESS, refreshToken: REFRESH, accessTokenExpiresAt: new Date(t0.getTime() + 1_800_000), scopes: ['oauth', 'tickets'], installedByUserId: 11, ...overrides },
        t0,
      );

    it('runs its migrations idempotently', async () => {
      const again = await openDatabase(url);
      await again.close();
      expect(await store.get(1)).toBeUndefined();
    });

    it('round-trips an install', async () => {
      const saved = await install();
      expect(saved).toEqual({
        portalId: 10000001,
        accessToken: ACCESS,
        refreshToken: REFRESH,
        accessTokenExpiresAt: new Date(t0.getTime() + 1_800_000),
        scopes: ['oauth', 'tickets'],
        installedByUserId: 11,
        installedAt: t0,
        updatedAt: t0,
        status: 'active',
        statusReason: null,
        statusChangedAt: t0,
      });
      expect(await store.get(10000001)).toEqual(saved);
    });

    it('reinstall replaces installer, tokens and scopes and reactivates', async () => {
      await install();
      await store.markStatus(10000001, 'needs_reinstall', 'refresh refused', new Date(t0.getTime() + 1000));
      expect((await store.get(10000001))?.status).toBe('needs_reinstall');
      const later = new Date(t0.getTime() + 60_000);
      await store.saveInstall({ portalId: 10000001, accessToken: 'a2', refreshToken: 'r2', accessTokenExpiresAt: later, scopes: ['oauth'], installedByUserId: 12 }, later);
      expect(await store.get(10000001)).toMatchObject({ status: 'active', statusReason: null, installedByUserId: 12, accessToken: 'a2', refreshToken: 'r2', scopes: ['oauth'], installedAt: later });
    });

    it('saves refreshed tokens and forgets them on disconnect', async () => {
      await install();
      const later = new Date(t0.getTime() + 2_000_000);
      await store.saveRefreshedTokens(10000001, { accessToken: 'a3', refreshToken: 'r3', accessTokenExpiresAt: later }, later);
      expect(await store.get(10000001)).toMatchObject({ accessToken: 'a3', refreshToken: 'r3', accessTokenExpiresAt: later, updatedAt: later, installedAt: t0 });
      await store.forgetTokens(10000001, later);
      expect(await store.get(10000001)).toMatchObject({ accessToken: '', refreshToken: '', status: 'uninstalled', installedByUserId: 11 });
    });

    it('keeps tokens unreadable at rest', async () => {
      await install();
      const raw = await sql<{ access_token_enc: string; refresh_token_enc: string }>`select access_token_enc, refresh_token_enc from installations`.execute(database.db);
      const row = raw.rows[0]!;
      expect(row.access_token_enc).not.toContain(ACCESS);
      expect(row.refresh_token_enc).not.toContain(REFRESH);
      expect(row.access_token_enc).toMatch(/^v1\./);
      if (file !== undefined) {
        await database.close();
        const bytes = [file, `${file}-wal`].filter(existsSync).map((name) => readFileSync(name).toString('latin1')).join('');
        expect(bytes.length).toBeGreaterThan(0);
        expect(bytes).not.toContain(ACCESS);
        expect(bytes).not.toContain(REFRESH);
        database = await openDatabase(url);
      }
    });

    it('refuses to decrypt with another key or a row moved to another account', async () => {
      await install();
      const wrongKey = createInstallationStore(database.db, new TokenCipher(randomBytes(32)), database.dialect);
      await expect(wrongKey.get(10000001)).rejects.toThrow(/could not be decrypted/);
      await sql`insert into installations select 10000002, access_token_enc, refresh_token_enc, access_token_expires_at, scopes, installed_by_user_id, installed_at, updated_at, status, status_reason, status_changed_at from installations where portal_id = 10000001`.execute(database.db);
      await expect(store.get(10000002)).rejects.toThrow(/could not be decrypted/);
    });

    it('serialises refresh locks on the same account', async () => {
      await install();
      const events: string[] = [];
      const second = target.name === 'postgres' ? await openDatabase(url) : database;
      const otherStore = createInstallationStore(second.db, new TokenCipher(key), second.dialect);
      let inside = 0;
      let overlapped = false;
      const hold = (name: string, s: InstallationStore) =>
        s.withRefreshLock(10000001, async (locked) => {
          inside += 1;
          overlapped ||= inside > 1;
          events.push(`${name} in`);
          await new Promise((resolve) => setTimeout(resolve, 100));
          await locked.saveRefreshedTokens(10000001, { accessToken: name, refreshToken: name, accessTokenExpiresAt: t0 }, t0);
          events.push(`${name} out`);
          inside -= 1;
        });
      if (target.name === 'postgres') {
        await Promise.all([hold('a', store), hold('b', otherStore)]);
        expect(overlapped).toBe(false);
        expect(events).toHaveLength(4);
        await second.close();
      } else {
        // SQLite is single-process: the lock runs fn directly and the token manager's single flight serialises.
        await hold('a', store);
        expect(events).toEqual(['a in', 'a out']);
      }
      expect((await store.get(10000001))?.accessToken).toMatch(/^[ab]$/);
    });

    it.runIf(target.name === 'postgres')('does not block other accounts while one is locked', async () => {
      await install();
      await install({ portalId: 10000002 });
      const order: string[] = [];
      await Promise.all([
        store.withRefreshLock(10000001, async () => {
          await new Promise((resolve) => setTimeout(resolve, 200));
          order.push('slow');
        }),
        store.withRefreshLock(10000002, async () => {
          order.push('fast');
        }),
      ]);
      expect(order).toEqual(['fast', 'slow']);
    });
  });
});
