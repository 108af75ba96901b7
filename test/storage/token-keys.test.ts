import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  checkReadiness,
  createInstallationStore,
  openDatabase,
  TokenCipher,
  TokenDecryptionError,
  TokenKeyMismatchError,
  type StoreDatabase,
} from '../../backend/src/store/index.js';
import { databaseTargets, readOnlyConnection } from './databases.js';

const t0 = new Date('2026-11-01T10:00:00Z');
const at = (ms: number) => new Date(t0.getTime() + ms);

describe.each(databaseTargets)('token keys on $title', (target) => {
  describe.skipIf(target.skip)(target.name, () => {
    const cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });
    let created: { url: string; file?: string };
    let database: StoreDatabase;
    const fresh = async () => {
      const made = await target.create();
      cleanups.push(made.cleanup);
      created = made;
      database = await openDatabase(made.url);
      cleanups.push(() => database.close());
    };
    const storeWith = (...keys: Buffer[]) => createInstallationStore(database.db, new TokenCipher(keys), database.dialect);
    const sealed = async (portalId: number) =>
      database.db.selectFrom('installations').select(['access_token_enc', 'refresh_token_enc']).where('portal_id', '=', portalId).executeTakeFirstOrThrow();
    const install = (keys: Buffer[], portalId: number, updatedAt = t0) =>
      storeWith(...keys).saveInstall(
        {
          portalId,
          accessToken: `access-${portalId}`,
          refreshToken: `refresh-${portalId}`,
          accessTokenExpiresAt: at(1_800_000),
          scopes: ['oauth'],
          installedByUserId: 11,
        },
        updatedAt,
      );
    const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];

    it('rotates: old key -> [new, old] reseals every install in one pass -> [new] opens everything', async () => {
      await fresh();
      for (const portalId of [1, 2, 3]) await install([oldKey], portalId);
      await storeWith(oldKey).forgetTokens(3, t0); // a disconnected install holds no tokens to reseal
      const before = await sealed(1);

      const rotating = storeWith(newKey, oldKey);
      // The start-up pass: every install opened, those sealed with the old key sealed again with the new one.
      expect(await rotating.checkTokens({ reseal: true })).toEqual({ checked: 2, unreadable: 0, resealed: 2 });
      expect(await rotating.checkTokens({ reseal: true })).toEqual({ checked: 2, unreadable: 0, resealed: 0 });
      const after = await sealed(1);
      expect(after.access_token_enc).not.toBe(before.access_token_enc);
      expect(await sealed(3)).toEqual({ access_token_enc: '', refresh_token_enc: '' });

      const done = storeWith(newKey);
      expect(await done.get(1)).toMatchObject({ accessToken: 'access-1', refreshToken: 'refresh-1' });
      expect(await done.get(2)).toMatchObject({ accessToken: 'access-2', refreshToken: 'refresh-2' });
      await expect(storeWith(oldKey).get(1)).rejects.toThrow(TokenDecryptionError);
    });

    it('reseals on read what another instance sealed with the old key after the start-up pass', async () => {
      await fresh();
      const rotating = storeWith(newKey, oldKey);
      await install([oldKey], 1);
      const read = await rotating.get(1);
      expect(read).toMatchObject({ accessToken: 'access-1', refreshToken: 'refresh-1' });
      await expect(storeWith(newKey).get(1)).resolves.toEqual(read);
    });

    it('leaves a row alone that was written between the read and the reseal', async () => {
      await fresh();
      await install([oldKey], 1);
      const rotating = storeWith(newKey, oldKey);
      await rotating.withRefreshLock(1, async (locked) => {
        // Inside the lock nothing is resealed (on PostgreSQL a failed write would abort the lock's transaction)...
        expect(await locked.get(1)).toMatchObject({ accessToken: 'access-1' });
        await locked.saveRefreshedTokens(1, { accessToken: 'a2', refreshToken: 'r2', accessTokenExpiresAt: at(3_600_000) }, at(1000));
      });
      // ...and what the refresh wrote is already sealed with the newest key.
      expect(await storeWith(newKey).get(1)).toMatchObject({ accessToken: 'a2', refreshToken: 'r2' });
    });

    it('counts installs no key opens, and still reseals the others', async () => {
      await fresh();
      const lostKey = randomBytes(32);
      await install([lostKey], 1);
      await install([oldKey], 2);
      const check = await storeWith(newKey, oldKey).checkTokens({ reseal: true });
      expect(check).toEqual({ checked: 2, unreadable: 1, resealed: 1 });
      await expect(storeWith(newKey).get(1)).rejects.toThrow(TokenDecryptionError);
      expect(await storeWith(newKey).get(2)).toMatchObject({ accessToken: 'access-2' });
    });

    it('still reads, and checks, on a database that refuses the reseal (read-only)', async () => {
      await fresh();
      await install([oldKey], 1);
      const readOnly = await readOnlyConnection(created);
      cleanups.push(() => readOnly.destroy());
      const rotating = createInstallationStore(readOnly, new TokenCipher([newKey, oldKey]), target.name);
      expect(await rotating.get(1)).toMatchObject({ accessToken: 'access-1' });
      const check = await rotating.checkTokens({ reseal: true });
      expect(check).toMatchObject({ checked: 1, unreadable: 0, resealed: 0 });
      expect(check.resealFailure).toBeDefined();
      // Nothing changed: the old key alone still opens it.
      expect(await storeWith(oldKey).get(1)).toMatchObject({ accessToken: 'access-1' });
    });

    it('readiness fails when no recent install opens, and passes when one does', async () => {
      await fresh();
      await expect(checkReadiness(database.db, storeWith(newKey), t0)).resolves.toBeUndefined(); // nothing stored: nothing to open
      await install([oldKey], 1, at(0));
      const error = await checkReadiness(database.db, storeWith(newKey), t0).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(TokenKeyMismatchError);
      expect(error).toMatchObject({ checked: 1, message: expect.stringMatching(/TOKEN_ENCRYPTION_KEYS open none of the stored install/) });
      await install([newKey], 2, at(1000));
      await expect(checkReadiness(database.db, storeWith(newKey), t0)).resolves.toBeUndefined();
    });
  });
});
