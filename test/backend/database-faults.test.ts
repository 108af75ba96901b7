import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, renameSync, unlinkSync } from 'node:fs';
import { Writable } from 'node:stream';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { buildBackend } from '../../backend/src/app.js';
import { installThroughHubSpot } from '../../scripts/lib/install-flow.js';
import { startupProblem } from '../../backend/src/startup-problem.js';
import { createInstallationStore, openDatabase, TokenCipher, TokenKeyMismatchError } from '../../backend/src/store/index.js';
import { loadSeed } from '../hubspot-fake/index.js';
import { databaseTargets } from '../storage/databases.js';
import { startHarness, TEST_APP, type Harness } from '../support/harness.js';
import { withHubSpotIdentity } from '../support/hubspot-fetch.js';
import { signedRequest } from '../support/signing.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

const seed = loadSeed();
const [account, otherAccount] = seed.accounts as [(typeof seed.accounts)[0], (typeof seed.accounts)[0]];
const admin = account.users.find((user) => user.superAdmin && !user.deactivated)!;
const otherAdmin = otherAccount.users.find((user) => user.superAdmin && !user.deactivated)!;
const ticketId = account.tickets[0]!.id;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Log lines as objects, to assert what an operator would read. */
function capturedLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function harnessOn(url: string, options: Parameters<typeof startHarness>[0] = {}): Promise<Harness> {
  const harness = await startHarness({ databaseUrl: url, ...options });
  cleanups.push(() => harness.close());
  return harness;
}

/** Another backend process on the same database and the same local HubSpot, with keys of its own. */
async function anotherBackend(harness: Harness, keys: Buffer[], logger?: ReturnType<typeof capturedLogger>['logger']) {
  const database = await openDatabase(harness.config.databaseUrl);
  cleanups.push(() => database.close());
  const app: FastifyInstance = await buildBackend({ config: harness.config, database, tokenKeys: keys, ...(logger === undefined ? {} : { logger }) });
  cleanups.push(() => app.close());
  const me = (portalId = account.portalId, userId = admin.id): Promise<LightMyRequestResponse> =>
    app.inject(
      signedRequest({
        clientSecret: TEST_APP.clientSecret,
        publicBaseUrl: harness.backendUrl,
        method: 'GET',
        path: withHubSpotIdentity('/api/v1/me', { portalId, userId, appId: TEST_APP.appId }),
        timestamp: Date.now(),
      }),
    );
  return { app, database, me };
}

const me = (harness: Harness, portalId = account.portalId, userId = admin.id) => harness.signed({ path: '/api/v1/me', portalId, userId });
const addNote = (harness: Harness) =>
  harness.signed({ method: 'POST', path: `/api/v1/tickets/${ticketId}/notes`, portalId: account.portalId, userId: admin.id, body: { body: 'hello' } });
const readyz = (harness: Harness | { app: FastifyInstance }) => harness.app.inject({ method: 'GET', url: '/readyz' });

/** A 503 in the one error shape, with a retry hint in the body and the header. */
function expectUnavailable(response: LightMyRequestResponse, reason: RegExp) {
  expect(response.statusCode).toBe(503);
  const { error } = response.json();
  expect(error).toMatchObject({ code: 'DATABASE_UNAVAILABLE', message: expect.stringMatching(reason), retryAfter: expect.any(Number) });
  expect(response.headers['retry-after']).toBe(String(error.retryAfter));
}

const sqlite = databaseTargets.find((target) => target.name === 'sqlite')!;
const postgres = databaseTargets.find((target) => target.name === 'postgres')!;

describe('a SQLite database that cannot serve', () => {
  const fileHarness = async () => {
    const created = await sqlite.create();
    cleanups.push(created.cleanup);
    const harness = await harnessOn(created.url);
    await harness.installDirect(account.portalId, admin.id);
    return { harness, file: created.file! };
  };

  it('read-only: reads still answer, writes get 503 DATABASE_UNAVAILABLE (not INTERNAL), /readyz says so; all recover by themselves', async () => {
    const { harness } = await fileHarness();
    expect((await me(harness)).statusCode).toBe(200);
    await sql`pragma query_only = 1`.execute(harness.database.db);

    expect((await me(harness)).statusCode).toBe(200);
    expectUnavailable(await addNote(harness), /read-only/);
    const ready = await readyz(harness);
    expect(ready.statusCode).toBe(503);
    expect(ready.json().error).toMatchObject({ code: 'DATABASE_UNAVAILABLE', message: expect.stringMatching(/read-only/) });

    await sql`pragma query_only = 0`.execute(harness.database.db);
    expect((await readyz(harness)).statusCode).toBe(200);
    expect((await addNote(harness)).statusCode).toBe(200);
  });

  it('deleted under the running backend: every request refused as "deleted or replaced", nothing written to the unlinked file', async () => {
    const { harness, file } = await fileHarness();
    unlinkSync(file);
    expectUnavailable(await me(harness), /deleted or replaced/);
    expectUnavailable(await addNote(harness), /deleted or replaced/);
    const ready = await readyz(harness);
    expect(ready.statusCode).toBe(503);
    expect(ready.json().error.message).toMatch(/deleted or replaced/);
    expect(existsSync(file)).toBe(false);
  });

  it('replaced under the running backend: refused; the same file put back is served again', async () => {
    const { harness, file } = await fileHarness();
    renameSync(file, `${file}.aside`);
    copyFileSync(`${file}.aside`, file);
    expectUnavailable(await me(harness), /deleted or replaced/);
    renameSync(`${file}.aside`, file);
    expect((await me(harness)).statusCode).toBe(200);
    expect((await readyz(harness)).statusCode).toBe(200);
  });
});

