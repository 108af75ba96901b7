import { randomBytes } from 'node:crypto';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { buildBackend } from '../../backend/src/app.js';
import { loadConfig } from '../../backend/src/config.js';
import { migrateToLatest } from '../../backend/src/store/migrate.js';
import { createInstallationStore, createPolicyStore, TokenCipher } from '../../backend/src/store/index.js';
import { createLocalChangeFeed } from '../../backend/src/instances/change-feed.js';
import type { Tables } from '../../backend/src/store/schema.js';
import { createQueryCounter, median, quantile, summarizeCalls } from '../../bench/instruments.js';
import { createFakeHubSpot } from '../hubspot-fake/index.js';
import { TEST_APP } from '../support/harness.js';

/**
 * The benchmark's instruments count what they claim. The query counter is checked against an independent witness,
 * Kysely's own query log on the same connection: every statement the log sees, the counter counts, by kind and table.
 */

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * A migrated in-memory SQLite whose every executed statement is logged, and the same database seen through the counter.
 * Transaction control (begin, commit) is logged too but never passes through plugins: the counter does not claim it.
 */
async function countedDatabase() {
  const logged: string[] = [];
  const db = new Kysely<Tables>({
    dialect: new SqliteDialect({ database: new SQLite(':memory:') }),
    log: (event) => {
      if (event.level === 'query' && !/^(begin|commit|rollback)\b/i.test(event.query.sql)) logged.push(event.query.sql);
    },
  });
  cleanups.push(() => db.destroy());
  await migrateToLatest(db, 'sqlite');
  logged.length = 0;
  const counter = createQueryCounter();
  return { db, counted: db.withPlugin(counter.plugin), counter, logged };
}

const policy = { default: { tickets: { view: 'everything' as const } }, roles: {}, teams: {}, users: { '7': { tickets: { view: 'owned' as const } } } };

describe('the query counter (a Kysely plugin)', () => {
  it('counts each executed statement once, by kind and first table, as Kysely executes them', async () => {
    const { counted, counter, logged } = await countedDatabase();
    const installations = createInstallationStore(counted, new TokenCipher(randomBytes(32)), 'sqlite');
    const policies = createPolicyStore(counted, createLocalChangeFeed());

    await installations.get(1);
    // save: a select of the latest version and an insert, inside a transaction; current: however many reads the store makes.
    await policies.save(1, policy, 7, new Date());
    await policies.current(1);
    await sql`select 1`.execute(counted);

    expect(counter.counts().total).toBe(logged.length);
    const policyReads = logged.filter((query) => /^select\b.*\bfrom "policies"/is.test(query)).length;
    expect(policyReads).toBeGreaterThanOrEqual(2);
    expect(counter.counts().byStatement).toEqual({ 'select installations': 1, 'select policies': policyReads, 'insert policies': 1, 'raw (no table)': 1 });
  });

  it('counts a query with a subquery as one, and a query compiled but never run as none', async () => {
    const { counted, counter, logged } = await countedDatabase();
    const query = counted.selectFrom('policies').select('version').where('portal_id', 'in', counted.selectFrom('installations').select('portal_id'));
    query.compile();
    expect(counter.counts().total).toBe(0);

    await query.execute();
    expect(counter.counts()).toEqual({ total: 1, byStatement: { 'select policies': 1 }, policyDocumentsRead: 0 });
    expect(logged).toHaveLength(1);
  });

  it('counts each policy document read (a row of policies with its document), not policy queries without one', async () => {
    const { counted, counter } = await countedDatabase();
    const policies = createPolicyStore(counted, createLocalChangeFeed());
    await policies.save(1, policy, 7, new Date());
    await policies.save(1, policy, 7, new Date());
    counter.reset();

    await policies.history(1, 10);
    expect(counter.counts().policyDocumentsRead).toBe(2);
    await counted.selectFrom('policies').select('version').execute();
    expect(counter.counts()).toMatchObject({ total: 2, policyDocumentsRead: 2 });
  });

  it('sees the queries of a backend built on the counted handle, and nothing of the uncounted one', async () => {
    const { db, counted, counter, logged } = await countedDatabase();
    const config = loadConfig({
      HUBSPOT_CLIENT_ID: TEST_APP.clientId,
      HUBSPOT_CLIENT_SECRET: TEST_APP.clientSecret,
      HUBSPOT_APP_ID: String(TEST_APP.appId),
      DATABASE_URL: 'sqlite::memory:',
    });
    const app = await buildBackend({ config, database: { db: counted, dialect: 'sqlite', close: async () => undefined }, tokenKeys: [randomBytes(32)] });
    cleanups.push(() => app.close());

    // Ready checks the stored tokens and runs the retention purge; /readyz writes its heartbeat.
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    expect(counter.counts().total).toBe(logged.length);
    expect(counter.counts().byStatement['insert heartbeat']).toBe(1);

    await db.selectFrom('installations').selectAll().execute();
    expect(counter.counts().total).toBe(logged.length - 1);
  });
});

describe('the call summary (what the local HubSpot answered)', () => {
  it('counts each API call by method and route, and the answers that were not 2xx by status', async () => {
    const fake = createFakeHubSpot({ app: TEST_APP });
    const url = await fake.listen();
    cleanups.push(() => fake.close());
    const { accessToken } = fake.tokens.issue(10000001, 2001);
    const get = async (path: string) => (await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${accessToken}` } })).status;

    expect(await get('/crm/objects/2026-03/tickets/5001')).toBe(200);
    expect(await get('/crm/objects/2026-03/tickets/5002')).toBe(200);
    expect(await get('/crm/pipelines/2026-03/tickets/0')).toBe(200);
    expect(await get('/crm/objects/2026-03/tickets/999999')).toBe(404);

    expect(summarizeCalls(fake.calls.all())).toEqual({
      total: 4,
      byRoute: { 'GET /crm/objects/2026-03/tickets/:ticketId': 3, 'GET /crm/pipelines/2026-03/:objectType/:pipelineId': 1 },
      failures: { '404': 1 },
    });
  });
});

describe('statistics', () => {
  it('median averages the two middle values of an even count; quantile takes the nearest rank', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
    expect(quantile([10, 20, 30, 40], 0.5)).toBe(20);
    expect(quantile([10, 20, 30, 40], 0.99)).toBe(40);
  });
});
