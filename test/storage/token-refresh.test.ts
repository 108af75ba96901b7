import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDeadlines } from '../../backend/src/hubspot/deadline.js';
import { createOAuthClient } from '../../backend/src/hubspot/oauth.js';
import { HubSpotScheduler } from '../../backend/src/hubspot/scheduler.js';
import { createInstallationStore, openDatabase, TokenCipher, type StoreDatabase } from '../../backend/src/store/index.js';
import { createTokenManager, type TokenManager } from '../../backend/src/tokens/token-manager.js';
import { createFakeHubSpot, loadSeed, type FakeHubSpot } from '../hubspot-fake/index.js';
import { databaseTargets } from './databases.js';

const APP = { clientId: 'refresh-client', clientSecret: 'refresh-secret', appId: 1 };
const account = loadSeed().accounts[0]!;
const admin = account.users.find((user) => user.superAdmin)!;
const MARGIN_MS = 5 * 60 * 1000;
const silent = { info: () => undefined, warn: () => undefined };
/** A card request's deadline, as the pipeline makes one. */
const card = () => createDeadlines().card();

describe.each(databaseTargets)('install token refresh on $title', (target) => {
  describe.skipIf(target.skip)(target.name, () => {
    let fake: FakeHubSpot;
    let databases: StoreDatabase[];
    let cleanup: () => Promise<void>;
    let url: string;
    let now: number;
    const key = randomBytes(32);

    beforeEach(async () => {
      now = Date.parse('2026-11-01T10:00:00Z');
      fake = createFakeHubSpot({ app: APP, now: () => now });
      await fake.listen();
      ({ url, cleanup } = await target.create());
      databases = [];
    });
    afterEach(async () => {
      await Promise.all(databases.map((database) => database.close()));
      await cleanup();
      await fake.close();
    });

    async function instance(): Promise<{ tokens: TokenManager; database: StoreDatabase }> {
      const database = await openDatabase(url);
      databases.push(database);
      const installations = createInstallationStore(database.db, new TokenCipher(key), database.dialect);
      const oauth = createOAuthClient({ apiBaseUrl: fake.url, clientId: APP.clientId, clientSecret: APP.clientSecret, scheduler: new HubSpotScheduler() });
      return {
        database,
        tokens: createTokenManager({ installations, oauth, refreshMarginMs: MARGIN_MS, now: () => now, log: silent }),
      };
    }

    async function install(expiresInMs: number) {
      const { database } = await instance();
      const issued = fake.tokens.issue(account.portalId, admin.id);
      const installations = createInstallationStore(database.db, new TokenCipher(key), database.dialect);
      await installations.saveInstall(
        {
          portalId: account.portalId,
          accessToken: issued.accessToken,
          refreshToken: issued.refreshToken,
          accessTokenExpiresAt: new Date(now + expiresInMs),
          scopes: ['oauth'],
          installedByUserId: admin.id,
        },
        new Date(now),
      );
      return { issued, installations };
    }

    it('uses the stored token while it is fresh', async () => {
      const { issued } = await install(30 * 60 * 1000);
      const { tokens } = await instance();
      expect(await tokens.accessTokenFor(account.portalId, card())).toBe(issued.accessToken);
      expect(fake.calls.count('POST', '/oauth/2026-03/token')).toBe(0);
    });

    it('refreshes ahead of expiry exactly once for 50 concurrent callers', async () => {
      const { issued, installations } = await install(MARGIN_MS - 1000);
      const { tokens } = await instance();
      const results = await Promise.all(Array.from({ length: 50 }, () => tokens.accessTokenFor(account.portalId, card())));
      expect(new Set(results).size).toBe(1);
      expect(results[0]).not.toBe(issued.accessToken);
      expect(fake.calls.count('POST', '/oauth/2026-03/token')).toBe(1);
      const stored = await installations.get(account.portalId);
      expect(stored?.accessToken).toBe(results[0]);
      expect(stored?.accessTokenExpiresAt.getTime()).toBe(now + 1800 * 1000);
    });

    it.runIf(target.name === 'postgres')('refreshes once across two instances sharing the database', async () => {
      await install(MARGIN_MS - 1000);
      const [first, second] = [await instance(), await instance()];
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, index) => (index % 2 === 0 ? first : second).tokens.accessTokenFor(account.portalId, card())),
      );
      expect(new Set(results).size).toBe(1);
      expect(fake.calls.count('POST', '/oauth/2026-03/token')).toBe(1);
    });

    it('marks the install needs_reinstall when HubSpot refuses the refresh token, and says how to fix it', async () => {
      const { installations } = await install(1000);
      fake.tokens.revokeInstall(account.portalId);
      const { tokens } = await instance();
      const error = await tokens.accessTokenFor(account.portalId, card()).catch((caught: unknown) => caught);
      expect(error).toMatchObject({ code: 'INSTALL_NEEDS_REPAIR' });
      expect(await installations.get(account.portalId)).toMatchObject({ status: 'needs_reinstall' });
      // Later calls answer from the stored status without asking HubSpot again.
      await expect(tokens.accessTokenFor(account.portalId, card())).rejects.toMatchObject({ code: 'INSTALL_NEEDS_REPAIR' });
      expect(fake.calls.count('POST', '/oauth/2026-03/token')).toBe(1);
    });

    it('says the app is not installed for an unknown account', async () => {
      const { tokens } = await instance();
      await expect(tokens.accessTokenFor(424242, card())).rejects.toMatchObject({ code: 'NOT_INSTALLED' });
    });

    it('retries a HubSpot 5xx during refresh and still refreshes once', async () => {
      await install(1000);
      fake.switches.failNext(1, 502);
      const { tokens } = await instance();
      await expect(tokens.accessTokenFor(account.portalId, card())).resolves.toMatch(/^CNfake-/);
      expect(fake.calls.count('POST', '/oauth/2026-03/token')).toBe(2);
    });
  });
});
