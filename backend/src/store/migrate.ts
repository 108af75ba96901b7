import { type Kysely, Migrator, sql } from 'kysely';
import { migrationProvider } from './migrations.js';
import type { Dialect, Tables } from './schema.js';

/**
 * Kysely's migrator looks for its bookkeeping tables in every schema it can see, so on PostgreSQL a
 * `kysely_migration` table in another schema (another app, another test run) would make it skip creating ours.
 * Naming the schema our search_path resolves to keeps it to its own tables.
 */
async function currentSchema(db: Kysely<Tables>): Promise<string> {
  const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
  const schema = rows[0]?.schema;
  if (schema == null) throw new Error('PostgreSQL search_path names no existing schema: create it or fix the search_path');
  return schema;
}

/**
 * Brings the schema to the latest migration. On PostgreSQL Kysely's migrator holds a session advisory lock
 * (`pg_advisory_lock`) while it reads which migrations ran and applies the rest in one transaction, so instances
 * starting together migrate once and the others find nothing left to do. SQLite is one process's own file.
 */
export async function migrateToLatest(db: Kysely<Tables>, dialect: Dialect): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: migrationProvider,
    migrationTableSchema: dialect === 'postgres' ? await currentSchema(db) : undefined,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error === undefined) return;
  const failed = results?.find((result) => result.status === 'Error')?.migrationName ?? 'before any migration ran';
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- Kysely types it unknown; anything thrown is also kept as the cause
  throw new Error(`database migration failed (${failed}): ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}
