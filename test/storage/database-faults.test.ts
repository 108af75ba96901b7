import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, renameSync, unlinkSync } from 'node:fs';
import type { Kysely } from 'kysely';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import {
  checkReadiness,
  createInstallationStore,
  createPolicyStore,
  databaseFault,
  DatabaseFileChangedError,
  openDatabase,
  TokenCipher,
  type DatabaseFaultKind,
  type InstallationStore,
  type Tables,
} from '../../backend/src/store/index.js';
import { createLocalChangeFeed } from '../../backend/src/instances/change-feed.js';
import { postgresKysely } from '../../backend/src/store/postgres.js';
import { databaseTargets, readOnlyConnection } from './databases.js';

const PORTAL = 10000001;
const t0 = new Date('2026-11-01T10:00:00Z');
const coded = (code: string, message = `failure ${code}`) => Object.assign(new Error(message), { code });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('databaseFault', () => {
  it.each<[string, unknown, DatabaseFaultKind]>([
    ['connection refused', coded('ECONNREFUSED'), 'unreachable'],
    ['connection reset', coded('ECONNRESET'), 'unreachable'],
    ['a socket ended mid-query', new Error('Connection terminated unexpectedly'), 'unreachable'],
    ['a client used after its connection broke', new Error('Client has encountered a connection error and is not queryable'), 'unreachable'],
    ['a connection that did not open in time', new Error('Connection terminated due to connection timeout', { cause: new Error('x') }), 'unreachable'],
    ['every pooled client busy', new Error('timeout exceeded when trying to connect'), 'busy'],
    ['PostgreSQL shutting down (57P01)', coded('57P01', 'terminating connection due to administrator command'), 'unreachable'],
    ['PostgreSQL starting up (57P03)', coded('57P03', 'the database system is starting up'), 'unreachable'],
    ['a connection exception (08006)', coded('08006'), 'unreachable'],
    ['a read-only transaction (25006)', coded('25006', 'cannot execute INSERT in a read-only transaction'), 'read_only'],
    ['disk full (53100)', coded('53100', 'could not extend file'), 'full'],
    ['too many connections (53300)', coded('53300'), 'busy'],
    ['SQLITE_READONLY', coded('SQLITE_READONLY'), 'read_only'],
    ['SQLITE_READONLY_DIRECTORY', coded('SQLITE_READONLY_DIRECTORY'), 'read_only'],
    ['SQLITE_READONLY_DBMOVED', coded('SQLITE_READONLY_DBMOVED'), 'replaced'],
    ['SQLITE_FULL', coded('SQLITE_FULL'), 'full'],
    ['SQLITE_IOERR_WRITE', coded('SQLITE_IOERR_WRITE'), 'io_error'],
    ['SQLITE_CANTOPEN', coded('SQLITE_CANTOPEN'), 'unreachable'],
    ['SQLITE_NOTADB', coded('SQLITE_NOTADB'), 'damaged'],
    ['SQLITE_CORRUPT', coded('SQLITE_CORRUPT'), 'damaged'],
    ['SQLITE_BUSY', coded('SQLITE_BUSY'), 'busy'],
    ['a deleted SQLite file', new DatabaseFileChangedError('deleted'), 'replaced'],
    ['a cause', new Error('migration failed', { cause: coded('ECONNREFUSED') }), 'unreachable'],
    ['an AggregateError (several addresses)', new AggregateError([coded('ECONNREFUSED'), coded('ECONNREFUSED')]), 'unreachable'],
  ])('reads %s', (_name, error, kind) => {
    expect(databaseFault(error)?.kind).toBe(kind);
  });

  it.each<[string, unknown]>([
    ['a unique violation (23505)', coded('23505')],
    ['a missing table (42P01)', coded('42P01')],
    ['SQLITE_CONSTRAINT_PRIMARYKEY', coded('SQLITE_CONSTRAINT_PRIMARYKEY')],
    ['a programming error', new TypeError('x is not a function')],
    ['a non-error', 'ECONNREFUSED'],
    ['nothing', undefined],
  ])('leaves %s alone (a bug, not the database being away)', (_name, error) => {
    expect(databaseFault(error)).toBeUndefined();
  });

  it('says each fault in one plain sentence that names no host or file, with a retry hint', () => {
    for (const error of [coded('ECONNREFUSED', 'connect ECONNREFUSED 10.1.2.3:5432'), coded('SQLITE_FULL'), new DatabaseFileChangedError('replaced')]) {
      const fault = databaseFault(error);
      expect(fault?.reason).toMatch(/^[A-Z][^\n]*\.$/);
      expect(fault?.reason).not.toMatch(/10\.1\.2\.3|5432|\.db/);
      expect(fault?.retryAfterSeconds).toBeGreaterThan(0);
    }
    expect(databaseFault(new DatabaseFileChangedError('deleted'))?.reason).toMatch(/deleted or replaced/);
    expect(databaseFault(coded('25006'))?.reason).toMatch(/read-only/);
    expect(databaseFault(coded('SQLITE_FULL'))?.reason).toMatch(/disk space/);
    expect(databaseFault(coded('57P01'))?.reason).toMatch(/cannot reach/);
  });
});

const install = (store: InstallationStore, portalId = PORTAL) =>
  store.saveInstall(
    {
      portalId,
      accessToken: 'access',
      refreshToken: 'refresh',
      accessTokenExpiresAt: new Date(t0.getTime() + 1_800_000),
      scopes: ['oauth'],
      installedByUserId: 11,
    },
    t0,
  );

