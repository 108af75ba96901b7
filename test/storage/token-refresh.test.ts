import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AppError } from '../../backend/src/errors.js';
import { HubSpotHttpError } from '../../backend/src/hubspot/http-error.js';
import { createOAuthClient, InvalidGrantError, refreshMayHaveReachedHubSpot, type OAuthClient } from '../../backend/src/hubspot/oauth.js';
import { createDeadlines } from '../../backend/src/hubspot/deadline.js';
import { HubSpotScheduler } from '../../backend/src/hubspot/scheduler.js';
import { createInstallationStore, openDatabase, TokenCipher, type StoreDatabase, type Tables } from '../../backend/src/store/index.js';
import { createTokenManager, type TokenManager } from '../../backend/src/tokens/token-manager.js';
import { createFakeHubSpot, loadSeed, type FakeHubSpot } from '../hubspot-fake/index.js';
import { databaseTargets } from './databases.js';

const APP = { clientId: 'refresh-client', clientSecret: 'refresh-secret', appId: 1 };
const account = loadSeed().accounts[0]!;
const admin = account.users.find((user) => user.superAdmin)!;
const MARGIN_MS = 5 * 60 * 1000;
const silent = { info: () => undefined, warn: () => undefined };
const TOKEN = '/oauth/2026-03/token';

/**
 * Makes the database refuse updates of the installations row (all of them, or those touching `column`), the way a
 * read-only or full database refuses them: reads still work.
 */
async function refuseUpdates(db: Kysely<Tables>, dialect: 'sqlite' | 'postgres', column?: string): Promise<() => Promise<void>> {
  const of = column === undefined ? sql`` : sql`of ${sql.ref(column)}`;
  if (dialect === 'sqlite') {
    await sql`create trigger refuse_updates before update ${of} on installations begin select raise(abort, 'database or disk is full'); end`.execute(db);
    return async () => {
      await sql`drop trigger refuse_updates`.execute(db);
    };
  }
  await sql`create function refuse_updates() returns trigger language plpgsql as $$ begin raise exception 'could not extend file: No space left on device' using errcode = '53100'; end $$`.execute(
    db,
  );
  await sql`create trigger refuse_updates before update ${of} on installations for each row execute function refuse_updates()`.execute(db);
  return async () => {
    await sql`drop trigger refuse_updates on installations`.execute(db);
    await sql`drop function refuse_updates()`.execute(db);
  };
}

