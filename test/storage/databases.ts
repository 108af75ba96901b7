import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import { postgresKysely } from '../../backend/src/store/postgres.js';
import type { Tables } from '../../backend/src/store/schema.js';
import { sqliteKysely } from '../../backend/src/store/sqlite.js';

/**
 * The databases every storage suite runs against: SQLite in a temporary file always, PostgreSQL when
 * TEST_DATABASE_URL is set. Each PostgreSQL target gets a schema of its own (through search_path), so files
 * running in parallel never see each other's rows; dropped at the end.
 */
export interface DatabaseTarget {
  name: 'sqlite' | 'postgres';
  /** Skipped targets are still listed, with the reason in their title. */
  skip: boolean;
  title: string;
  /** A fresh, empty database URL for one test (or for several instances sharing it). */
  create(): Promise<{ url: string; file?: string; cleanup: () => Promise<void> }>;
}

const postgresUrl = process.env.TEST_DATABASE_URL;

export const databaseTargets: DatabaseTarget[] = [
  {
    name: 'sqlite',
    skip: false,
    title: 'SQLite',
    async create() {
      const dir = mkdtempSync(path.join(tmpdir(), 'viewer-guard-'));
      const file = path.join(dir, 'test.db');
      return { url: `sqlite:${file}`, file, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'postgres',
    skip: postgresUrl === undefined,
    title: postgresUrl === undefined ? 'PostgreSQL suite skipped: set TEST_DATABASE_URL=postgres://... to run it (npm run test:postgres)' : 'PostgreSQL',
    async create() {
      if (postgresUrl === undefined) throw new Error('TEST_DATABASE_URL is not set');
      const schema = `vg_test_${randomBytes(6).toString('hex')}`;
      const admin = new pg.Client({ connectionString: postgresUrl });
      await admin.connect();
      await admin.query(`create schema ${schema}`);
      await admin.end();
      const url = new URL(postgresUrl);
      url.searchParams.set('options', `-c search_path=${schema}`);
      return {
        url: url.toString(),
        async cleanup() {
          const client = new pg.Client({ connectionString: postgresUrl });
          await client.connect();
          await client.query(`drop schema ${schema} cascade`);
          await client.end();
        },
      };
    },
  },
];

/**
 * A second connection to a database made by `create()` that refuses every write as a read-only database does (SQLite:
 * `query_only`, answering SQLITE_READONLY; PostgreSQL: `default_transaction_read_only`, answering 25006), while the first
 * connection keeps writing. The schema must already be migrated.
 */
export async function readOnlyConnection(created: { url: string; file?: string }): Promise<Kysely<Tables>> {
  if (created.file !== undefined) {
    const db = sqliteKysely(created.file);
    await sql`pragma query_only = 1`.execute(db);
    return db;
  }
  const url = new URL(created.url);
  url.searchParams.set('options', `${url.searchParams.get('options') ?? ''} -c default_transaction_read_only=on`.trim());
  return postgresKysely(url.toString());
}
