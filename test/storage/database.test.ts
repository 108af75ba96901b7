import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrationProvider } from '../../backend/src/store/migrations.js';
import { checkReadiness, createInstallationStore, openDatabase, TokenCipher, type StoreDatabase } from '../../backend/src/store/index.js';
import { databaseTargets } from './databases.js';

/** Kysely's migration lock id (kysely/dist/esm/dialect/postgres/postgres-adapter.js); if Kysely changes it, re-verify. */
const KYSELY_MIGRATION_LOCK_ID = '3853314791062309107';
const migrationCount = Object.keys(await migrationProvider.getMigrations()).length;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function appliedMigrations(database: StoreDatabase): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(database.db);
  return rows.map((row) => row.name);
}

describe('openDatabase', () => {
  it('refuses an unsupported URL, naming only its scheme', async () => {
    await expect(openDatabase('mysql://root:s3cret@db.example.com/app')).rejects.toThrow(/scheme mysql: is not supported/);
    await expect(openDatabase('mysql://root:s3cret@db.example.com/app')).rejects.not.toThrow(/s3cret/);
    await expect(openDatabase('./data/viewer-guard.db')).rejects.toThrow(/scheme \(none\) is not supported: use sqlite:<file>/);
    await expect(openDatabase('sqlite:')).rejects.toThrow(/needs a file/);
  });

  it('fails, rather than hangs, when PostgreSQL is unreachable', async () => {
    await expect(openDatabase('postgres://postgres@127.0.0.1:1/none')).rejects.toThrow();
  });

  it('opens sqlite::memory: with the schema in place', async () => {
    const database = await openDatabase('sqlite::memory:');
    try {
      expect(database.dialect).toBe('sqlite');
      expect(await appliedMigrations(database)).toHaveLength(migrationCount);
      expect(await database.db.selectFrom('installations').selectAll().execute()).toEqual([]);
    } finally {
      await database.close();
    }
  });

  describe('a SQLite file', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'viewer-guard-open-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('resolves a relative path against the working directory and creates its folder', async () => {
      const file = path.join(dir, 'nested', 'deeper', 'viewer-guard.db');
      const relative = path.relative(process.cwd(), file);
      expect(path.isAbsolute(relative)).toBe(false);
      const database = await openDatabase(`sqlite:${relative}`);
      await database.close();
      expect(existsSync(file)).toBe(true);
    });

    it('runs in WAL mode with foreign keys on and a busy timeout', async () => {
      const database = await openDatabase(`sqlite:${path.join(dir, 'pragmas.db')}`);
      try {
        const pragma = async (name: string) => (await sql.raw<Record<string, unknown>>(`pragma ${name}`).execute(database.db)).rows[0];
        expect(await pragma('journal_mode')).toEqual({ journal_mode: 'wal' });
        expect(await pragma('foreign_keys')).toEqual({ foreign_keys: 1 });
        expect(await pragma('busy_timeout')).toEqual({ timeout: 5000 });
      } finally {
        await database.close();
      }
    });
  });
});

describe.each(databaseTargets)('schema on $title', (target) => {
  describe.skipIf(target.skip)(target.name, () => {
    const cleanups: Array<() => Promise<void>> = [];
    const fresh = async () => {
      const created = await target.create();
      cleanups.push(created.cleanup);
      return created.url;
    };
    afterEach(async () => {
      await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
    });

    it('runs each migration once however often it is opened', async () => {
      const url = await fresh();
      const first = await openDatabase(url);
      const second = await openDatabase(url);
      try {
        expect(await appliedMigrations(second)).toEqual(Object.keys(await migrationProvider.getMigrations()).sort());
        expect(second.dialect).toBe(target.name);
      } finally {
        await Promise.all([first.close(), second.close()]);
      }
    });

    it('passes the readiness check by writing its heartbeat, and fails it once closed', async () => {
      const database = await openDatabase(await fresh());
      const installations = createInstallationStore(database.db, new TokenCipher(Buffer.alloc(32, 1)), database.dialect);
      const check = (at: number) => checkReadiness(database.db, installations, new Date(at));
      await expect(check(1_000)).resolves.toBeUndefined();
      await expect(check(2_000)).resolves.toBeUndefined();
      expect(await database.db.selectFrom('heartbeat').selectAll().execute()).toEqual([{ id: 1, checked_at: 2_000 }]);
      await database.close();
      await expect(check(3_000)).rejects.toThrow();
    });

    it.runIf(target.name === 'postgres')('migrates once when several instances start together', async () => {
      const url = await fresh();
      const databases = await Promise.all(Array.from({ length: 4 }, () => openDatabase(url)));
      try {
        expect(await appliedMigrations(databases[0]!)).toHaveLength(migrationCount);
      } finally {
        await Promise.all(databases.map((database) => database.close()));
      }
    });

    it.runIf(target.name === 'postgres')('waits for the migration lock another instance holds', async () => {
      const url = await fresh();
      const holder = new pg.Client({ connectionString: url });
      await holder.connect();
      try {
        await holder.query(`select pg_advisory_lock(${KYSELY_MIGRATION_LOCK_ID})`);
        let opened = false;
        const opening = openDatabase(url).then((database) => {
          opened = true;
          return database;
        });
        await sleep(300);
        expect(opened).toBe(false);
        await holder.query(`select pg_advisory_unlock(${KYSELY_MIGRATION_LOCK_ID})`);
        const database = await opening;
        expect(await appliedMigrations(database)).toHaveLength(migrationCount);
        await database.close();
      } finally {
        await holder.end();
      }
    });

    it.runIf(target.name === 'postgres')('keeps to its own schema when another schema already has migration tables', async () => {
      const other = await openDatabase(await fresh());
      const ours = await openDatabase(await fresh());
      try {
        expect(await appliedMigrations(ours)).toHaveLength(migrationCount);
        expect(await ours.db.selectFrom('installations').selectAll().execute()).toEqual([]);
      } finally {
        await Promise.all([other.close(), ours.close()]);
      }
    });

    it.runIf(target.name === 'postgres')('refuses an int8 that a JavaScript number cannot hold exactly', async () => {
      const database = await openDatabase(await fresh());
      try {
        const { rows } = await sql<{ ms: number }>`select 1798764000000::int8 as ms`.execute(database.db);
        expect(rows).toEqual([{ ms: 1798764000000 }]);
        await expect(sql`select 9007199254740993::int8 as n`.execute(database.db)).rejects.toThrow(/does not fit a JavaScript number/);
      } finally {
        await database.close();
      }
    });
  });
});