describe.each(databaseTargets)('database faults on $title', (target) => {
  describe.skipIf(target.skip)(target.name, () => {
    const cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });
    const fresh = async () => {
      const created = await target.create();
      cleanups.push(created.cleanup);
      const database = await openDatabase(created.url);
      cleanups.push(() => database.close());
      return { ...created, database };
    };
    const key = randomBytes(32);

    it('a read-only database answers reads, refuses writes as read_only, and fails readiness', async () => {
      const { database, ...created } = await fresh();
      await install(createInstallationStore(database.db, new TokenCipher(key), database.dialect));
      const readOnly = await readOnlyConnection(created);
      cleanups.push(() => readOnly.destroy());
      const store = createInstallationStore(readOnly, new TokenCipher(key), target.name);
      expect((await store.get(PORTAL))?.accessToken).toBe('access');
      const refused = await store.markStatus(PORTAL, 'needs_reinstall', null, t0).catch((error: unknown) => error);
      expect(databaseFault(refused)?.kind).toBe('read_only');
      const policySave = await createPolicyStore(readOnly, createLocalChangeFeed())
        .save(PORTAL, { default: { tickets: { view: 'owned' } }, roles: {}, teams: {}, users: {} }, 11, t0)
        .catch((error: unknown) => error);
      expect(databaseFault(policySave)?.kind).toBe('read_only');
      expect(databaseFault(await checkReadiness(readOnly, store, t0).catch((error: unknown) => error))?.kind).toBe('read_only');
      await expect(checkReadiness(database.db, createInstallationStore(database.db, new TokenCipher(key), database.dialect), t0)).resolves.toBeUndefined();
    });

    it.runIf(target.name === 'sqlite')('refuses every statement once the file is deleted, and never writes to the unlinked file', async () => {
      const { database, file } = await fresh();
      const store = createInstallationStore(database.db, new TokenCipher(key), database.dialect);
      await install(store);
      unlinkSync(file!);
      for (const attempt of [store.get(PORTAL), install(store, 10000002), checkReadiness(database.db, store, t0)]) {
        const error = await attempt.catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(DatabaseFileChangedError);
        expect(databaseFault(error)).toMatchObject({ kind: 'replaced', reason: expect.stringMatching(/deleted or replaced/) });
      }
      expect(existsSync(file!)).toBe(false);
    });

    it.runIf(target.name === 'sqlite')('refuses a file replaced under it, and uses the file again once it is put back', async () => {
      const { database, file } = await fresh();
      const store = createInstallationStore(database.db, new TokenCipher(key), database.dialect);
      await install(store);
      const path = file!;
      renameSync(path, `${path}.moved`);
      copyFileSync(`${path}.moved`, path); // same bytes, another file: a restore from a backup, a copy over it
      expect(await store.get(PORTAL).catch((error: unknown) => error)).toMatchObject({ how: 'replaced' });
      renameSync(`${path}.moved`, path); // the very file that was opened
      expect((await store.get(PORTAL))?.accessToken).toBe('access');
    });

    it.runIf(target.name === 'postgres')(
      'survives the server dropping a checked-out client mid-transaction, logs the loss once, and recovers by itself',
      async () => {
        const created = await target.create();
        cleanups.push(created.cleanup);
        const appName = `vg_fault_${randomBytes(4).toString('hex')}`;
        const url = new URL(created.url);
        url.searchParams.set('application_name', appName);
        const events: string[] = [];
        const log = {
          warn: (_: object, message: string) => events.push(`warn: ${message}`),
          info: (_: object, message: string) => events.push(`info: ${message}`),
        };
        const database = await openDatabase(url.toString(), { log });
        cleanups.push(() => database.close());
        const store = createInstallationStore(database.db, new TokenCipher(key), database.dialect);
        await install(store);

        const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
        await admin.connect();
        cleanups.push(() => admin.end());
        const terminateOurs = () => admin.query('select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1', [appName]);

        // The refresh lock holds a client in a transaction, as while HubSpot's token endpoint is being asked.
        const inLock = store.withRefreshLock(PORTAL, async (locked) => {
          await terminateOurs();
          await sleep(200); // the termination reaches the idle, checked-out client: without a listener, the process would end here
          return locked.get(PORTAL);
        });
        const failure = await inLock.catch((error: unknown) => error);
        expect(databaseFault(failure)?.kind).toBe('unreachable');

        // The broken client was discarded; the next queries get a fresh connection without anyone restarting anything.
        expect((await store.get(PORTAL))?.accessToken).toBe('access');
        await expect(store.withRefreshLock(PORTAL, async (locked) => (await locked.get(PORTAL))?.refreshToken)).resolves.toBe('refresh');
        expect(events).toEqual([
          'warn: PostgreSQL connection lost; requests answer 503 DATABASE_UNAVAILABLE until it is back',
          'info: PostgreSQL connection restored',
        ]);

        // Idle pooled clients dropped all at once (a server restart): one line, and the next query simply works.
        await Promise.all([store.get(PORTAL), store.get(PORTAL), store.get(PORTAL)]);
        await terminateOurs();
        await sleep(200);
        expect((await store.get(PORTAL))?.accessToken).toBe('access');
        expect(events.filter((line) => line.startsWith('warn'))).toHaveLength(2);
      },
    );
  });
});

describe('PostgreSQL that is not there', () => {
  it('fails a query as unreachable, quickly', async () => {
    const db: Kysely<Tables> = postgresKysely('postgres://postgres@127.0.0.1:1/none');
    try {
      const error = await db
        .selectFrom('installations')
        .selectAll()
        .execute()
        .catch((caught: unknown) => caught);
      expect(databaseFault(error)?.kind).toBe('unreachable');
    } finally {
      await db.destroy();
    }
  });
});
