import { randomBytes } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildBackend } from '../../backend/src/app.js';
import { loadConfig, type Config } from '../../backend/src/config.js';
import { Deadline } from '../../backend/src/hubspot/deadline.js';
import { createPostgresChangeFeed } from '../../backend/src/instances/change-feed.js';
import {
  createInstallationStore,
  createPolicyStore,
  INSTALLATION_TOPIC,
  openDatabase,
  TokenCipher,
  type StoreDatabase,
} from '../../backend/src/store/index.js';
import { createLocalChangeFeed } from '../../backend/src/instances/change-feed.js';
import { createQueryCounter, type QueryCounter } from '../../bench/instruments.js';
import { createFakeHubSpot, loadSeed, type FakeHubSpot } from '../hubspot-fake/index.js';
import { startHarness, TEST_APP, type Harness } from '../support/harness.js';
import { withHubSpotIdentity } from '../support/hubspot-fetch.js';
import { mirrorPolicy } from '../support/mirror-policy.js';
import { signedRequest } from '../support/signing.js';
import { databaseTargets } from '../storage/databases.js';

/**
 * A warm record view asks HubSpot for the record alone (its owner decides access) and reads nothing from the database;
 * everything else it needs is held in memory within a stated bound, and dropped on every change we can see: here, each
 * of those bounds and changes, and the calls a view makes, counted where they happen (the local HubSpot, and the
 * benchmark's query counter on the backend's database handle).
 */
const northwind = loadSeed().accounts[0]!;
const P = northwind.portalId;
const user = (first: string) => northwind.users.find((candidate) => candidate.firstName === first)!;
const [ana, bob, carla] = [user('Ana'), user('Bob'), user('Carla')];
const ownerOf = (first: string) => northwind.owners.find((owner) => owner.userId === user(first).id)!.id;
const PUBLIC_BASE_URL = 'http://viewer-guard.test';
const TICKET_ROUTE = 'GET /crm/objects/2026-03/tickets/:ticketId';
const PERMISSIONS_ROUTE = 'GET /resource-permissions/v3/permitted-users';
const PIPELINE_ROUTE = 'GET /crm/pipelines/2026-03/:objectType/:pipelineId';
const TOKEN_ROUTE = 'POST /oauth/2026-03/token';
/** Views the seeded levels allow (so none is refused, and audited): Bob's own tickets, and Carla's team's. */
const ALLOWED: Array<[number, string]> = [
  [bob.id, '5002'],
  [bob.id, '5007'],
  [bob.id, '5014'],
  [carla.id, '5001'],
  [carla.id, '5003'],
  [carla.id, '5010'],
];

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const routes = (fake: FakeHubSpot) => fake.calls.all().map((call) => `${call.method} ${call.route}`);
const statuses = (fake: FakeHubSpot) => fake.calls.all().map((call) => call.status);

interface Backend {
  app: FastifyInstance;
  database: StoreDatabase;
  config: Config;
  view(userId: number, ticketId: string): Promise<LightMyRequestResponse>;
  signed(input: { method?: 'GET' | 'POST'; path: string; userId: number }): Promise<LightMyRequestResponse>;
}

/** One backend on `databaseUrl` (a connection of its own) and the shared local HubSpot, on its own clock. */
async function backendOn(
  fake: FakeHubSpot,
  databaseUrl: string,
  options: { accessSource: string; now?: () => number; counter?: QueryCounter },
): Promise<Backend> {
  const now = options.now ?? Date.now;
  const config = loadConfig({
    HUBSPOT_CLIENT_ID: TEST_APP.clientId,
    HUBSPOT_CLIENT_SECRET: TEST_APP.clientSecret,
    HUBSPOT_APP_ID: String(TEST_APP.appId),
    PUBLIC_BASE_URL,
    HUBSPOT_API_BASE_URL: fake.url,
    DATABASE_URL: databaseUrl,
    ACCESS_SOURCE: options.accessSource,
  });
  const database = await openDatabase(config.databaseUrl);
  cleanups.push(() => database.close());
  const counted = options.counter === undefined ? database : { ...database, db: database.db.withPlugin(options.counter.plugin) };
  const app = await buildBackend({ config, database: counted, tokenKeys: [TOKEN_KEY], now });
  cleanups.push(() => app.close());
  await app.ready();
  const signed: Backend['signed'] = ({ method = 'GET', path, userId }) =>
    app.inject(
      signedRequest({
        clientSecret: TEST_APP.clientSecret,
        publicBaseUrl: PUBLIC_BASE_URL,
        method,
        path: withHubSpotIdentity(path, { portalId: P, userId, appId: TEST_APP.appId }),
        timestamp: now(),
      }),
    );
  return { app, database, config, signed, view: (userId, ticketId) => signed({ path: `/api/v1/records/tickets/${ticketId}/access`, userId }) };
}

