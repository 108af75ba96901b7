import { mkdirSync } from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Tables } from './schema.js';

const SQLITE_MEMORY = ':memory:';

/** `file` is resolved against the working directory, like any relative path the operator writes in DATABASE_URL. */
export function sqliteKysely(file: string): Kysely<Tables> {
  if (file !== SQLITE_MEMORY) mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const database = new SQLite(file);
  // WAL lets readers proceed during a write and survives a crash mid-write without a rollback journal dance.
  database.pragma('journal_mode = WAL');
  // SQLite ships with foreign keys off; without this a future REFERENCES clause would be decoration.
  database.pragma('foreign_keys = ON');
  // A second process (a CLI, a backup) holding the write lock makes us wait up to 5 s instead of failing at once.
  database.pragma('busy_timeout = 5000');
  return new Kysely<Tables>({ dialect: new SqliteDialect({ database }) });
}