describe.each(databaseTargets)('token keys through the backend on $title', (target) => {
  describe.skipIf(target.skip)(target.name, () => {
    const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];
    const freshHarness = async (keys: Buffer[]) => {
      const created = await target.create();
      cleanups.push(created.cleanup);
      return harnessOn(created.url, { tokenKeys: keys });
    };
    const storedKeyIsNewest = async (harness: Harness, keys: Buffer[]) => {
      const row = await harness.database.db.selectFrom('installations').select(['access_token_enc', 'refresh_token_enc']).executeTakeFirstOrThrow();
      const cipher = new TokenCipher(keys);
      return cipher.isCurrent(row.access_token_enc) && cipher.isCurrent(row.refresh_token_enc);
    };

    it('rotates end to end: old key -> [new, old] (resealed at start, counted in the log) -> [new]', async () => {
      const harness = await freshHarness([oldKey]);
      await harness.installDirect(account.portalId, admin.id);
      expect((await me(harness)).statusCode).toBe(200);

      const { logger, lines } = capturedLogger();
      const rotating = await anotherBackend(harness, [newKey, oldKey], logger);
      await rotating.app.ready();
      expect(lines).toContainEqual(expect.objectContaining({ level: 30, checked: 1, resealed: 1 }));
      expect(await storedKeyIsNewest(harness, [newKey])).toBe(true);
      expect((await rotating.me()).statusCode).toBe(200);

      const rotated = await anotherBackend(harness, [newKey]);
      expect((await rotated.me()).statusCode).toBe(200);
      expect((await readyz(rotated)).statusCode).toBe(200);
    });

    it('refuses to start when no configured key opens any stored install, in one line naming TOKEN_ENCRYPTION_KEYS', async () => {
      const harness = await freshHarness([oldKey]);
      await harness.installDirect(account.portalId, admin.id);
      const wrong = await anotherBackend(harness, [newKey]);
      const failure = await wrong.app.ready().then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(TokenKeyMismatchError);
      const line = startupProblem(failure, harness.config);
      expect(line).toMatch(/^TOKEN_ENCRYPTION_KEYS: the configured key does not open the stored install .*TOKEN_ENCRYPTION_KEYS=<new>,<old>/);
      expect(line).not.toContain('\n');
      for (const key of [oldKey, newKey]) expect(line).not.toContain(key.toString('hex'));
    });

    it("lost key: after the README's statement the backend starts, cards say INSTALL_NEEDS_REPAIR, and a reinstall reconnects", async () => {
      const harness = await freshHarness([oldKey]);
      await harness.installDirect(account.portalId, admin.id);
      await expect((await anotherBackend(harness, [newKey])).app.ready()).rejects.toThrow(TokenKeyMismatchError);

      // README "Lost key", verbatim.
      await sql
        .raw(
          `UPDATE installations SET access_token_enc = '', refresh_token_enc = '', access_token_expires_at = 0, status = 'needs_reinstall', ` +
            `status_reason = 'The token encryption key was lost: a Super Admin reinstalls Viewer Guard.' WHERE status <> 'uninstalled'`,
        )
        .execute(harness.database.db);

      const restarted = await anotherBackend(harness, [newKey]);
      await restarted.app.ready();
      const repair = await restarted.me();
      expect(repair.statusCode).toBe(409);
      expect(repair.json().error).toMatchObject({ code: 'INSTALL_NEEDS_REPAIR', link: `${harness.backendUrl}/` });
      // The harness's own backend shares the database; its keys do not matter to a reinstall, which seals afresh.
      const reinstall = await installThroughHubSpot({ backendUrl: harness.backendUrl, userId: admin.id });
      expect(reinstall.status).toBe(200);
    });

    it('starts when only some installs open, warns with the count, and answers those accounts 503 ENCRYPTION_KEY_MISMATCH', async () => {
      const harness = await freshHarness([newKey]);
      await harness.installDirect(account.portalId, admin.id);
      // Another account's install sealed with a key this deployment no longer has.
      const tokens = harness.fake.tokens.issue(otherAccount.portalId, otherAdmin.id);
      await createInstallationStore(harness.database.db, new TokenCipher(randomBytes(32)), harness.database.dialect).saveInstall(
        {
          portalId: otherAccount.portalId,
          accessToken: tokens.accessToken,
          refreshToken: tokens.refreshToken,
          accessTokenExpiresAt: new Date(Date.now() - 3_600_000),
          scopes: [...harness.config.hubspot.requiredScopes],
          installedByUserId: otherAdmin.id,
        },
        new Date(Date.now() - 86_400_000),
      );

      const { logger, lines } = capturedLogger();
      const backend = await anotherBackend(harness, [newKey], logger);
      await backend.app.ready();
      expect(lines).toContainEqual(expect.objectContaining({ level: 40, unreadable: 1, checked: 2 }));
      expect((await backend.me()).statusCode).toBe(200);
      const refused = await backend.me(otherAccount.portalId, otherAdmin.id);
      expect(refused.statusCode).toBe(503);
      expect(refused.json().error).toMatchObject({ code: 'ENCRYPTION_KEY_MISMATCH', fix: expect.stringContaining('TOKEN_ENCRYPTION_KEYS') });
      expect((await readyz(backend)).statusCode).toBe(200);

      // The repair the answer names when the old key is lost: a Super Admin reinstalls, which replaces the unreadable install.
      const reinstall = await installThroughHubSpot({ backendUrl: harness.backendUrl, userId: otherAdmin.id });
      expect(reinstall.status).toBe(200);
      expect(reinstall.page).toContain('Viewer Guard is ready');
      expect((await backend.me(otherAccount.portalId, otherAdmin.id)).statusCode).toBe(200);
    });

    it('says ENCRYPTION_KEY_MISMATCH, on requests and /readyz, when another instance resealed with a key this one lacks', async () => {
      const harness = await freshHarness([oldKey]);
      await harness.installDirect(account.portalId, admin.id);
      expect((await me(harness)).statusCode).toBe(200);
      // The rotation procedure's steps taken out of order: the new key sealing before every instance can open it.
      await (await anotherBackend(harness, [newKey, oldKey])).app.ready();

      const refused = await me(harness);
      expect(refused.statusCode).toBe(503);
      expect(refused.json().error.code).toBe('ENCRYPTION_KEY_MISMATCH');
      const ready = await readyz(harness);
      expect(ready.statusCode).toBe(503);
      expect(ready.json().error).toMatchObject({ code: 'ENCRYPTION_KEY_MISMATCH', message: expect.stringMatching(/open none of the stored install/) });
    });
  });
});

