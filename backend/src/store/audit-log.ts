import { randomBytes } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { AuditLogTable, Tables } from './schema.js';
import { DAY_MS } from './usage-days.js';

export type AuditOutcome = AuditLogTable['outcome'];

export interface AuditEntryInput {
  portalId: number;
  userId: number;
  action: string;
  objectType?: string | null;
  recordId?: string | null;
  decisionCode?: string | null;
  source?: string | null;
  outcome: AuditOutcome;
  message?: string | null;
  hubspotCorrelationId?: string | null;
}

export interface AuditEntry extends Required<Omit<AuditEntryInput, 'portalId'>> {
  id: string;
  at: Date;
}

export interface AuditQuery {
  limit: number;
  /** The id of the last entry of the previous page. */
  before?: string;
  userId?: number;
  recordId?: string;
  outcome?: AuditOutcome;
  /** Entries with any of these outcomes (with `outcome` as well: only entries that meet both). */
  outcomes?: readonly AuditOutcome[];
}

export interface AuditLog {
  record(entry: AuditEntryInput, now: Date): Promise<void>;
  /** Newest first, one account only. */
  page(portalId: number, query: AuditQuery): Promise<{ entries: AuditEntry[]; nextCursor: string | null }>;
  /** Retention: deletes entries older than the cutoff, across accounts; returns how many. */
  purgeOlderThan(cutoff: Date): Promise<number>;
  /** One account's entries in [from, to) (epoch ms), counted per UTC day, outcome and decision code. */
  dailyCounts(portalId: number, from: number, to: number): Promise<AuditDayCount[]>;
}

export interface AuditDayCount {
  /** The UTC day's first millisecond. */
  day: number;
  outcome: AuditOutcome;
  decisionCode: string | null;
  count: number;
}

/**
 * Inserts one entry. Takes a transaction as well as the database, so a write's entry can commit together with its
 * stored answer (write-requests.ts).
 */
export async function insertAuditEntry(db: Kysely<Tables>, entry: AuditEntryInput, now: Date): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      id: `${String(now.getTime()).padStart(13, '0')}-${randomBytes(6).toString('hex')}`,
      portal_id: entry.portalId,
      at: now.getTime(),
      user_id: entry.userId,
      action: entry.action,
      object_type: entry.objectType ?? null,
      record_id: entry.recordId ?? null,
      decision_code: entry.decisionCode ?? null,
      source: entry.source ?? null,
      outcome: entry.outcome,
      message: entry.message ?? null,
      hubspot_correlation_id: entry.hubspotCorrelationId ?? null,
    })
    .execute();
}

export function createAuditLog(db: Kysely<Tables>): AuditLog {
  return {
    record: (entry, now) => insertAuditEntry(db, entry, now),

    async page(portalId, query) {
      let select = db.selectFrom('audit_log').selectAll().where('portal_id', '=', portalId);
      if (query.before !== undefined) select = select.where('id', '<', query.before);
      if (query.userId !== undefined) select = select.where('user_id', '=', query.userId);
      if (query.recordId !== undefined) select = select.where('record_id', '=', query.recordId);
      if (query.outcome !== undefined) select = select.where('outcome', '=', query.outcome);
      if (query.outcomes !== undefined) select = select.where('outcome', 'in', query.outcomes);
      const rows = await select
        .orderBy('id', 'desc')
        .limit(query.limit + 1)
        .execute();
      const entries = rows.slice(0, query.limit).map((row) => ({
        id: row.id,
        at: new Date(row.at),
        userId: row.user_id,
        action: row.action,
        objectType: row.object_type,
        recordId: row.record_id,
        decisionCode: row.decision_code,
        source: row.source,
        outcome: row.outcome,
        message: row.message,
        hubspotCorrelationId: row.hubspot_correlation_id,
      }));
      return { entries, nextCursor: rows.length > query.limit ? (entries.at(-1)?.id ?? null) : null };
    },

    async dailyCounts(portalId, from, to) {
      // Integer division of two integers truncates on both databases, and `at` is never negative: the day's number.
      const dayNumber = sql<number>`at / ${sql.lit(DAY_MS)}`;
      const rows = await db
        .selectFrom('audit_log')
        .select([dayNumber.as('day'), 'outcome', 'decision_code', (count) => count.fn.countAll<number | string>().as('count')])
        .where('portal_id', '=', portalId)
        .where('at', '>=', from)
        .where('at', '<', to)
        .groupBy([dayNumber, 'outcome', 'decision_code'])
        .execute();
      // PostgreSQL's count() is int8, read back as a number (postgres.ts); the union type is Kysely's, for drivers that do not.
      return rows.map((row) => ({ day: row.day * DAY_MS, outcome: row.outcome, decisionCode: row.decision_code, count: Number(row.count) }));
    },

    async purgeOlderThan(cutoff) {
      const result = await db.deleteFrom('audit_log').where('at', '<', cutoff.getTime()).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
