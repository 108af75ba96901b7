import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PolicyDocument } from '../../backend/src/access/policy.js';
import { buildBackend } from '../../backend/src/app.js';
import { loadConfig } from '../../backend/src/config.js';
import { createPostgresChangeFeed } from '../../backend/src/instances/change-feed.js';
import { createSharedBudget } from '../../backend/src/instances/shared-budget.js';
import { HUBSPOT_LIMITS } from '../../backend/src/hubspot/scheduler.js';
import { createInstallationStore, openDatabase, TokenCipher, type StoreDatabase } from '../../backend/src/store/index.js';
import { createFakeHubSpot, loadSeed, type FakeHubSpot } from '../hubspot-fake/index.js';
import { freePort } from '../support/free-port.js';
import { TEST_APP } from '../support/harness.js';
import { withHubSpotIdentity } from '../support/hubspot-fetch.js';
import { mirrorPolicy } from '../support/mirror-policy.js';
import { signedRequest } from '../support/signing.js';
import { databaseTargets } from '../storage/databases.js';

const northwind = loadSeed().accounts[0]!;
const P = northwind.portalId;
const byName = (first: string) => northwind.users.find((user) => user.firstName === first)!;
const [ana, bob] = [byName('Ana'), byName('Bob')];
const postgres = databaseTargets.find((target) => target.name === 'postgres')!;
const redisUrl = process.env.TEST_REDIS_URL;
const PUBLIC_BASE_URL = 'http://viewer-guard.test';
/** How the change feed names this deployment's channel and its listeners' application_name (change-feed.ts). */
const CHANNEL_SQL = `select 'vg_' || md5(current_database() || '.' || current_schema()) as channel`;

interface Backend {
  app: FastifyInstance;
  database: StoreDatabase;
  signed(input: { method?: 'GET' | 'PUT'; path: string; userId: number; body?: unknown }): Promise<LightMyRequestResponse>;
}

interface Deployment {
  fake: FakeHubSpot;
  /** Two instances of one deployment: one PostgreSQL database (a schema of their own), one HubSpot app, one token key. */
  a: Backend;
  b: Backend;
  databaseUrl: string;
  close(): Promise<void>;
}

async function deployment(env: Record<string, string> = {}): Promise<Deployment> {
  const fake = createFakeHubSpot({ app: TEST_APP });
  const fakeUrl = await fake.listen();
  const target = await postgres.create();
  const tokenKey = randomBytes(32);
  const start = async (): Promise<Backend> => {
    const config = loadConfig({
      HUBSPOT_CLIENT_ID: TEST_APP.clientId,
      HUBSPOT_CLIENT_SECRET: TEST_APP.clientSecret,
      HUBSPOT_APP_ID: String(TEST_APP.appId),
      PUBLIC_BASE_URL,
      HUBSPOT_API_BASE_URL: fakeUrl,
      DATABASE_URL: target.url,
      ACCESS_SOURCE: 'policy',
      ...env,
    });
    // Each instance opens its own pool, as a separate process would.
    const database = await openDatabase(config.databaseUrl);
    const app = await buildBackend({ config, database, tokenKeys: [tokenKey] });
    await app.ready();
    return {
      app,
      database,
      signed: ({ method = 'GET', path, userId, body }) =>
        app.inject(
          signedRequest({
            clientSecret: TEST_APP.clientSecret,
            publicBaseUrl: PUBLIC_BASE_URL,
            method,
            path: withHubSpotIdentity(path, { portalId: P, userId, appId: TEST_APP.appId }),
            body,
            timestamp: Date.now(),
          }),
        ),
    };
  };
  const a = await start();
  const b = await start();
  const tokens = fake.tokens.issue(P, ana.id);
  await createInstallationStore(a.database.db, new TokenCipher(tokenKey), 'postgres').saveInstall(
    {
      portalId: P,
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
      accessTokenExpiresAt: new Date(Date.now() + 1_800_000),
      scopes: ['oauth', 'tickets'],
      installedByUserId: ana.id,
    },
    new Date(),
  );
  return {
    fake,
    a,
    b,
    databaseUrl: target.url,
    async close() {
      for (const backend of [a, b]) {
        await backend.app.close();
        await backend.database.close();
      }
      await fake.close();
      await target.cleanup();
    },
  };
}