async function untilAnUpdateWaitsForALock(db: Kysely<Tables>): Promise<void> {
  for (;;) {
    const { rows } = await sql<{ waiting: number }>`select count(*)::int as waiting from pg_stat_activity
      where datname = current_database() and wait_event_type = 'Lock' and query ilike 'update "installations"%'`.execute(db);
    if ((rows[0]?.waiting ?? 0) > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
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

    /** One backend's token manager; `wrap` stands between it and HubSpot's token endpoint. */
    async function instance(wrap: (oauth: OAuthClient) => OAuthClient = (oauth) => oauth): Promise<{ tokens: TokenManager; database: StoreDatabase }> {
      const database = await openDatabase(url);
      databases.push(database);
      const installations = createInstallationStore(database.db, new TokenCipher(key), database.dialect);
      const oauth = createOAuthClient({ apiBaseUrl: fake.url, clientId: APP.clientId, clientSecret: APP.clientSecret, scheduler: new HubSpotScheduler() });
      return {
        database,
        tokens: createTokenManager({ installations, oauth: wrap(oauth), refreshMarginMs: MARGIN_MS, now: () => now, log: silent }),
      };
    }

    /** A refresh HubSpot carries out whose answer none of our instances sees (a process died waiting for it). */
    async function refreshAtHubSpot(refreshToken: string) {
      const response = await fetch(fake.url + TOKEN, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', client_id: APP.clientId, client_secret: APP.clientSecret, refresh_token: refreshToken }),
      });
      expect(response.status).toBe(200);
      return z.object({ access_token: z.string(), refresh_token: z.string() }).parse(await response.json());
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

    it('retries a HubSpot 5xx during refresh after re-reading the row, and still refreshes once', async () => {
      fake.switches.rotateRefreshTokens = true;
      const { installations } = await install(1000);
      fake.switches.tokenFaultNext(1, { status: 502 });
      const { tokens } = await instance();
      await expect(tokens.accessTokenFor(account.portalId, card())).resolves.toMatch(/^CNfake-/);
      expect(fake.calls.all().map((call) => call.status)).toEqual([502, 200]);
      // The 502 came before HubSpot did anything, so the stored refresh token was still good and is now replaced.
      expect((await installations.get(account.portalId))?.refreshToken).toBe(fake.tokens.liveRefreshTokens(account.portalId)[0]);
    });

    it('keeps up with strict rotation: each refresh stores the refresh token HubSpot answered, and the next one uses it', async () => {
      fake.switches.rotateRefreshTokens = true;
      const { issued, installations } = await install(1000);
      const { tokens } = await instance();
      const seen = new Set([issued.refreshToken]);
      for (let round = 0; round < 3; round += 1) {
        const accessToken = await tokens.accessTokenFor(account.portalId, card());
        const stored = await installations.get(account.portalId);
        expect(stored).toMatchObject({ accessToken, status: 'active', refreshStartedAt: null });
        expect(fake.tokens.liveRefreshTokens(account.portalId)).toEqual([stored?.refreshToken]);
        seen.add(stored?.refreshToken ?? '');
        now += 1800 * 1000;
      }
      expect(seen.size).toBe(4);
      expect(fake.calls.count('POST', TOKEN)).toBe(3);
    });

    it('sends nothing to HubSpot when the database cannot take the write, and says DATABASE_UNAVAILABLE', async () => {
      fake.switches.rotateRefreshTokens = true;
      const { issued, installations } = await install(1000);
      const { tokens, database } = await instance();
      const allow = await refuseUpdates(database.db, database.dialect);
      await expect(tokens.accessTokenFor(account.portalId, card())).rejects.toMatchObject({ code: 'DATABASE_UNAVAILABLE' });
      expect(fake.calls.count('POST', TOKEN)).toBe(0);
      expect(fake.tokens.liveRefreshTokens(account.portalId)).toEqual([issued.refreshToken]);
      await allow();
      await expect(tokens.accessTokenFor(account.portalId, card())).resolves.toMatch(/^CNfake-/);
      expect(await installations.get(account.portalId)).toMatchObject({ status: 'active', refreshStartedAt: null });
    });

    it('keeps new tokens whose commit failed in memory and saves them first on the next attempt, without asking HubSpot again', async () => {
      fake.switches.rotateRefreshTokens = true;
      const { installations } = await install(1000);
      const { tokens, database } = await instance();
      const allow = await refuseUpdates(database.db, database.dialect, 'access_token_enc');
      await expect(tokens.accessTokenFor(account.portalId, card())).rejects.toMatchObject({ code: 'DATABASE_UNAVAILABLE' });
      expect(fake.calls.count('POST', TOKEN)).toBe(1);
      const [live] = fake.tokens.liveRefreshTokens(account.portalId);
      expect((await installations.get(account.portalId))?.refreshToken).not.toBe(live);
      await allow();
      const accessToken = await tokens.accessTokenFor(account.portalId, card());
      expect(await installations.get(account.portalId)).toMatchObject({ accessToken, refreshToken: live, status: 'active', refreshStartedAt: null });
      expect(fake.calls.count('POST', TOKEN)).toBe(1);
    });

    it('brings the install back when another instance tried the replaced token meanwhile and marked it needs_reinstall', async () => {
      fake.switches.rotateRefreshTokens = true;
      const { installations } = await install(1000);
      const first = await instance();
      const allow = await refuseUpdates(first.database.db, first.database.dialect, 'access_token_enc');
      await expect(first.tokens.accessTokenFor(account.portalId, card())).rejects.toMatchObject({ code: 'DATABASE_UNAVAILABLE' });
      await allow();
      const second = await instance();
      await expect(second.tokens.accessTokenFor(account.portalId, card())).rejects.toMatchObject({ code: 'INSTALL_NEEDS_REPAIR' });
      expect(await installations.get(account.portalId)).toMatchObject({ status: 'needs_reinstall' });
      now += 1000;
      const accessToken = await first.tokens.accessTokenFor(account.portalId, card());
      expect(await installations.get(account.portalId)).toMatchObject({ accessToken, status: 'active', statusReason: null });
      expect(fake.tokens.liveRefreshTokens(account.portalId)).toEqual([(await installations.get(account.portalId))?.refreshToken]);
      await expect(second.tokens.accessTokenFor(account.portalId, card())).resolves.toBe(accessToken);
    });

    it('tries again after a lost answer only through a fresh read of the row; without rotation that recovers', async () => {
      const { issued, installations } = await install(1000);
      fake.switches.tokenFaultNext(1, 'answer-lost');
      const { tokens } = await instance();
      await expect(tokens.accessTokenFor(account.portalId, card())).resolves.toMatch(/^CNfake-/);
      expect(fake.calls.all().map((call) => call.status)).toEqual([0, 200]);
      expect(await installations.get(account.portalId)).toMatchObject({ refreshToken: issued.refreshToken, status: 'active', refreshStartedAt: null });
    });

    it('under strict rotation, a lost answer is the documented loss: the retry is refused, the row re-read, and only then needs_reinstall', async () => {
      fake.switches.rotateRefreshTokens = true;
      const { installations } = await install(1000);
      fake.switches.tokenFaultNext(1, 'answer-lost');
      const { tokens } = await instance();
      await expect(tokens.accessTokenFor(account.portalId, card())).rejects.toMatchObject({ code: 'INSTALL_NEEDS_REPAIR' });
      expect(fake.calls.all().map((call) => call.status)).toEqual([0, 400]);
      const stored = await installations.get(account.portalId);
      expect(stored).toMatchObject({ status: 'needs_reinstall', refreshStartedAt: null });
      expect(stored?.statusReason).toContain('answer never reached the database');
    });

    it('records a refresh that may have reached HubSpot in the row, and the next process to refresh sees it', async () => {
      const { installations } = await install(1000);
      fake.switches.tokenFaultNext(2, 'answer-lost');
      const { tokens } = await instance();
      await expect(tokens.accessTokenFor(account.portalId, card())).rejects.toMatchObject({ code: 'HUBSPOT_UNAVAILABLE' });
      expect(fake.calls.count('POST', TOKEN)).toBe(2);
      expect((await installations.get(account.portalId))?.refreshStartedAt).toEqual(new Date(now));
      // A process that died mid-refresh leaves the same mark; without rotation the next refresh simply works.
      const { tokens: restarted } = await instance();
      await expect(restarted.accessTokenFor(account.portalId, card())).resolves.toMatch(/^CNfake-/);
      expect(await installations.get(account.portalId)).toMatchObject({ status: 'active', refreshStartedAt: null });
    });

    it('after a refusal that follows an uncertain refresh, retries with what the database holds when it holds something newer', async () => {
      fake.switches.rotateRefreshTokens = true;
      const { issued, installations } = await install(1000);
      // A process died mid-refresh after HubSpot rotated (its mark is in the row); the tokens it lost are then saved by
      // another path while this instance's first attempt is under way, as another instance's rescue would be.
      const rotated = await refreshAtHubSpot(issued.refreshToken);
      await installations.withRefreshLock(account.portalId, (locked) => locked.markRefreshStarted(account.portalId, new Date(now)));
      let landed: Promise<void> | undefined;
      const { tokens } = await instance((oauth) => ({
        ...oauth,
        async refresh(portalId, refreshToken) {
          if (landed !== undefined) return oauth.refresh(portalId, refreshToken);
          landed = installations.saveRefreshedTokens(
            portalId,
            { accessToken: rotated.access_token, refreshToken: rotated.refresh_token, accessTokenExpiresAt: new Date(now + 1000) },
            new Date(now),
          );
          // SQLite: the write lands now. PostgreSQL: it queues behind the row lock this attempt holds; once it waits there,
          // it lands before the next attempt takes the lock.
          if (target.name === 'sqlite') await landed;
          else await untilAnUpdateWaitsForALock(databases[0]!.db);
          return oauth.refresh(portalId, refreshToken);
        },
      }));
      await expect(tokens.accessTokenFor(account.portalId, card())).resolves.toMatch(/^CNfake-/);
      expect(fake.calls.all().map((call) => call.status)).toEqual([200, 400, 200]);
      expect(await installations.get(account.portalId)).toMatchObject({ status: 'active', refreshStartedAt: null });
      expect(fake.tokens.liveRefreshTokens(account.portalId)).toEqual([(await installations.get(account.portalId))?.refreshToken]);
    });
  });
});