const TOKEN_KEY = randomBytes(32);

async function localHubSpot(now?: () => number): Promise<FakeHubSpot> {
  const fake = createFakeHubSpot({ app: TEST_APP, ...(now === undefined ? {} : { now }) });
  await fake.listen();
  cleanups.push(() => fake.close());
  return fake;
}

/** Installed straight into the database, before any backend has read it, with the admin's levels mirrored. */
async function install(fake: FakeHubSpot, backend: Backend): Promise<string> {
  const tokens = fake.tokens.issue(P, ana.id);
  await createInstallationStore(backend.database.db, new TokenCipher([TOKEN_KEY]), backend.database.dialect).saveInstall(
    {
      portalId: P,
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
      accessTokenExpiresAt: new Date(Date.now() + 1_800_000),
      scopes: [...backend.config.hubspot.requiredScopes],
      installedByUserId: ana.id,
    },
    new Date(),
  );
  await createPolicyStore(backend.database.db, createLocalChangeFeed()).save(P, mirrorPolicy(northwind), ana.id, new Date());
  return tokens.accessToken;
}

describe('a warm ticket view, counted', () => {
  it.each(['policy', 'auto'] as const)('asks HubSpot for the ticket alone and reads nothing from the database (ACCESS_SOURCE=%s)', async (accessSource) => {
    const fake = await localHubSpot();
    const sqlite = databaseTargets.find((target) => target.name === 'sqlite')!;
    const file = await sqlite.create();
    cleanups.push(file.cleanup);
    const counter = createQueryCounter();
    const backend = await backendOn(fake, file.url, { accessSource, counter });
    await install(fake, backend);
    // Cold: each viewer's profile, the owners and teams, the pipeline, the install token and HubSpot's answers.
    for (const [userId, ticketId] of ALLOWED) expect((await backend.view(userId, ticketId)).statusCode).toBe(200);
    fake.calls.reset();
    counter.reset();

    for (let round = 0; round < 3; round += 1) {
      for (const [userId, ticketId] of ALLOWED) {
        const answer = await backend.view(userId, ticketId);
        expect(answer.statusCode).toBe(200);
        expect(answer.json().record.stages.map((stage: { id: string }) => stage.id)).toEqual(['1', '2', '3', '4']);
      }
    }
    expect(routes(fake)).toEqual(Array.from({ length: 3 * ALLOWED.length }, () => TICKET_ROUTE));
    expect(counter.counts()).toEqual({ total: 0, byStatement: {}, policyDocumentsRead: 0 });
  });
});

