import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CalibrationResult } from '../../backend/src/access/calibration.js';
import { createCalibrationRunStore, openDatabase, type CalibrationRunStore, type StoreDatabase } from '../../backend/src/store/index.js';
import { databaseTargets } from './databases.js';

const t0 = Date.parse('2026-11-01T10:00:00Z');
const at = (ms: number) => new Date(t0 + ms);
const P = 1;
const manual = { trigger: 'manual', userId: 7 } as const;
const result: CalibrationResult = { users: [], unreadable: [], roles: [] };

describe.each(databaseTargets)('calibration runs on $title', (target) => {
  describe.skipIf(target.skip)(target.name, () => {
    let database: StoreDatabase;
    let other: StoreDatabase;
    let runs: CalibrationRunStore;
    let otherRuns: CalibrationRunStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      const created = await target.create();
      cleanup = created.cleanup;
      database = await openDatabase(created.url);
      // A second pool on the same database, as a second backend instance would have.
      other = await openDatabase(created.url);
      runs = createCalibrationRunStore(database.db);
      otherRuns = createCalibrationRunStore(other.db);
    });
    afterEach(async () => {
      await other.close();
      await database.close();
      await cleanup();
    });

    it('lets one instance claim an account while a run is live; the other is told which run holds it', async () => {
      const [first, second] = await Promise.all([runs.claim(P, manual, at(0), at(-60_000)), otherRuns.claim(P, manual, at(0), at(-60_000))]);
      const winners = [first, second].filter((claim) => claim.claimed);
      expect(winners).toHaveLength(1);
      const loser = [first, second].find((claim) => !claim.claimed);
      expect(loser?.claimed === false && loser.running.id).toBe(winners[0]?.claimed === true && winners[0].run.id);
      // Another account is not held by it.
      expect((await otherRuns.claim(P + 1, manual, at(0), at(-60_000))).claimed).toBe(true);
    });

    it('takes over from a run whose heartbeat stopped, marking it interrupted', async () => {
      const first = await runs.claim(P, manual, at(0), at(-60_000));
      await runs.progress(first.claimed ? first.run.id : '', { done: 1, total: 4, calls: 1 }, at(10_000));
      expect((await otherRuns.claim(P, manual, at(20_000), at(20_000 - 60_000))).claimed).toBe(false);
      const taken = await otherRuns.claim(P, { trigger: 'schedule', userId: null }, at(80_000), at(80_000 - 60_000));
      expect(taken.claimed).toBe(true);
      const old = await runs.get(P, first.claimed ? first.run.id : '');
      expect(old).toMatchObject({ state: 'interrupted', progress: { done: 1, total: 4 } });
      // The old instance's late finish cannot overwrite the verdict.
      await runs.finish(old?.id ?? '', { state: 'done', result }, at(90_000));
      expect((await runs.get(P, old?.id ?? ''))?.state).toBe('interrupted');
    });

    it('keeps the result, and tells which accounts are due', async () => {
      const claim = await runs.claim(P, manual, at(0), at(-60_000));
      const id = claim.claimed ? claim.run.id : '';
      await runs.finish(id, { state: 'done', result }, at(5_000));
      expect(await runs.latestResult(P)).toMatchObject({ id, state: 'done', result, finishedAt: at(5_000) });
      await database.db
        .insertInto('installations')
        .values({
          portal_id: P,
          access_token_enc: 'x',
          refresh_token_enc: 'x',
          access_token_expires_at: t0,
          scopes: '[]',
          installed_by_user_id: 7,
          installed_at: t0,
          updated_at: t0,
          status: 'active',
          status_reason: null,
          status_changed_at: t0,
          refresh_started_at: null,
        })
        .execute();
      expect(await runs.due(at(0))).toEqual([]);
      expect(await runs.due(at(1))).toEqual([P]);
    });
  });
});
