import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createInstallationStore,
  openDatabase,
  TokenCipher,
  TokenDecryptionError,
  type InstallationStore,
  type NewInstallation,
  type StoreDatabase,
} from '../../backend/src/store/index.js';
import { databaseTargets } from './databases.js';

const PORTAL = 10000001;
const ACCESS = 'CNe-access-token-PLAINTEXT-4f1a';
const REFRESH = 'refresh-token-PLAINTEXT-9c2b';
const SCOPES = ['oauth', 'tickets', 'crm.objects.contacts.read-granted-scope-marker'];
const t0 = new Date('2026-11-01T10:00:00Z');
const at = (ms: number) => new Date(t0.getTime() + ms);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(databaseTargets)('installations on $title', (target) => {
  describe.skipIf(target.skip)(target.name, () => {
    let database: StoreDatabase;
    let store: InstallationStore;
    let cleanup: () => Promise<void>;
    let file: string | undefined;
    let url: string;
    const extra: StoreDatabase[] = [];
    const key = randomBytes(32);

    /** Another instance on the same database, as a second process would have. */
    async function secondInstance(): Promise<InstallationStore> {
      const other = await openDatabase(url);
      extra.push(other);
      return createInstallationStore(other.db, new TokenCipher(key), other.dialect);
    }

    beforeEach(async () => {
      ({ cleanup, file, url } = await target.create());
      database = await openDatabase(url);
      store = createInstallationStore(database.db, new TokenCipher(key), database.dialect);
    });
    afterEach(async () => {
      await Promise.all([database, ...extra.splice(0)].map((open) => open.close()));
      await cleanup();
    });

    const install = (overrides: Partial<NewInstallation> = {}, now = t0) =>
      store.saveInstall(
        {
          portalId: PORTAL,
          accessToken: ACCESS,
          refreshToken: REFRESH,
          accessTokenExpiresAt: at(1_800_000),
          scopes: SCOPES,
          installedByUserId: 11,
          ...overrides,
        },
        now,
      );

    it('has nothing for an account that never installed', async () => {
      expect(await store.get(PORTAL)).toBeUndefined();
    });

    it('round-trips an install', async () => {
      const saved = await install();
      expect(saved).toEqual({
        portalId: PORTAL,
        accessToken: ACCESS,
        refreshToken: REFRESH,
        accessTokenExpiresAt: at(1_800_000),
        scopes: SCOPES,
        installedByUserId: 11,
        installedAt: t0,
        updatedAt: t0,
        status: 'active',
        statusReason: null,
        statusChangedAt: t0,
        refreshStartedAt: null,
      });
      expect(await store.get(PORTAL)).toEqual(saved);
    });

    it('reinstall replaces installer, tokens and scopes and reactivates', async () => {
      await install();
      await store.markStatus(PORTAL, 'needs_reinstall', 'refresh refused', at(1000));
      const later = at(60_000);
      const saved = await install({ accessToken: 'a2', refreshToken: 'r2', accessTokenExpiresAt: later, scopes: ['oauth'], installedByUserId: 12 }, later);
      expect(saved).toEqual({
        portalId: PORTAL,
        accessToken: 'a2',
        refreshToken: 'r2',
        accessTokenExpiresAt: later,
        scopes: ['oauth'],
        installedByUserId: 12,
        installedAt: later,
        updatedAt: later,
        status: 'active',
        statusReason: null,
        statusChangedAt: later,
        refreshStartedAt: null,
      });
      expect(await store.get(PORTAL)).toEqual(saved);
    });

    it('saves refreshed tokens and leaves the rest alone', async () => {
      await install();
      const later = at(2_000_000);
      await store.saveRefreshedTokens(PORTAL, { accessToken: 'a3', refreshToken: 'r3', accessTokenExpiresAt: at(3_800_000) }, later);
      expect(await store.get(PORTAL)).toEqual({
        portalId: PORTAL,
        accessToken: 'a3',
        refreshToken: 'r3',
        accessTokenExpiresAt: at(3_800_000),
        scopes: SCOPES,
        installedByUserId: 11,
        installedAt: t0,
        updatedAt: later,
        status: 'active',
        statusReason: null,
        statusChangedAt: t0,
        refreshStartedAt: null,
      });
    });

    it('marks a status with its reason and time, and back', async () => {
      await install();
      await store.markStatus(PORTAL, 'needs_reinstall', 'HubSpot refused the refresh token.', at(5000));
      expect(await store.get(PORTAL)).toMatchObject({
        status: 'needs_reinstall',
        statusReason: 'HubSpot refused the refresh token.',
        statusChangedAt: at(5000),
        updatedAt: at(5000),
        accessToken: ACCESS,
      });
      await store.markStatus(PORTAL, 'active', null, at(6000));
      expect(await store.get(PORTAL)).toMatchObject({ status: 'active', statusReason: null, statusChangedAt: at(6000) });
    });

    it('records a refresh that began, until new tokens, a new status or a reinstall are written', async () => {
      await install();
      await store.markRefreshStarted(PORTAL, at(1000));
      expect(await store.get(PORTAL)).toMatchObject({ refreshStartedAt: at(1000), updatedAt: t0 });
      await store.saveRefreshedTokens(PORTAL, { accessToken: 'a4', refreshToken: 'r4', accessTokenExpiresAt: at(3_800_000) }, at(2000));
      expect(await store.get(PORTAL)).toMatchObject({ refreshStartedAt: null, refreshToken: 'r4' });

      await store.markRefreshStarted(PORTAL, at(3000));
      await store.markStatus(PORTAL, 'needs_reinstall', 'refused', at(4000));
      expect(await store.get(PORTAL)).toMatchObject({ refreshStartedAt: null, status: 'needs_reinstall' });

      await store.markRefreshStarted(PORTAL, at(5000));
      await install({}, at(6000));
      expect(await store.get(PORTAL)).toMatchObject({ refreshStartedAt: null, status: 'active' });
    });

    it('reactivates with refreshed tokens only when asked, and never an uninstalled row', async () => {
      await install();
      await store.markStatus(PORTAL, 'needs_reinstall', 'refused', at(1000));
      await store.saveRefreshedTokens(PORTAL, { accessToken: 'a5', refreshToken: 'r5', accessTokenExpiresAt: at(3_800_000) }, at(2000));
      expect(await store.get(PORTAL)).toMatchObject({ accessToken: 'a5', status: 'needs_reinstall', statusChangedAt: at(1000) });
      await store.saveRefreshedTokens(PORTAL, { accessToken: 'a6', refreshToken: 'r6', accessTokenExpiresAt: at(3_800_000) }, at(3000), { reactivate: true });
      expect(await store.get(PORTAL)).toMatchObject({ accessToken: 'a6', status: 'active', statusReason: null, statusChangedAt: at(3000) });
      await store.forgetTokens(PORTAL, at(4000));
      await store.saveRefreshedTokens(PORTAL, { accessToken: 'a7', refreshToken: 'r7', accessTokenExpiresAt: at(3_800_000) }, at(5000), { reactivate: true });
      expect(await store.get(PORTAL)).toMatchObject({ accessToken: '', status: 'uninstalled' });
    });

    it('forgets the tokens on disconnect, keeps who installed, and never takes refreshed tokens back', async () => {
      await install();
      await store.forgetTokens(PORTAL, at(1000));
      const forgotten = {
        accessToken: '',
        refreshToken: '',
        accessTokenExpiresAt: new Date(0),
        status: 'uninstalled',
        statusChangedAt: at(1000),
        installedByUserId: 11,
        installedAt: t0,
      };
      expect(await store.get(PORTAL)).toMatchObject(forgotten);
      const raw = await database.db.selectFrom('installations').select(['access_token_enc', 'refresh_token_enc']).execute();
      expect(raw).toEqual([{ access_token_enc: '', refresh_token_enc: '' }]);
      // A refresh that was under way when the admin disconnected.
      await store.saveRefreshedTokens(PORTAL, { accessToken: 'late', refreshToken: 'late', accessTokenExpiresAt: at(9_000_000) }, at(2000));
      expect(await store.get(PORTAL)).toMatchObject(forgotten);
      await store.forgetTokens(424242, at(2000));
      expect(await store.get(424242)).toBeUndefined();
    });

    it('keeps tokens unreadable at rest', async () => {
      await install();
      const raw = await database.db.selectFrom('installations').select(['access_token_enc', 'refresh_token_enc']).executeTakeFirstOrThrow();
      expect(raw.access_token_enc).toMatch(/^v2\./);
      expect(raw.refresh_token_enc).toMatch(/^v2\./);
      for (const column of Object.values(raw)) {
        expect(column).not.toContain(ACCESS);
        expect(column).not.toContain(REFRESH);
      }
      if (file === undefined) return;
      const dbFile = file;
      const diskBytes = () =>
        [dbFile, `${dbFile}-wal`]
          .filter(existsSync)
          .map((name) => readFileSync(name).toString('latin1'))
          .join('');
      // While open the row sits in the WAL; after close it is checkpointed into the main file. Check both.
      const whileOpen = diskBytes();
      await database.close();
      const afterClose = diskBytes();
      database = await openDatabase(url);
      for (const bytes of [whileOpen, afterClose]) {
        // The row is really there (its scopes are stored in the clear), only the tokens are not.
        expect(bytes).toContain(SCOPES[2]);
        expect(bytes).toContain(raw.access_token_enc);
        expect(bytes).not.toContain(ACCESS);
        expect(bytes).not.toContain(REFRESH);
      }
    });

    it('refuses to decrypt with another key, or a ciphertext moved to another account or column', async () => {
      await install();
      const wrongKey = createInstallationStore(database.db, new TokenCipher(randomBytes(32)), database.dialect);
      await expect(wrongKey.get(PORTAL)).rejects.toThrow(TokenDecryptionError);

      await install({ portalId: 10000002, accessToken: 'other-access', refreshToken: 'other-refresh' });
      const victim = await database.db
        .selectFrom('installations')
        .select(['access_token_enc', 'refresh_token_enc'])
        .where('portal_id', '=', PORTAL)
        .executeTakeFirstOrThrow();
      await database.db.updateTable('installations').set(victim).where('portal_id', '=', 10000002).execute();
      await expect(store.get(10000002)).rejects.toThrow(TokenDecryptionError);

      await database.db
        .updateTable('installations')
        .set({ access_token_enc: victim.refresh_token_enc, refresh_token_enc: victim.access_token_enc })
        .where('portal_id', '=', PORTAL)
        .execute();
      await expect(store.get(PORTAL)).rejects.toThrow(TokenDecryptionError);
    });

    it('refuses a row that does not match the schema, instead of guessing', async () => {
      await install();
      await sql`update installations set scopes = ${'oauth tickets'}`.execute(database.db);
      await expect(store.get(PORTAL)).rejects.toThrow(/installations row does not match the schema[\s\S]*scopes/);
    });

    it('serialises refresh locks on one account, and the second holder sees the first one\u2019s tokens', async () => {
      await install();
      // PostgreSQL: two instances sharing the database, as two processes would. SQLite: one process, one instance.
      const other = target.name === 'postgres' ? await secondInstance() : createInstallationStore(database.db, new TokenCipher(key), database.dialect);
      const events: string[] = [];
      const seen: string[] = [];
      const refresh = (name: string, from: InstallationStore) =>
        from.withRefreshLock(PORTAL, async (locked) => {
          events.push(`${name} in`);
          seen.push((await locked.get(PORTAL))?.accessToken ?? 'none');
          await sleep(150);
          await locked.saveRefreshedTokens(PORTAL, { accessToken: name, refreshToken: name, accessTokenExpiresAt: at(1_800_000) }, at(1000));
          events.push(`${name} out`);
        });
      await Promise.all([refresh('a', store), refresh('b', other)]);
      const [first, second] = events[0] === 'a in' ? ['a', 'b'] : ['b', 'a'];
      expect(events).toEqual([`${first} in`, `${first} out`, `${second} in`, `${second} out`]);
      expect(seen).toEqual([ACCESS, first]);
      expect((await store.get(PORTAL))?.accessToken).toBe(second);
    });

    it('does not make other accounts wait', async () => {
      await install();
      await install({ portalId: 10000002 });
      const other = target.name === 'postgres' ? await secondInstance() : store;
      const order: string[] = [];
      let releaseSlow: () => void = () => undefined;
      const slowHeld = new Promise<void>((resolve) => {
        releaseSlow = resolve;
      });
      const slow = store.withRefreshLock(PORTAL, async () => {
        order.push('slow in');
        await slowHeld;
        order.push('slow out');
      });
      await sleep(50);
      try {
        const fast = other.withRefreshLock(10000002, async (locked) => {
          order.push('fast');
          await locked.saveRefreshedTokens(10000002, { accessToken: 'f', refreshToken: 'f', accessTokenExpiresAt: at(1) }, at(1));
        });
        await Promise.race([fast, sleep(3000).then(() => Promise.reject(new Error('account 10000002 waited for 10000001')))]);
      } finally {
        releaseSlow();
        await slow;
      }
      expect(order).toEqual(['slow in', 'fast', 'slow out']);
    });

    it('releases the lock when fn throws (and on PostgreSQL rolls back what fn wrote)', async () => {
      await install();
      const failing = store.withRefreshLock(PORTAL, async (locked) => {
        await locked.saveRefreshedTokens(PORTAL, { accessToken: 'doomed', refreshToken: 'doomed', accessTokenExpiresAt: at(1) }, at(1));
        throw new Error('HubSpot went away');
      });
      await expect(failing).rejects.toThrow('HubSpot went away');
      const after = await store.withRefreshLock(PORTAL, async (locked) => (await locked.get(PORTAL))?.accessToken);
      expect(after).toBe(target.name === 'postgres' ? ACCESS : 'doomed');
    });

    it('lets the locked store re-enter its own account and refuses another', async () => {
      await install();
      await store.withRefreshLock(PORTAL, async (locked) => {
        await expect(locked.withRefreshLock(PORTAL, async (again) => (await again.get(PORTAL))?.accessToken)).resolves.toBe(ACCESS);
        await expect(locked.withRefreshLock(10000002, async () => 'never')).rejects.toThrow(/while holding the refresh lock of 10000001/);
      });
    });
  });
});
