import { type Kysely, type Migration, type MigrationProvider, sql } from 'kysely';

/**
 * One migration set for SQLite and PostgreSQL, in code (no directory scan, so it works the same from tsx, a
 * bundle or a test). Names sort in the order they run; never edit one that has shipped, add the next.
 *
 * Column types are the subset both databases treat alike:
 * - timestamps are epoch milliseconds in `bigint`: SQLite has no date type (it keeps whatever text or number it is
 *   given), while integers compare, sort and index identically on both; PostgreSQL's int8
 *   is read back as a number (postgres.ts), so rows decode the same either way;
 * - ids from HubSpot (portal, user) are `bigint`: HubSpot promises no upper bound and its record ids already
 *   exceed int4, so int8 rules out a later overflow;
 * - lists and documents are JSON in `text` and validated with zod when read, not `jsonb`, which SQLite lacks;
 * - enumerations are `text` with a CHECK constraint, which both enforce, instead of PostgreSQL enum types.
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
  '0002_policies_and_audit': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('policies')
        .addColumn('portal_id', 'bigint', (column) => column.notNull())
        .addColumn('version', 'integer', (column) => column.notNull())
        .addColumn('document', 'text', (column) => column.notNull())
        .addColumn('changed_by_user_id', 'bigint', (column) => column.notNull())
        .addColumn('changed_at', 'bigint', (column) => column.notNull())
        .addPrimaryKeyConstraint('policies_pk', ['portal_id', 'version'])
        .execute();
      await db.schema
        .createTable('audit_log')
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('portal_id', 'bigint', (column) => column.notNull())
        .addColumn('at', 'bigint', (column) => column.notNull())
        .addColumn('user_id', 'bigint', (column) => column.notNull())
        .addColumn('action', 'text', (column) => column.notNull())
        .addColumn('object_type', 'text')
        .addColumn('record_id', 'text')
        .addColumn('decision_code', 'text')
        .addColumn('source', 'text')
        .addColumn('outcome', 'text', (column) => column.notNull().check(sql`outcome in ('allowed', 'refused', 'done', 'failed')`))
        .addColumn('message', 'text')
        .addColumn('hubspot_correlation_id', 'text')
        .execute();
      await db.schema.createIndex('audit_log_portal_id').on('audit_log').columns(['portal_id', 'id']).execute();
      await db.schema.createIndex('audit_log_at').on('audit_log').column('at').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('audit_log').execute();
      await db.schema.dropTable('policies').execute();
    },
  },
  '0003_oauth_states': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('oauth_states')
        .addColumn('nonce_hash', 'text', (column) => column.primaryKey())
        .addColumn('expires_at', 'bigint', (column) => column.notNull())
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .execute();
      // The purge on every issue looks for expired rows first.
      await db.schema.createIndex('oauth_states_expires_at').on('oauth_states').column('expires_at').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('oauth_states').execute();
    },
  },
  '0004_write_requests': {
    async up(db: Kysely<unknown>) {
      // One row per signed write request (keyed by a hash of its signature), so HubSpot's retry of a write is
      // answered from the first result on every instance sharing the database.
      await db.schema
        .createTable('write_requests')
        .addColumn('request_key', 'text', (column) => column.primaryKey())
        .addColumn('portal_id', 'bigint', (column) => column.notNull())
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .addColumn('status_code', 'integer')
        .addColumn('response', 'text')
        .execute();
      await db.schema.createIndex('write_requests_created_at').on('write_requests').column('created_at').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('write_requests').execute();
    },
  },
  '0007_refresh_started_at': {
    async up(db: Kysely<unknown>) {
      // Written under the refresh lock before HubSpot's token endpoint is called: it proves the database takes writes
      // before a refresh that may replace the refresh token goes out, and (where it outlives the writer: SQLite, or a
      // refresh whose answer was lost) records that a refresh may have reached HubSpot. Cleared when one is saved.
      await db.schema.alterTable('installations').addColumn('refresh_started_at', 'bigint').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('installations').dropColumn('refresh_started_at').execute();
    },
  },
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
