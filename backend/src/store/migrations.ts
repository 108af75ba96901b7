import { type Kysely, type Migration, type MigrationProvider, sql, SqliteAdapter } from 'kysely';

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
  '0005_heartbeat': {
    async up(db: Kysely<unknown>) {
      // One row /readyz overwrites, so readiness proves the database takes a write (not read-only, not full), not just
      // that it answers a select. One row whichever instance asks: nothing accumulates.
      await db.schema
        .createTable('heartbeat')
        .addColumn('id', 'integer', (column) => column.primaryKey().check(sql`id = 1`))
        .addColumn('checked_at', 'bigint', (column) => column.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('heartbeat').execute();
    },
  },
  '0006_write_outbox': {
    async up(db: Kysely<unknown>) {
      // SQLite cannot change a CHECK constraint in place; its own way is to rebuild the table. Kysely runs SQLite
      // migrations outside a transaction, so this one opens its own: a crash halfway leaves the old schema, never half.
      if (db.getExecutor().adapter instanceof SqliteAdapter) await db.transaction().execute((trx) => writeOutbox(trx, 'sqlite'));
      else await writeOutbox(db, 'postgres');
    },
    async down(db: Kysely<unknown>) {
      // audit_log keeps admitting 'unknown': entries with it may exist, and deleting audit entries is not a migration's call.
      await db.schema.dropIndex('write_requests_unfinished').execute();
      for (const column of WRITE_INTENT_COLUMNS) await db.schema.alterTable('write_requests').dropColumn(column).execute();
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
  '0008_hubspot_budget': {
    async up(db: Kysely<unknown>) {
      // HubSpot's budget per account shared by every instance (instances/shared-budget.ts): rate-limiter-flexible's
      // RateLimiterPostgres table, in its own layout, made here so no instance runs DDL while serving. SQLite serves
      // from one process, whose scheduler alone paces HubSpot calls: it has no use for it.
      if (db.getExecutor().adapter instanceof SqliteAdapter) return;
      await db.schema
        .createTable('hubspot_budget')
        .addColumn('key', 'varchar(255)', (column) => column.primaryKey())
        .addColumn('points', 'integer', (column) => column.notNull().defaultTo(0))
        .addColumn('expire', 'bigint')
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('hubspot_budget').ifExists().execute();
    },
  },
  '0009_calibration': {
    async up(db: Kysely<unknown>) {
      // Calibration runs (usecases/calibration.ts): progress, the HubSpot calls used, and the result as validated JSON.
      await db.schema
        .createTable('calibration_runs')
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('portal_id', 'bigint', (column) => column.notNull())
        .addColumn('state', 'text', (column) => column.notNull().check(sql`state in ('running', 'done', 'failed', 'interrupted')`))
        .addColumn('trigger', 'text', (column) => column.notNull().check(sql`trigger in ('manual', 'schedule')`))
        .addColumn('started_by_user_id', 'bigint')
        .addColumn('started_at', 'bigint', (column) => column.notNull())
        .addColumn('heartbeat_at', 'bigint', (column) => column.notNull())
        .addColumn('finished_at', 'bigint')
        .addColumn('done', 'integer', (column) => column.notNull())
        .addColumn('total', 'integer', (column) => column.notNull())
        .addColumn('calls', 'integer', (column) => column.notNull())
        .addColumn('result', 'text')
        .addColumn('error', 'text')
        .execute();
      // One running calibration per account, whichever instance started it: the claim is this index.
      await db.schema
        .createIndex('calibration_runs_one_running')
        .unique()
        .on('calibration_runs')
        .column('portal_id')
        .where(sql.ref('state'), '=', 'running')
        .execute();
      await db.schema.createIndex('calibration_runs_latest').on('calibration_runs').columns(['portal_id', 'started_at']).execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('calibration_runs').execute();
    },
  },
  '0010_usage_days': {
    async up(db: Kysely<unknown>) {
      // What the settings page's statistics need beyond the audit log, per account and UTC day (store/usage-days.ts):
      // counted in memory by each instance and added here about once a minute, never written per request.
      await db.schema
        .createTable('usage_days')
        .addColumn('portal_id', 'bigint', (column) => column.notNull())
        .addColumn('day', 'bigint', (column) => column.notNull())
        .addColumn('views_allowed', 'bigint', (column) => column.notNull().defaultTo(0))
        .addColumn('hubspot_calls', 'bigint', (column) => column.notNull().defaultTo(0))
        .addColumn('hubspot_rate_limited', 'bigint', (column) => column.notNull().defaultTo(0))
        .addPrimaryKeyConstraint('usage_days_pk', ['portal_id', 'day'])
        .execute();
      // The statistics read one account's entries of the last 60 days: without it, every entry of every account is scanned.
      await db.schema.createIndex('audit_log_portal_at').on('audit_log').columns(['portal_id', 'at']).execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex('audit_log_portal_at').execute();
      await db.schema.dropTable('usage_days').execute();
    },
  },
};

/** What 0006 adds to a write's claim so it can be finished after the request is gone (usecases/writes.ts, store/write-requests.ts). */
const WRITE_INTENT_COLUMNS = ['intent_at', 'user_id', 'action', 'object_type', 'record_id', 'decision_code', 'source', 'completed_at'] as const;

/**
 * 0006: the write's claim becomes its durable outbox. Before HubSpot is called, the claim records the intent (who,
 * what, on which record, why it was allowed); the audit entry is written when the claim is completed, in the same
 * transaction, or by the sweeper with outcome 'unknown', which the audit log's CHECK must now admit.
 */
async function writeOutbox(db: Kysely<unknown>, dialect: 'sqlite' | 'postgres') {
  for (const column of WRITE_INTENT_COLUMNS) {
    const type = column.endsWith('_at') || column === 'user_id' ? 'bigint' : 'text';
    await db.schema.alterTable('write_requests').addColumn(column, type).execute();
  }
  // Answers kept before 0006 are complete; claims without one never recorded an intent, so nothing waits for them.
  await sql`update write_requests set completed_at = created_at where status_code is not null`.execute(db);
  // The sweeper looks for intents still open; completed rows (nearly all) stay out of this index.
  await db.schema.createIndex('write_requests_unfinished').on('write_requests').column('intent_at').where(sql.ref('completed_at'), 'is', null).execute();

  const outcomes = sql`outcome in ('allowed', 'refused', 'done', 'failed', 'unknown')`;
  if (dialect === 'postgres') {
    // PostgreSQL names an unnamed column CHECK <table>_<column>_check; if it were called otherwise, this fails loudly.
    await sql`alter table audit_log drop constraint audit_log_outcome_check, add constraint audit_log_outcome_check check (${outcomes})`.execute(db);
    return;
  }
  await db.schema
    .createTable('audit_log_next')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('portal_id', 'bigint', (column) => column.notNull())
    .addColumn('at', 'bigint', (column) => column.notNull())
    .addColumn('user_id', 'bigint', (column) => column.notNull())
    .addColumn('action', 'text', (column) => column.notNull())
    .addColumn('object_type', 'text')
    .addColumn('record_id', 'text')
    .addColumn('decision_code', 'text')
    .addColumn('source', 'text')
    .addColumn('outcome', 'text', (column) => column.notNull().check(outcomes))
    .addColumn('message', 'text')
    .addColumn('hubspot_correlation_id', 'text')
    .execute();
  await sql`insert into audit_log_next select * from audit_log`.execute(db);
  await db.schema.dropTable('audit_log').execute();
  await db.schema.alterTable('audit_log_next').renameTo('audit_log').execute();
  await db.schema.createIndex('audit_log_portal_id').on('audit_log').columns(['portal_id', 'id']).execute();
  await db.schema.createIndex('audit_log_at').on('audit_log').column('at').execute();
}

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