/** Runs `sql` on a connection of its own to the deployment's database and schema. */
async function query<T extends pg.QueryResultRow>(databaseUrl: string, sql: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

async function queryOne<T extends pg.QueryResultRow>(databaseUrl: string, sql: string, values: unknown[] = []): Promise<T> {
  const [row] = await query<T>(databaseUrl, sql, values);
  if (row === undefined) throw new Error(`no row from ${sql}`);
  return row;
}

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const tickets = northwind.tickets.map((ticket) => ticket.id);

/**
 * Both instances at once: every user who may look at tickets opens ticket cards, `perInstance` on each backend. What
 * HubSpot must never see is more calls of the account than its window allows, which it answers 429.
 */
async function burst(d: Deployment, perInstance: number): Promise<LightMyRequestResponse[]> {
  const views = (backend: Backend) =>
    Array.from({ length: perInstance }, (_, i) => backend.signed({ path: `/api/v1/records/tickets/${tickets[i % tickets.length]}/access`, userId: ana.id }));
  return Promise.all([...views(d.a), ...views(d.b)]);
}

function expectAnsweredOrPaced(answers: LightMyRequestResponse[]) {
  for (const answer of answers.filter((candidate) => candidate.statusCode !== 200)) {
    expect(answer.statusCode).toBe(503);
    // Paced (HUBSPOT_RATE_LIMITED, with when to try again), or out of budget while waiting on a look-up another request
    // was making for the same viewer (HUBSPOT_UNAVAILABLE): both documented, both a retry.
    expect(['HUBSPOT_RATE_LIMITED', 'HUBSPOT_UNAVAILABLE'], JSON.stringify(answer.json())).toContain(answer.json().error.code);
  }
}

/** The account's window at the local HubSpot for these tests: small, so a burst of cards fills it several times. */
const WINDOW = { max: 12, windowMs: 1_500 };

describe.skipIf(postgres.skip)('several instances on one PostgreSQL database', () => {
  describe('one HubSpot budget per account', () => {
    let d: Deployment | undefined;
    afterEach(async () => {
      await d?.close();
      d = undefined;
    });

    for (const store of ['PostgreSQL', 'Redis'] as const) {
      it.skipIf(store === 'Redis' && redisUrl === undefined)(
        `never lets two instances together exceed the account's window, with the budget in ${store}${store === 'Redis' && redisUrl === undefined ? ' (skipped: set TEST_REDIS_URL=redis://...)' : ''}`,
        async () => {
          const deployed = await deployment(store === 'Redis' ? { REDIS_URL: redisUrl! } : {});
          d = deployed;
          deployed.fake.switches.rateLimits.general = WINDOW;
          deployed.fake.switches.latencyMs = 20;
          // Each instance learns the account's window from HubSpot's headers, as on any working day.
          for (const backend of [deployed.a, deployed.b])
            expect((await backend.signed({ path: '/api/v1/records/tickets/5001/access', userId: ana.id })).statusCode).toBe(200);
          deployed.fake.calls.reset();

          // A warm card view is one HubSpot call: twice the window's worth of views on each instance.
          const answers = await burst(deployed, 2 * WINDOW.max);
          const made = deployed.fake.calls.all().filter((call) => !call.route.endsWith('/search'));
          // The burst needed more than one window, so the instances had to hold calls back for each other...
          expect(made.length).toBeGreaterThan(WINDOW.max);
          // ...and HubSpot never saw more than its window: nothing answered 429.
          expect(made.filter((call) => call.status === 429)).toEqual([]);
          expectAnsweredOrPaced(answers);
          expect(answers.filter((answer) => answer.statusCode === 200).length).toBeGreaterThan(0);

          const { channel } = await queryOne<{ channel: string }>(deployed.databaseUrl, CHANNEL_SQL);
          const { rows } = await queryOne<{ rows: number }>(deployed.databaseUrl, 'select count(*)::int as rows from hubspot_budget');
          if (store === 'PostgreSQL') {
            expect(rows).toBeGreaterThan(0);
          } else {
            // The budget lived in Redis, under this deployment's own prefix; PostgreSQL kept none of it.
            expect(rows).toBe(0);
            const redis = new Redis(redisUrl!);
            try {
              const { name } = await queryOne<{ name: string }>(deployed.databaseUrl, `select current_database() || '.' || current_schema() as name`);
              const keys: string[] = [];
              let cursor = '0';
              do {
                const [next, found] = await redis.scan(cursor, 'MATCH', `viewer-guard:${name}:*`, 'COUNT', 1000);
                keys.push(...found);
                cursor = next;
              } while (cursor !== '0');
              expect(keys.length).toBeGreaterThan(0);
              if (keys.length > 0) await redis.del(...keys);
            } finally {
              redis.disconnect();
            }
          }
          expect(channel).toMatch(/^vg_[0-9a-f]{32}$/);
        },
        60_000,
      );
    }

    it("serves at once from an instance that has not yet learned the account's window while another has filled more than the default of it", async () => {
      const deployed = await deployment();
      d = deployed;
      // A window larger than HubSpot's documented default (110 per 10 s), as a higher tier's: instance A learns it from
      // HubSpot's headers on its first answer; instance B has made no call yet and knows only the default.
      deployed.fake.switches.rateLimits.general = { max: 400, windowMs: 10_000 };
      const viewsOnA = Array.from({ length: 150 }, (_, i) =>
        deployed.a.signed({ path: `/api/v1/records/tickets/${tickets[i % tickets.length]}/access`, userId: ana.id }),
      );
      expect((await Promise.all(viewsOnA)).every((answer) => answer.statusCode === 200)).toBe(true);
      expect(deployed.fake.calls.all().length).toBeGreaterThan(HUBSPOT_LIMITS.general.max);

      // Well within the window, so HubSpot would answer B's calls at once: B must not wait on slots A's calls hold.
      const answer = await deployed.b.signed({ path: '/api/v1/records/tickets/5001/access', userId: ana.id });
      expect(answer.statusCode, answer.body).toBe(200);
      expect(deployed.fake.calls.all().filter((call) => call.status === 429)).toEqual([]);
    }, 60_000);

    it('without a shared budget (each instance on a database of its own) the same burst is refused by HubSpot', async () => {
      // The control: what the test above guards against does happen when the instances do not share a budget.
      const fake = createFakeHubSpot({ app: TEST_APP });
      const fakeUrl = await fake.listen();
      fake.switches.rateLimits.general = WINDOW;
      fake.switches.latencyMs = 20;
      const alone = await Promise.all(
        [0, 1].map(async () => {
          const config = loadConfig({
            HUBSPOT_CLIENT_ID: TEST_APP.clientId,
            HUBSPOT_CLIENT_SECRET: TEST_APP.clientSecret,
            PUBLIC_BASE_URL,
            HUBSPOT_API_BASE_URL: fakeUrl,
            DATABASE_URL: 'sqlite::memory:',
            ACCESS_SOURCE: 'policy',
          });
          const database = await openDatabase(config.databaseUrl);
          const tokenKey = randomBytes(32);
          const tokens = fake.tokens.issue(P, ana.id);
          await createInstallationStore(database.db, new TokenCipher(tokenKey), 'sqlite').saveInstall(
            {
              portalId: P,
              accessToken: tokens.accessToken,
              refreshToken: tokens.refreshToken,
              accessTokenExpiresAt: new Date(Date.now() + 1_800_000),
              scopes: ['oauth', 'tickets'],
              installedByUserId: ana.id,
            },
            new Date(),
          );
          const app = await buildBackend({ config, database, tokenKeys: [tokenKey] });
          const signed: Backend['signed'] = ({ method = 'GET', path, userId, body }) =>
            app.inject(
              signedRequest({
                clientSecret: TEST_APP.clientSecret,
                publicBaseUrl: PUBLIC_BASE_URL,
                method,
                path: withHubSpotIdentity(path, { portalId: P, userId, appId: TEST_APP.appId }),
                body,
                timestamp: Date.now(),
              }),
            );
          return { app, database, signed };
        }),
      );
      d = {
        fake,
        a: alone[0]!,
        b: alone[1]!,
        databaseUrl: '',
        async close() {
          for (const backend of alone) {
            await backend.app.close();
            await backend.database.close();
          }
          await fake.close();
        },
      };
      for (const backend of alone) expect((await backend.signed({ path: '/api/v1/records/tickets/5001/access', userId: ana.id })).statusCode).toBe(200);
      d.fake.calls.reset();
      await burst(d, 10);
      expect(d.fake.calls.all().filter((call) => call.status === 429).length).toBeGreaterThan(0);
    }, 60_000);
  });

  describe("each other's policy changes", () => {
    let d: Deployment;
    beforeAll(async () => {
      d = await deployment();
    });
    afterAll(async () => d.close());

    const bobOpensAnasTicket = (backend: Backend) => backend.signed({ path: '/api/v1/records/tickets/5001/access', userId: bob.id });
    const withBobSeeing = (view: 'owned' | 'everything'): PolicyDocument => {
      const policy = mirrorPolicy(northwind);
      return { ...policy, users: { ...policy.users, [String(bob.id)]: { tickets: { view, edit: 'owned', delete: 'none' } } } };
    };
    const save = async (backend: Backend, view: 'owned' | 'everything') =>
      expect((await backend.signed({ method: 'PUT', path: '/api/v1/admin/policy', userId: ana.id, body: withBobSeeing(view) })).statusCode).toBe(200);
    const expectBobSees = async (backend: Backend, allowed: boolean) => {
      const answer = await bobOpensAnasTicket(backend);
      if (allowed) expect(answer.json().verdicts.view).toMatchObject({ allowed: true, source: 'policy' });
      else expect(answer.json().error).toMatchObject({ code: 'OWNED_ONLY_NOT_OWNER' });
    };

    it("uses a policy saved through instance A in instance B's very next decision, and the other way round", async () => {
      await save(d.a, 'owned');
      // B decides under the first version, and keeps it.
      await expectBobSees(d.b, false);
      await expectBobSees(d.b, false);
      await save(d.a, 'everything');
      await expectBobSees(d.b, true);
      await save(d.b, 'owned');
      await expectBobSees(d.a, false);
      await expectBobSees(d.b, false);
    });

    it('keeps deciding with the latest policy while its listener is cut off, and hears changes again once it is back', async () => {
      const { channel } = await queryOne<{ channel: string }>(d.databaseUrl, CHANNEL_SQL);
      const listeners = async () =>
        (
          await query<{ n: number }>(
            d.databaseUrl,
            'select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = $1',
            [channel],
          )
        )[0]!.n;
      expect(await listeners()).toBe(2);
      await save(d.a, 'owned');
      await expectBobSees(d.b, false);

      const { cut } = await queryOne<{ cut: number }>(
        d.databaseUrl,
        'select count(pg_terminate_backend(pid))::int as cut from pg_stat_activity where datname = current_database() and application_name = $1',
        [channel],
      );
      expect(cut).toBe(2);
      // Whether or not B has noticed yet, what it cached may not be used as it was.
      await save(d.a, 'everything');
      await expectBobSees(d.b, true);

      await until(async () => (await listeners()) === 2, 'both listeners are back');
      await save(d.a, 'owned');
      await expectBobSees(d.b, false);
      await save(d.b, 'everything');
      await expectBobSees(d.a, true);
    });
  });

  describe('the change feed', () => {
    let target: { url: string; cleanup: () => Promise<void> };
    let database: StoreDatabase;
    beforeAll(async () => {
      target = await postgres.create();
      database = await openDatabase(target.url);
    });
    afterAll(async () => {
      await database.close();
      await target.cleanup();
    });

    it('reconnects after its connection is terminated, under a new epoch, and delivers what is committed after', async () => {
      const warnings: string[] = [];
      const log = { info: () => undefined, warn: (_obj: object, msg: string) => warnings.push(msg) };
      const feed = createPostgresChangeFeed({ connectionString: target.url, log, reconnectDelayMs: 50 });
      const heard: number[] = [];
      feed.subscribe('policy', (portalId) => heard.push(portalId));
      try {
        await feed.start();
        const first = feed.epoch;
        expect(first).toBeDefined();
        await database.db.transaction().execute((trx) => feed.announce(trx, { topic: 'policy', portalId: 1 }));
        await until(async () => heard.includes(1), 'the first change is heard');

        const { channel } = await queryOne<{ channel: string }>(target.url, CHANNEL_SQL);
        await query(target.url, 'select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and application_name = $1', [
          channel,
        ]);
        await until(async () => feed.epoch !== undefined && feed.epoch !== first, 'the listener is back under a new epoch');
        expect(warnings).toHaveLength(1);

        await database.db.transaction().execute((trx) => feed.announce(trx, { topic: 'policy', portalId: 2 }));
        await until(async () => heard.includes(2), 'a change committed after the reconnect is heard');
        // A rolled-back change is never announced.
        await database.db
          .transaction()
          .execute(async (trx) => {
            await feed.announce(trx, { topic: 'policy', portalId: 3 });
            throw new Error('rolled back');
          })
          .catch(() => undefined);
        await database.db.transaction().execute((trx) => feed.announce(trx, { topic: 'policy', portalId: 4 }));
        await until(async () => heard.includes(4), 'the next change is heard');
        expect(heard).toEqual([1, 2, 4]);
      } finally {
        await feed.close();
      }
    });
  });
});

describe('the shared budget when its store cannot be reached', () => {
  it("pauses one window, then paces with this instance's share of it, and says so once", async () => {
    const warnings: string[] = [];
    // Nothing listens on port 1: every store operation fails at once.
    const pool = new pg.Pool({ connectionString: 'postgres://nobody@127.0.0.1:1/none', connectionTimeoutMillis: 200 });
    pool.on('error', () => undefined);
    const budget = createSharedBudget({
      store: { kind: 'postgres', pool },
      keyPrefix: async () => 'unreachable',
      instances: () => 3,
      log: { info: () => undefined, warn: (_obj, msg) => warnings.push(msg) },
    });
    try {
      const limit = { max: 7, intervalMs: 1_000, learned: true };
      // What the other instances started before the outage is out of sight: nothing starts until it has left the window.
      const first = await budget.take('1', 'general', limit, 0);
      expect(first).toMatchObject({ taken: false, retryAfterMs: expect.any(Number) });
      expect((first as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(1_000);
      expect(await budget.take('1', 'general', limit, 5_000)).toEqual({ taken: true });
      // Then a third of 7: two calls per window for this instance.
      expect(await budget.take('1', 'general', limit, 0)).toEqual({ taken: true });
      expect(await budget.take('1', 'general', limit, 0)).toMatchObject({ taken: false });
      expect(await budget.take('2', 'general', limit, 0)).toEqual({ taken: true });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/shared HubSpot budget unreachable/);
    } finally {
      await pool.end();
    }
  });
});

const redisServer = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((file) => existsSync(file));

describe.skipIf(redisServer === undefined)('the shared budget in a Redis that goes away and comes back', () => {
  it('falls back while Redis is gone and returns to it, by itself, once it is back', async () => {
    const port = await freePort();
    const serve = () => spawn(redisServer!, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const stop = async (server: ChildProcess) => {
      server.kill('SIGKILL');
      await new Promise((resolve) => server.once('exit', resolve));
    };
    let server = serve();
    const client = new Redis(`redis://127.0.0.1:${port}`, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    client.on('error', () => undefined);
    const logs: string[] = [];
    const budget = createSharedBudget({
      store: { kind: 'redis', client },
      keyPrefix: async () => 'vg-outage-test',
      instances: () => 2,
      log: { info: (_obj, msg) => logs.push(`info ${msg}`), warn: (_obj, msg) => logs.push(`warn ${msg}`) },
    });
    const limit = { max: 10, intervalMs: 1_000, learned: true };
    try {
      // Until the server listens, ioredis keeps reconnecting by itself.
      client.connect().catch(() => undefined);
      await until(async () => client.status === 'ready', 'Redis answers');
      expect(await budget.take('1', 'general', limit, 0)).toEqual({ taken: true });
      expect(await client.exists('vg-outage-test:slot:1:general:1')).toBe(1);

      await stop(server);
      await until(async () => client.status !== 'ready', 'the client sees Redis gone');
      // One window's pause first, then this instance's half of the window.
      expect(await budget.take('1', 'general', limit, 0)).toMatchObject({ taken: false });
      expect(await budget.take('1', 'general', limit, 5_000)).toEqual({ taken: true });
      expect(logs).toEqual([expect.stringMatching(/^warn shared HubSpot budget unreachable/)]);

      server = serve();
      await until(async () => client.status === 'ready', 'the client reconnected by itself');
      // The store is tried again a few seconds after it failed; this instance's own share still counts for a window.
      await until(async () => (await budget.take('2', 'general', limit, 5_000)).taken && logs.length === 2, 'the budget uses Redis again');
      expect(logs[1]).toBe('info shared HubSpot budget: reachable again');
      expect(await client.exists('vg-outage-test:seq:2:general')).toBe(1);
    } finally {
      client.disconnect();
      await stop(server);
    }
  }, 30_000);
});
