import type { AttemptRecord } from '../hubspot/scheduler.js';
import { dayOf, USAGE_COUNTS, type UsageCount, type UsageDay, type UsageDays } from '../store/index.js';

/**
 * Account-and-day rows held between flushes at most. Far above what a minute brings (one row per account served in it),
 * so only a database refusing flush after flush reaches it: counts for rows beyond it are dropped, and the flush
 * that finally succeeds says how many were (app.ts logs it).
 */
const MAX_PENDING_ROWS = 20_000;

/**
 * The scheduler's accounts are portal ids for an account's API calls; HubSpot's token endpoint is paced under keys of
 * its own (hubspot/oauth.ts), which count against no account's API limit.
 */
export function portalOfAccount(account: string): number | undefined {
  return /^\d+$/.test(account) ? Number(account) : undefined;
}

export interface UsageTally {
  /** Told of every attempt at a HubSpot call, as the scheduler reports it. */
  hubspotAttempt(attempt: Pick<AttemptRecord, 'account' | 'status'>): void;
  /** A card record view answered with the record. */
  viewAllowed(portalId: number): void;
  /** What this instance counted for the account and has not stored yet: the statistics add it to the stored days. */
  pending(portalId: number): UsageDay[];
  /**
   * Adds everything counted since the last flush to the stored days, in one statement. When the database refuses,
   * the counts are kept for the next flush and the error is thrown. Never run two at once.
   */
  flush(): Promise<{ rows: number; dropped: number }>;
}

/**
 * Counts per account and UTC day in memory, so no request ever writes for the statistics (a warm card view runs no
 * statement at all), and stores them about once a minute and when the instance closes. A crash loses what was counted
 * since the last flush; a flush whose commit succeeded but whose answer was lost is counted again at the next one.
 */
export function createUsageTally(deps: { store: UsageDays; now: () => number }): UsageTally {
  let rows = new Map<string, UsageDay>();
  let dropped = 0;

  function count(portalId: number, what: UsageCount, at = deps.now()) {
    const day = dayOf(at);
    const key = `${portalId}:${day}`;
    let row = rows.get(key);
    if (row === undefined) {
      if (rows.size >= MAX_PENDING_ROWS) {
        dropped += 1;
        return;
      }
      row = { portalId, day, viewsAllowed: 0, hubspotCalls: 0, hubspotRateLimited: 0 };
      rows.set(key, row);
    }
    row[what] += 1;
  }

  return {
    hubspotAttempt(attempt) {
      const portalId = portalOfAccount(attempt.account);
      if (portalId === undefined) return;
      const at = deps.now();
      count(portalId, 'hubspotCalls', at);
      if (attempt.status === 429) count(portalId, 'hubspotRateLimited', at);
    },

    viewAllowed: (portalId) => count(portalId, 'viewsAllowed'),

    pending: (portalId) => [...rows.values()].filter((row) => row.portalId === portalId).map((row) => ({ ...row })),

    async flush() {
      const taken = rows;
      const lost = dropped;
      rows = new Map();
      dropped = 0;
      try {
        await deps.store.add([...taken.values()]);
      } catch (error) {
        // Whatever was counted meanwhile went into the new map: add the refused counts back to it, within the bound.
        dropped += lost;
        for (const [key, row] of taken) {
          const current = rows.get(key);
          if (current !== undefined) for (const what of USAGE_COUNTS) current[what] += row[what];
          else if (rows.size < MAX_PENDING_ROWS) rows.set(key, row);
          else dropped += USAGE_COUNTS.reduce((sum, what) => sum + row[what], 0);
        }
        throw error;
      }
      return { rows: taken.size, dropped: lost };
    },
  };
}
