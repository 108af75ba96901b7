import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, type SqliteDatabase } from 'kysely';
import { DatabaseFileChangedError } from './database-fault.js';
import type { Tables } from './schema.js';

const SQLITE_MEMORY = ':memory:';

/** Which file a path leads to: a file deleted and created again, or moved over, has another inode. */
function fileIdentity(file: string): string | undefined {
  const stats = statSync(file, { bigint: true, throwIfNoEntry: false });
  return stats === undefined ? undefined : `${stats.dev}:${stats.ino}`;
}

/**
 * SQLite keeps writing to its open file after the path is unlinked or pointed at another file, and those writes vanish
 * at the next restart. So every statement first checks, with one stat() of the path (microseconds), that the path still
 * leads to the file that was opened, and throws DatabaseFileChangedError instead of running if not. The bound: a
 * statement already past this check when the file goes still lands in the old file; nothing after it does. A file
 * put back (same inode, e.g. moved away and back) is used again.
 */
function guardFileIdentity(database: SQLite.Database, file: string): SqliteDatabase {
  const opened = fileIdentity(file);
  return {
    close: () => database.close(),
    prepare(sql) {
      const current = fileIdentity(file);
      if (current !== opened) throw new DatabaseFileChangedError(current === undefined ? 'deleted' : 'replaced');
      return database.prepare(sql);
    },
  };
}

/** `file` is resolved against the working directory, like any relative path the operator writes in DATABASE_URL. */
export function sqliteKysely(file: string): Kysely<Tables> {
  const resolved = file === SQLITE_MEMORY ? file : path.resolve(file);
  if (resolved !== SQLITE_MEMORY) mkdirSync(path.dirname(resolved), { recursive: true });
  const database = new SQLite(resolved);
  // WAL lets readers proceed during a write and survives a crash mid-write without a rollback journal dance.
  database.pragma('journal_mode = WAL');
  // SQLite ships with foreign keys off; without this a future REFERENCES clause would be decoration.
  database.pragma('foreign_keys = ON');
  // A second process (a CLI, a backup) holding the write lock makes us wait up to 5 s instead of failing at once.
  database.pragma('busy_timeout = 5000');
  return new Kysely<Tables>({
    dialect: new SqliteDialect({ database: resolved === SQLITE_MEMORY ? database : guardFileIdentity(database, resolved) }),
  });
}