describe('which failed refreshes may have reached HubSpot', () => {
  const connection = (code: string) => new TypeError('fetch failed', { cause: Object.assign(new Error(code), { code }) });
  it.each([
    ['a 5xx answer', new AppError('HUBSPOT_UNAVAILABLE', { cause: new HubSpotHttpError(502, {}, {}) }), true],
    ['a reset after sending', new AppError('HUBSPOT_UNAVAILABLE', { cause: connection('UND_ERR_SOCKET') }), true],
    ['a timeout', new AppError('HUBSPOT_UNAVAILABLE', { cause: new DOMException('timed out', 'TimeoutError') }), true],
    ['a 200 we could not read', new AppError('HUBSPOT_RESPONSE_INVALID'), true],
    ['a connection refused', new AppError('HUBSPOT_UNAVAILABLE', { cause: connection('ECONNREFUSED') }), false],
    ['a 429', new AppError('HUBSPOT_RATE_LIMITED', { cause: new HubSpotHttpError(429, {}, {}) }), false],
    ['another 4xx refusal', new AppError('HUBSPOT_UNAVAILABLE', { cause: new HubSpotHttpError(400, {}, {}) }), false],
    ['invalid_grant', new InvalidGrantError(undefined), false],
  ])('%s', (_name, error, reached) => {
    expect(refreshMayHaveReachedHubSpot(error)).toBe(reached);
  });
});
