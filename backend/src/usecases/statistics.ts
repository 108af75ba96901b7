import type { UsageTally } from '../metrics/usage-tally.js';
import { DAY_MS, dayOf, USAGE_COUNTS, type AuditLog, type UsageCount, type UsageDay, type UsageDays } from '../store/index.js';
import type { ViewerContext } from './context.js';

/** The settings page's window: the last 30 UTC days, today included, compared with the 30 before them. */
export const STATISTICS_DAYS = 30;

/** What a write's audit entry says happened (the write journal's outcomes: store/write-requests.ts). */
const WRITE_OUTCOMES = ['done', 'failed', 'unknown'] as const;
type WriteOutcome = (typeof WRITE_OUTCOMES)[number];

/** A refusal audited without a decision code (none is today: the error handler always has one) is still counted. */
const NO_CODE = 'NO_CODE';

interface DayFigures extends Record<UsageCount, number> {
  refusals: Map<string, number>;
  writes: Record<WriteOutcome, number>;
}

const emptyDay = (): DayFigures => ({
  viewsAllowed: 0,
  hubspotCalls: 0,
  hubspotRateLimited: 0,
  refusals: new Map(),
  writes: { done: 0, failed: 0, unknown: 0 },
});

const isWrite = (outcome: string): outcome is WriteOutcome => (WRITE_OUTCOMES as readonly string[]).includes(outcome);
const sum = (values: Iterable<number>) => [...values].reduce((total, value) => total + value, 0);
const isoDay = (day: number) => new Date(day).toISOString().slice(0, 10);

export interface StatisticsDeps {
  audit: Pick<AuditLog, 'dailyCounts'>;
  usage: Pick<UsageDays, 'read'>;
  /** This instance's counts not stored yet, so the page is current here; other instances' arrive with their next flush. */
  tally: Pick<UsageTally, 'pending'>;
  now: () => number;
}

/**
 * The settings page's figures for the admin's own account: refusals by code and writes by outcome from the audit
 * log, views allowed, HubSpot calls and 429s from the counts the instances store per day (metrics/usage-tally.ts).
 * Every day of the window is present, zeros included, oldest first.
 */
export function createStatistics(deps: StatisticsDeps) {
  return {
    async forAccount(ctx: ViewerContext) {
      const portalId = ctx.viewer.portalId;
      const today = dayOf(deps.now());
      const from = today - (STATISTICS_DAYS - 1) * DAY_MS;
      const previousFrom = from - STATISTICS_DAYS * DAY_MS;
      const to = today + DAY_MS;
      const [audited, stored] = await Promise.all([deps.audit.dailyCounts(portalId, previousFrom, to), deps.usage.read(portalId, previousFrom, to)]);

      const days = new Map<number, DayFigures>();
      for (let day = previousFrom; day < to; day += DAY_MS) days.set(day, emptyDay());
      const usage: UsageDay[] = [...stored, ...deps.tally.pending(portalId)];
      for (const row of usage) {
        const figures = days.get(row.day);
        if (figures !== undefined) for (const what of USAGE_COUNTS) figures[what] += row[what];
      }
      for (const row of audited) {
        const figures = days.get(row.day);
        if (figures === undefined) continue;
        if (row.outcome === 'refused') {
          const code = row.decisionCode ?? NO_CODE;
          figures.refusals.set(code, (figures.refusals.get(code) ?? 0) + row.count);
        } else if (isWrite(row.outcome)) figures.writes[row.outcome] += row.count;
      }

      const all = [...days.entries()];
      const previous = all.filter(([day]) => day < from).map(([, figures]) => figures);
      const current = all.filter(([day]) => day >= from);
      const totals = (read: (figures: DayFigures) => number) => ({
        current: sum(current.map(([, figures]) => read(figures))),
        previous: sum(previous.map(read)),
      });
      const byCode = new Map<string, number>();
      for (const [, figures] of current) for (const [code, count] of figures.refusals) byCode.set(code, (byCode.get(code) ?? 0) + count);

      return {
        window: { from: isoDay(from), to: isoDay(today), days: STATISTICS_DAYS },
        totals: {
          viewsAllowed: totals((figures) => figures.viewsAllowed),
          refusals: totals((figures) => sum(figures.refusals.values())),
          writes: totals((figures) => sum(Object.values(figures.writes))),
          hubspotCalls: totals((figures) => figures.hubspotCalls),
          hubspotRateLimited: totals((figures) => figures.hubspotRateLimited),
        },
        // Most frequent first, so the chart's colours and legend start with what matters most.
        refusalCodes: [...byCode.entries()].sort(([codeA, a], [codeB, b]) => b - a || codeA.localeCompare(codeB)).map(([code]) => code),
        days: current.map(([day, figures]) => ({
          day: isoDay(day),
          viewsAllowed: figures.viewsAllowed,
          refusals: [...figures.refusals.entries()].map(([code, count]) => ({ code, count })),
          writes: figures.writes,
          hubspotCalls: figures.hubspotCalls,
          hubspotRateLimited: figures.hubspotRateLimited,
        })),
      };
    },
  };
}
export type Statistics = ReturnType<typeof createStatistics>;
