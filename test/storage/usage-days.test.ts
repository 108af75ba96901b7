import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createUsageTally } from '../../backend/src/metrics/usage-tally.js';
import { createAuditLog, createUsageDays, DAY_MS, openDatabase, type StoreDatabase, type UsageDay, type UsageDays } from '../../backend/src/store/index.js';
import { databaseTargets } from './databases.js';

const day0 = Date.parse('2026-11-01T00:00:00Z');
const usage = (portalId: number, day: number, counts: Partial<UsageDay> = {}): UsageDay => ({
  portalId,
  day,
  viewsAllowed: 0,
  hubspotCalls: 0,
  hubspotRateLimited: 0,
  ...counts,
});

describe.each(databaseTargets)('daily counts for the statistics on $title', (target) => {
  describe.skipIf(target.skip)(target.name, () => {
    let first: StoreDatabase;
    let second: StoreDatabase;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      const created = await target.create();
      cleanup = created.cleanup;
      // Two connections to one database, as two instances of the backend have.
      first = await openDatabase(created.url);
      second = await openDatabase(created.url);
    });
    afterEach(async () => {
      await first.close();
      await second.close();
      await cleanup();
    });

    it('adds what instances flush at the same moment, never keeping only the last', async () => {
      const [a, b] = [createUsageDays(first.db), createUsageDays(second.db)];
      await a.add([usage(1, day0, { viewsAllowed: 1, hubspotCalls: 10, hubspotRateLimited: 1 })]);
      await Promise.all([
        a.add([usage(1, day0, { hubspotCalls: 5 }), usage(1, day0 + DAY_MS, { viewsAllowed: 2 })]),
        b.add([usage(1, day0, { viewsAllowed: 3, hubspotCalls: 7, hubspotRateLimited: 2 })]),
      ]);
      expect(await a.read(1, day0, day0 + 2 * DAY_MS)).toEqual([
        usage(1, day0, { viewsAllowed: 4, hubspotCalls: 22, hubspotRateLimited: 3 }),
        usage(1, day0 + DAY_MS, { viewsAllowed: 2 }),
      ]);
    });

    it('reads one account and the days asked for, and deletes days past retention', async () => {
      const days = createUsageDays(first.db);
      await days.add([usage(1, day0 - DAY_MS, { hubspotCalls: 1 }), usage(1, day0, { hubspotCalls: 2 }), usage(2, day0, { hubspotCalls: 3 })]);
      expect(await days.read(1, day0, day0 + DAY_MS)).toEqual([usage(1, day0, { hubspotCalls: 2 })]);
      expect(await days.read(2, day0 - DAY_MS, day0 + DAY_MS)).toEqual([usage(2, day0, { hubspotCalls: 3 })]);
      expect(await days.purgeBefore(day0)).toBe(1);
      expect(await days.read(1, 0, day0 + DAY_MS)).toEqual([usage(1, day0, { hubspotCalls: 2 })]);
    });

    it("counts one account's audit entries per UTC day, outcome and decision code, within the range asked for", async () => {
      const audit = createAuditLog(first.db);
      const entry = (portalId: number, outcome: 'refused' | 'done', decisionCode: string | null) => ({
        portalId,
        userId: 10,
        action: 'a',
        outcome,
        decisionCode,
      });
      await audit.record(entry(1, 'refused', 'NO_PERMISSION'), new Date(day0 - 1));
      await audit.record(entry(1, 'refused', 'NO_PERMISSION'), new Date(day0));
      await audit.record(entry(1, 'refused', 'NO_PERMISSION'), new Date(day0 + DAY_MS - 1));
      await audit.record(entry(1, 'refused', 'NOT_AN_ADMIN'), new Date(day0 + 5));
      await audit.record(entry(1, 'done', null), new Date(day0 + DAY_MS));
      await audit.record(entry(1, 'done', null), new Date(day0 + 2 * DAY_MS));
      await audit.record(entry(2, 'refused', 'NO_PERMISSION'), new Date(day0 + 1));
      const counts = await audit.dailyCounts(1, day0, day0 + 2 * DAY_MS);
      const sorted = [...counts].sort((x, y) => x.day - y.day || String(x.decisionCode).localeCompare(String(y.decisionCode)));
      expect(sorted).toEqual([
        { day: day0, outcome: 'refused', decisionCode: 'NO_PERMISSION', count: 2 },
        { day: day0, outcome: 'refused', decisionCode: 'NOT_AN_ADMIN', count: 1 },
        { day: day0 + DAY_MS, outcome: 'done', decisionCode: null, count: 1 },
      ]);
    });

    it('keeps the counts of a flush the database refused, and stores them with the next one', async () => {
      const days = createUsageDays(first.db);
      let refuse = true;
      const flaky: UsageDays = {
        ...days,
        add: async (rows) => {
          if (refuse) throw new Error('database unavailable');
          await days.add(rows);
        },
      };
      let now = day0 + 1000;
      const tally = createUsageTally({ store: flaky, now: () => now });
      tally.viewAllowed(1);
      tally.hubspotAttempt({ account: '1', status: 429 });
      tally.hubspotAttempt({ account: 'oauth:1', status: 'ok' });
      await expect(tally.flush()).rejects.toThrow('database unavailable');
      now += DAY_MS;
      tally.hubspotAttempt({ account: '1', status: 'ok' });
      expect(tally.pending(1)).toEqual([
        usage(1, day0, { viewsAllowed: 1, hubspotCalls: 1, hubspotRateLimited: 1 }),
        usage(1, day0 + DAY_MS, { hubspotCalls: 1 }),
      ]);
      refuse = false;
      expect(await tally.flush()).toEqual({ rows: 2, dropped: 0 });
      expect(tally.pending(1)).toEqual([]);
      expect(await days.read(1, day0, day0 + 2 * DAY_MS)).toEqual([
        usage(1, day0, { viewsAllowed: 1, hubspotCalls: 1, hubspotRateLimited: 1 }),
        usage(1, day0 + DAY_MS, { hubspotCalls: 1 }),
      ]);
    });
  });
});
