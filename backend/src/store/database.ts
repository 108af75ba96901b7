import type { Kysely } from 'kysely';
import type { DatabaseLog } from './database-fault.js';
import { migrateToLatest } from './migrate.js';
import { postgresKysely } from './postgres.js';
import type { Dialect, Tables } from './schema.js';
import { sqliteKysely } from './sqlite.js';

export interface StoreDatabase {
  db: Kysely<Tables>;
  dialect: Dialect;
  close(): Promise<void>;
}

function connect(url: string, log: DatabaseLog | undefined): { db: Kysely<Tables>; dialect: Dialect } {
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    if (file === '') throw new Error('DATABASE_URL sqlite: needs a file, e.g. sqlite:./data/viewer-guard.db');
    return { db: sqliteKysely(file), dialect: 'sqlite' };
  }
  if (/^postgres(ql)?:\/\//.test(url)) return { db: postgresKysely(url, log), dialect: 'postgres' };
  // Only the scheme is echoed: the rest of a URL may hold a password.
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0] ?? '(none)';
  throw new Error(`DATABASE_URL scheme ${scheme} is not supported: use sqlite:<file>, sqlite::memory: or postgres://…`);
}

/**
 * Opens `sqlite:<file>` (relative to the working directory; its folder is created), `sqlite::memory:` or
 * `postgres://…` / `postgresql://…`, and brings the schema to the latest migration before returning. `log` hears of
 * PostgreSQL connections lost and restored while no query is waiting on them.
 */
export async function openDatabase(url: string, options: { log?: DatabaseLog } = {}): Promise<StoreDatabase> {
  const { db, dialect } = connect(url, options.log);
  try {
    await migrateToLatest(db, dialect);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return { db, dialect, close: () => db.destroy() };
}
