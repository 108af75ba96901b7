import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { StoreDatabase } from '../../backend/src/store/index.js';

/**
 * Real refusals from the database itself, for tests that need one step of a request to fail (a full disk refuses
 * whichever write comes next; a test needs to choose which). A trigger raises an error before the chosen change, on
 * SQLite and PostgreSQL alike, so the store meets the same kind of error a refusing database gives it: no mock.
 * Returns the function that lifts the refusal.
 */
export async function refuseChanges(
  database: StoreDatabase,
  refusal: { table: 'write_requests' | 'audit_log'; on: 'insert' | 'update' | 'delete'; when?: string },
): Promise<() => Promise<void>> {
  const name = `vg_refuse_${refusal.table}_${refusal.on}_${randomBytes(4).toString('hex')}`;
  const { db } = database;
  const when = refusal.when === undefined ? sql`` : sql`when (${sql.raw(refusal.when)})`;
  if (database.dialect === 'sqlite') {
    await sql`create trigger ${sql.id(name)} before ${sql.raw(refusal.on)} on ${sql.table(refusal.table)} for each row ${when}
      begin select raise(abort, 'refused by the test'); end`.execute(db);
    return async () => {
      await sql`drop trigger ${sql.id(name)}`.execute(db);
    };
  }
  // In the schema the search_path names first, which is this test's own.
  await sql`create or replace function vg_refuse() returns trigger language plpgsql as $$ begin raise exception 'refused by the test'; end $$`.execute(db);
  await sql`create trigger ${sql.id(name)} before ${sql.raw(refusal.on)} on ${sql.table(refusal.table)} for each row ${when} execute function vg_refuse()`.execute(
    db,
  );
  return async () => {
    await sql`drop trigger ${sql.id(name)} on ${sql.table(refusal.table)}`.execute(db);
  };
}

/**
 * The whole database refuses every change, as a read-only one does: SQLite's `query_only` on the store's one
 * connection. (PostgreSQL's equivalents reach one pooled session or every user of the server, so tests use
 * refuseChanges there.)
 */
export async function makeReadOnly(database: StoreDatabase): Promise<() => Promise<void>> {
  if (database.dialect !== 'sqlite') throw new Error('makeReadOnly is for SQLite (one connection); use refuseChanges on PostgreSQL');
  await sql`pragma query_only = on`.execute(database.db);
  return async () => {
    await sql`pragma query_only = off`.execute(database.db);
  };
}