describe('HubSpot’s answer about a record (ACCESS_SOURCE=auto), once it has expired', () => {
  let clock = Date.now();
  async function started(): Promise<Harness> {
    clock = Date.now();
    const h = await startHarness({ now: () => clock });
    cleanups.push(() => h.close());
    await h.installDirect(P, ana.id);
    return h;
  }
  const view = (h: Harness, userId: number, ticketId: string) => h.signed({ path: `/api/v1/records/tickets/${ticketId}/access`, portalId: P, userId });

  it('is asked for alongside the record, not after it, under the owner the record had', async () => {
    const h = await started();
    expect((await view(h, bob.id, '5002')).statusCode).toBe(200);
    // Past the answer's 30 s, within the viewer's 60 s: the record and HubSpot's answer are all a view needs.
    clock += 31_000;
    h.fake.calls.reset();
    // The ticket takes its time: a permissions call made after it could not be answered before it.
    h.fake.switches.timeoutNext(1, { pathPrefix: '/crm/objects/2026-03/tickets/5002', forMs: 300 });
    const pending = view(h, bob.id, '5002');
    await vi.waitFor(() => expect(routes(h.fake)).toContain(PERMISSIONS_ROUTE), { timeout: 5_000, interval: 5 });
    expect(routes(h.fake)).not.toContain(TICKET_ROUTE);
    expect((await pending).statusCode).toBe(200);
    expect(routes(h.fake).sort()).toEqual([PERMISSIONS_ROUTE, TICKET_ROUTE].sort());
  });

  it('is not used when the record turns out to have another owner: a reassignment meanwhile is seen at once', async () => {
    const h = await started();
    expect((await view(h, bob.id, '5002')).statusCode).toBe(200);
    clock += 31_000;
    h.fake.world.reassign(P, 'tickets', '5002', ownerOf('Ana'));
    h.fake.calls.reset();
    const refused = await view(h, bob.id, '5002');
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('DENIED_BY_HUBSPOT');
    // The answer asked for under Bob is dropped; HubSpot is asked again about the record as Ana's.
    expect(routes(h.fake).sort()).toEqual([PERMISSIONS_ROUTE, PERMISSIONS_ROUTE, TICKET_ROUTE].sort());
  });
});

/** A policy-mode backend on a clock the test moves (from now), installed, with the mirrored levels saved. */
async function startedOn(clock: { now: number }): Promise<Harness> {
  clock.now = Date.now();
  const h = await startHarness({ now: () => clock.now, env: { ACCESS_SOURCE: 'policy' } });
  cleanups.push(() => h.close());
  await h.installDirect(P, ana.id);
  expect((await h.signed({ method: 'PUT', path: '/api/v1/admin/policy', portalId: P, userId: ana.id, body: mirrorPolicy(northwind) })).statusCode).toBe(200);
  return h;
}

describe('pipeline stages, held for minutes', () => {
  const clock = { now: Date.now() };
  const started = () => startedOn(clock);
  const stagesSeen = async (h: Harness) => {
    const answer = await h.signed({ path: '/api/v1/records/tickets/5002/access', portalId: P, userId: bob.id });
    expect(answer.statusCode).toBe(200);
    return answer.json().record.stages.map((stage: { id: string }) => stage.id) as string[];
  };
  const pipelineReads = (h: Harness) => routes(h.fake).filter((route) => route === PIPELINE_ROUTE).length;
  const moveInHubSpot = (h: Harness, stageId: string) => {
    h.fake.state.account(P)!.tickets.find((ticket) => ticket.id === '5002')!.properties.hs_pipeline_stage = stageId;
  };

  it('are read again as soon as a ticket names a stage added in HubSpot since', async () => {
    const h = await started();
    expect(await stagesSeen(h)).toEqual(['1', '2', '3', '4']);
    h.fake.calls.reset();
    expect(await stagesSeen(h)).toEqual(['1', '2', '3', '4']);
    expect(pipelineReads(h)).toBe(0);

    h.fake.state.account(P)!.ticketPipelines[0]!.stages.push({ id: '5', label: 'Escalated', ticketState: 'OPEN' });
    moveInHubSpot(h, '5');
    expect(await stagesSeen(h)).toEqual(['1', '2', '3', '4', '5']);
    expect(await stagesSeen(h)).toEqual(['1', '2', '3', '4', '5']);
    expect(pipelineReads(h)).toBe(1);

    // And a stage added to the pipeline is offered to a card that names none new within the 5 minutes.
    h.fake.state.account(P)!.ticketPipelines[0]!.stages.push({ id: '6', label: 'Waiting on us', ticketState: 'OPEN' });
    clock.now += 5 * 60_000 + 1_000;
    expect(await stagesSeen(h)).toEqual(['1', '2', '3', '4', '5', '6']);
    expect(pipelineReads(h)).toBe(2);
  });

  it('are read again for a stage still unknown (archived, say) at most every 30 s', async () => {
    const h = await started();
    await stagesSeen(h);
    moveInHubSpot(h, '77');
    h.fake.calls.reset();
    for (let view = 0; view < 3; view += 1) await stagesSeen(h);
    expect(pipelineReads(h)).toBe(1);
    clock.now += 31_000;
    for (let view = 0; view < 3; view += 1) await stagesSeen(h);
    expect(pipelineReads(h)).toBe(2);
  });

  it('are read again when a move names a stage the cached pipeline lacks, before it is refused', async () => {
    const h = await started();
    await stagesSeen(h);
    h.fake.state.account(P)!.ticketPipelines[0]!.stages.push({ id: '5', label: 'Escalated', ticketState: 'OPEN' });
    const moved = await h.signed({ method: 'POST', path: '/api/v1/tickets/5002/stage', portalId: P, userId: bob.id, body: { stageId: '5' } });
    expect(moved.statusCode).toBe(200);
    expect(moved.json().result.stageId).toBe('5');
  });
});

