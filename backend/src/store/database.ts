import { mkdirSync } from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { migrationProvider } from './migrations.js';
import type { Tables } from './schema.js';

export type Dialect = 'sqlite' | 'postgres';

export interface StoreDatabase {
  db: Kysely<Tables>;
  dialect: Dialect;
  close(): Promise<void>;
}

const INT8_OID = 20;

function sqliteDatabase(file: string): Kysely<Tables> {
  if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const database = new SQLite(file);
  // WAL lets readers proceed during a write; busy_timeout makes a second process wait instead of failing.
  database.pragma('journal_mode = WAL');
  database.pragma('foreign_keys = ON');
  database.pragma('busy_timeout = 5000');
  return new Kysely<Tables>({ dialect: new SqliteDialect({ database }) });
}

function postgresDatabase(connectionString: string): Kysely<Tables> {
  const pool = new pg.Pool({
    connectionString,
    max: 10,
    // Per pool rather than pg's global type registry: bigint epoch-ms columns come back as numbers.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
  return new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
}

/**
 * Opens `sqlite:<file>` (or `sqlite::memory:`) or `postgres://…` and brings the schema to the latest migration.
 * On PostgreSQL Kysely's migrator takes an advisory lock, so instances starting together migrate once.
 */
export async function openDatabase(url: string): Promise<StoreDatabase> {
  let db: Kysely<Tables>;
  let dialect: Dialect;
  if (url.startsWith('sqlite:')) {
    db = sqliteDatabase(url.slice('sqlite:'.length));
    dialect = 'sqlite';
  } else if (/^postgres(ql)?:\/\//.test(url)) {
    db = postgresDatabase(url);
    dialect = 'postgres';
  } else {
    throw new Error('DATABASE_URL must start with sqlite: or postgres://');
  }
  try {
    const { error, results } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
    if (error !== undefined) {
      const failed = results?.find((result) => result.status === 'Error')?.migrationName ?? 'unknown';
      throw new Error(`database migration ${failed} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return { db, dialect, close: () => db.destroy() };
}
