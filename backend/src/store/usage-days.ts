import type { Kysely } from 'kysely';
import type { Tables, UsageDaysTable } from './schema.js';

export const DAY_MS = 86_400_000;

/** One account's counts for one UTC day: `day` is the day's first millisecond (dayOf). */
export interface UsageDay {
  portalId: number;
  day: number;
  viewsAllowed: number;
  hubspotCalls: number;
  hubspotRateLimited: number;
}

export type UsageCount = Exclude<keyof UsageDay, 'portalId' | 'day'>;
export const USAGE_COUNTS: readonly UsageCount[] = ['viewsAllowed', 'hubspotCalls', 'hubspotRateLimited'];

/** The first millisecond of the UTC day `ms` falls in. */
export const dayOf = (ms: number): number => Math.floor(ms / DAY_MS) * DAY_MS;

export interface UsageDays {
  /**
   * Adds the counts to the stored ones in one statement, so instances flushing at the same moment all count: an
   * overwrite would keep only the last one's.
   */
  add(days: readonly UsageDay[]): Promise<void>;
  /** One account's days in [from, to), by day; days nothing was counted on have no row. */
  read(portalId: number, from: number, to: number): Promise<UsageDay[]>;
  /** Retention: deletes the days before `before`, across accounts; returns how many rows. */
  purgeBefore(before: number): Promise<number>;
}

const columns = (day: UsageDay): UsageDaysTable => ({
  portal_id: day.portalId,
  day: day.day,
  views_allowed: day.viewsAllowed,
  hubspot_calls: day.hubspotCalls,
  hubspot_rate_limited: day.hubspotRateLimited,
});

export function createUsageDays(db: Kysely<Tables>): UsageDays {
  return {
    async add(days) {
      if (days.length === 0) return;
      // `excluded` is the row that was to be inserted: the same ON CONFLICT ... DO UPDATE form on SQLite (3.24+) and PostgreSQL.
      await db
        .insertInto('usage_days')
        .values(days.map(columns))
        .onConflict((conflict) =>
          conflict.columns(['portal_id', 'day']).doUpdateSet((update) => ({
            views_allowed: update('usage_days.views_allowed', '+', update.ref('excluded.views_allowed')),
            hubspot_calls: update('usage_days.hubspot_calls', '+', update.ref('excluded.hubspot_calls')),
            hubspot_rate_limited: update('usage_days.hubspot_rate_limited', '+', update.ref('excluded.hubspot_rate_limited')),
          })),
        )
        .execute();
    },

    async read(portalId, from, to) {
      const rows = await db
        .selectFrom('usage_days')
        .selectAll()
        .where('portal_id', '=', portalId)
        .where('day', '>=', from)
        .where('day', '<', to)
        .orderBy('day')
        .execute();
      return rows.map((row) => ({
        portalId: row.portal_id,
        day: row.day,
        viewsAllowed: row.views_allowed,
        hubspotCalls: row.hubspot_calls,
        hubspotRateLimited: row.hubspot_rate_limited,
      }));
    },

    async purgeBefore(before) {
      const result = await db.deleteFrom('usage_days').where('day', '<', before).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