describe('the install token, held in memory', () => {
  const clock = { now: Date.now() };
  const started = () => startedOn(clock);
  const view = (h: Harness) => h.signed({ path: '/api/v1/records/tickets/5002/access', portalId: P, userId: bob.id });

  it('is not used past the refresh margin: the token manager refreshes it then, once, and the new one is held', async () => {
    const h = await started();
    expect((await view(h)).statusCode).toBe(200);
    // The token lives 30 minutes; it is refreshed 5 minutes (TOKEN_REFRESH_MARGIN_SECONDS) before it ends.
    clock.now += 26 * 60_000;
    h.fake.calls.reset();
    expect((await view(h)).statusCode).toBe(200);
    expect((await view(h)).statusCode).toBe(200);
    expect(routes(h.fake).filter((route) => route === TOKEN_ROUTE)).toHaveLength(1);
    expect(statuses(h.fake).every((status) => status === 200)).toBe(true);
  });

  it('is dropped when HubSpot refuses it (401), and the row read again: a change no feed announced is used at once', async () => {
    const h = await started();
    expect((await view(h)).statusCode).toBe(200);
    // Written past the backend's feed, as a tool would: the old token stops working, the row holds a new one.
    h.fake.tokens.expireAccessTokens();
    await h.installDirect(P, ana.id);
    h.fake.calls.reset();
    expect((await view(h)).statusCode).toBe(200);
    expect(statuses(h.fake)).toEqual([401, 200]);
    h.fake.calls.reset();
    expect((await view(h)).statusCode).toBe(200);
    expect(statuses(h.fake)).toEqual([200]);
  });

  it('is not kept once HubSpot refuses it and the row holds no other: the refusal stands', async () => {
    const h = await started();
    expect((await view(h)).statusCode).toBe(200);
    h.fake.tokens.revokeInstall(P);
    const refused = await view(h);
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.code).toBe('INSTALL_NEEDS_REPAIR');
  });
});

/**
 * Two instances sharing one database and the local HubSpot, each on its own connection and its own clock. A change one
 * instance makes to the install (a refresh, a disconnect) reaches the other: on PostgreSQL through the change feed,
 * delivered to every instance at the commit; on SQLite (one process by design, but a CLI or a second process may write
 * to the file) through the database's own count of other connections' commits.
 */
