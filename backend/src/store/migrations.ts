import { type Kysely, type Migration, type MigrationProvider, sql } from 'kysely';

/**
 * One migration set for SQLite and PostgreSQL, in code (no directory scan, so it works the same from tsx, a
 * bundle or a test). Names sort in the order they run; never edit one that has shipped, add the next.
 */
const migrations: Record<string, Migration> = {
  '0001_installations': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('installations')
        .addColumn('portal_id', 'bigint', (column) => column.primaryKey())
        .addColumn('access_token_enc', 'text', (column) => column.notNull())
        .addColumn('refresh_token_enc', 'text', (column) => column.notNull())
        .addColumn('access_token_expires_at', 'bigint', (column) => column.notNull())
        .addColumn('scopes', 'text', (column) => column.notNull())
        .addColumn('installed_by_user_id', 'bigint', (column) => column.notNull())
        .addColumn('installed_at', 'bigint', (column) => column.notNull())
        .addColumn('updated_at', 'bigint', (column) => column.notNull())
        .addColumn('status', 'text', (column) => column.notNull().check(sql`status in ('active', 'needs_reinstall', 'uninstalled')`))
        .addColumn('status_reason', 'text')
        .addColumn('status_changed_at', 'bigint', (column) => column.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('installations').execute();
    },
  },
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