describe.skipIf(postgres.skip)('PostgreSQL going away under the backend', () => {
  /** The backend reaches PostgreSQL through a proxy the test can cut, as a server stop looks to it. */
  const behindProxy = async (options: Parameters<typeof startHarness>[0] = {}) => {
    const created = await postgres.create();
    cleanups.push(created.cleanup);
    const url = new URL(created.url);
    const proxy: TcpProxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    cleanups.push(() => proxy.close());
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    const harness = await harnessOn(url.toString(), options);
    await harness.installDirect(account.portalId, admin.id);
    return { harness, proxy };
  };

  it('answers 503 DATABASE_UNAVAILABLE with a retry hint while it is down, /readyz too, and recovers by itself', async () => {
    const { harness, proxy } = await behindProxy();
    expect((await me(harness)).statusCode).toBe(200);
    await proxy.cut();
    expectUnavailable(await me(harness), /cannot reach its database/);
    expectUnavailable(await addNote(harness), /cannot reach its database/);
    const ready = await readyz(harness);
    expect(ready.statusCode).toBe(503);
    expect(ready.json().error.code).toBe('DATABASE_UNAVAILABLE');

    await proxy.restore();
    expect((await me(harness)).statusCode).toBe(200);
    expect((await readyz(harness)).statusCode).toBe(200);
  });

  it('survives the connection dropping under a refresh transaction (a checked-out client), answers 503, then refreshes', async () => {
    let clock = Date.now();
    const { harness, proxy } = await behindProxy({ now: () => clock });
    clock += 3_600_000; // the install token is past its refresh margin: the next request refreshes under the row lock
    harness.fake.switches.latencyMs = 400;
    const during = me(harness);
    await sleep(150); // the refresh's transaction holds its client while HubSpot's token endpoint answers
    await proxy.cut();
    await sleep(100);
    await proxy.restore();
    const response = await during;
    expect(response.statusCode).toBe(503);
    expect(response.json().error.code).toBe('DATABASE_UNAVAILABLE');

    harness.fake.switches.latencyMs = 0;
    expect((await me(harness)).statusCode).toBe(200);
  });
});