describe.each(databaseTargets)('another instance’s changes to the install ($title)', (target) => {
  describe.skipIf(target.skip)(target.name, () => {
    /** On PostgreSQL, resolves once a listener of our own has heard the change: every instance has been sent it then. */
    async function heardBy(databaseUrl: string): Promise<() => Promise<void>> {
      if (target.name === 'sqlite') return async () => undefined;
      const witness = createPostgresChangeFeed({ connectionString: databaseUrl, log: { info: () => undefined, warn: () => undefined } });
      let heard = 0;
      witness.subscribe(INSTALLATION_TOPIC, () => (heard += 1));
      await witness.start();
      cleanups.push(() => witness.close());
      return async () => {
        await vi.waitFor(() => expect(heard).toBeGreaterThan(0), { timeout: 5_000, interval: 10 });
        heard = 0;
        // The instances' listeners share this process's event loop with the witness: one more turn for them.
        await new Promise((resolve) => setTimeout(resolve, 20));
      };
    }

    async function pair() {
      const fake = await localHubSpot();
      const database = await target.create();
      cleanups.push(database.cleanup);
      let clockA = Date.now();
      const a = await backendOn(fake, database.url, { accessSource: 'policy', now: () => clockA });
      const b = await backendOn(fake, database.url, { accessSource: 'policy' });
      const firstToken = await install(fake, a);
      return { fake, a, b, firstToken, url: database.url, advanceA: (ms: number) => (clockA = Date.now() + ms) };
    }

    it('a disconnect through instance A: instance B’s next request says the app is not installed', async () => {
      const { a, b, url } = await pair();
      const heard = await heardBy(url);
      // B has the viewer and the token in memory: its /me needs nothing from HubSpot or the database.
      expect((await b.signed({ path: '/api/v1/me', userId: bob.id })).statusCode).toBe(200);
      expect((await b.signed({ path: '/api/v1/me', userId: bob.id })).statusCode).toBe(200);

      expect((await a.signed({ method: 'POST', path: '/api/v1/admin/disconnect', userId: ana.id })).statusCode).toBe(200);
      await heard();
      const after = await b.signed({ path: '/api/v1/me', userId: bob.id });
      expect(after.statusCode).toBe(409);
      expect(after.json().error.code).toBe('NOT_INSTALLED');
    });

    it('a refresh by instance A: instance B uses the new token from its next request on', async () => {
      const { fake, a, b, firstToken, url, advanceA } = await pair();
      const heard = await heardBy(url);
      expect((await b.view(bob.id, '5002')).statusCode).toBe(200);
      expect((await a.view(bob.id, '5002')).statusCode).toBe(200);

      // A's clock reaches the refresh margin first; by B's, the token it holds is far from it.
      advanceA(26 * 60_000);
      fake.calls.reset();
      expect((await a.view(bob.id, '5002')).statusCode).toBe(200);
      expect(routes(fake).filter((route) => route === TOKEN_ROUTE)).toHaveLength(1);
      await heard();
      // The old token is no longer accepted: had B kept it, HubSpot would answer B 401.
      fake.state.accessTokens.delete(firstToken);
      fake.calls.reset();
      expect((await b.view(bob.id, '5002')).statusCode).toBe(200);
      expect(fake.calls.all().map((call) => `${call.status} ${call.method} ${call.route}`)).toEqual([`200 ${TICKET_ROUTE}`]);
    });
  });
});

describe('a wait on work the deadline abandons', () => {
  it('still watches that work when the deadline had ended before the wait began: its later failure is handled', async () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    try {
      const deadline = new Deadline({ budgetMs: 0, attemptCapMs: 0 }, 'the test');
      await vi.waitFor(() => expect(deadline.signal.aborted).toBe(true));
      let fail: (error: Error) => void = () => undefined;
      const work = new Promise<never>((_resolve, reject) => (fail = reject));
      await expect(deadline.wait(work, 'The work took too long')).rejects.toMatchObject({ code: 'HUBSPOT_UNAVAILABLE' });
      const attempt = deadline.attempt(false);
      const attempted = new Promise<never>((_resolve, reject) => attempt.signal.addEventListener('abort', () => reject(new Error('aborted'))));
      await expect(attempt.guard(attempted)).rejects.toBeInstanceOf(Error);
      attempt.end();
      fail(new Error('the abandoned work failed afterwards'));
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', record);
    }
  });
});
