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
function fileGuard(file: string): () => void {
  const opened = fileIdentity(file);
  return () => {
    const current = fileIdentity(file);
    if (current !== opened) throw new DatabaseFileChangedError(current === undefined ? 'deleted' : 'replaced');
  };
}

function guardFileIdentity(database: SQLite.Database, check: () => void): SqliteDatabase {
  return {
    close: () => database.close(),
    prepare(sql) {
      check();
      return database.prepare(sql);
    },
  };
}

/**
 * `file` is resolved against the working directory, like any relative path the operator writes in DATABASE_URL.
 * `changedElsewhere`: a number that changes whenever another connection (another process, a CLI) has committed to the
 * file (SQLite's `PRAGMA data_version`), where this process's change feed cannot hear it; seen from the next turn of
 * the event loop on.
 */
export function sqliteDatabase(file: string): { db: Kysely<Tables>; changedElsewhere: () => number } {
  const resolved = file === SQLITE_MEMORY ? file : path.resolve(file);
  if (resolved !== SQLITE_MEMORY) mkdirSync(path.dirname(resolved), { recursive: true });
  const database = new SQLite(resolved);
  // WAL lets readers proceed during a write and survives a crash mid-write without a rollback journal dance.
  database.pragma('journal_mode = WAL');
  // SQLite ships with foreign keys off; without this a future REFERENCES clause would be decoration.
  database.pragma('foreign_keys = ON');
  // A second process (a CLI, a backup) holding the write lock makes us wait up to 5 s instead of failing at once.
  database.pragma('busy_timeout = 5000');
  const checkFile = resolved === SQLITE_MEMORY ? () => undefined : fileGuard(resolved);
  const dataVersion = database.prepare('PRAGMA data_version').pluck();
  // Read at most once per turn of the event loop: the requests served in one turn share the answer. A warm card view
  // runs no statement (its install and policy are held in memory) but asks this on every request, so the file's
  // identity is checked here too: a deleted or replaced file is refused before a request is served from memory.
  let read: number | undefined;
  const changedElsewhere = () => {
    if (read === undefined) {
      checkFile();
      read = Number(dataVersion.get());
      setImmediate(() => (read = undefined));
    }
    return read;
  };
  return {
    db: new Kysely<Tables>({
      dialect: new SqliteDialect({ database: resolved === SQLITE_MEMORY ? database : guardFileIdentity(database, checkFile) }),
    }),
    changedElsewhere,
  };
}

export function sqliteKysely(file: string): Kysely<Tables> {
  return sqliteDatabase(file).db;
}
