import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { calibrationResultSchema, type CalibrationResult } from '../access/calibration.js';
import type { CalibrationRunsTable, Tables } from './schema.js';

export interface CalibrationRun {
  id: string;
  portalId: number;
  state: CalibrationRunsTable['state'];
  trigger: CalibrationRunsTable['trigger'];
  startedByUserId: number | null;
  startedAt: Date;
  heartbeatAt: Date;
  finishedAt: Date | null;
  progress: { done: number; total: number };
  calls: number;
  result: CalibrationResult | null;
  error: string | null;
}

export type Claim = { claimed: true; run: CalibrationRun } | { claimed: false; running: CalibrationRun };

export interface CalibrationRunStore {
  /**
   * Starts a run for the account unless one is running. A running run whose heartbeat is older than `staleBefore` is
   * marked interrupted first (its instance died or stopped): the claim takes over from it.
   */
  claim(portalId: number, start: { trigger: CalibrationRun['trigger']; userId: number | null }, now: Date, staleBefore: Date): Promise<Claim>;
  progress(id: string, progress: { done: number; total: number; calls: number }, now: Date): Promise<void>;
  finish(id: string, outcome: { state: 'done'; result: CalibrationResult } | { state: 'failed' | 'interrupted'; error: string }, now: Date): Promise<void>;
  latest(portalId: number): Promise<CalibrationRun | undefined>;
  /** The latest run that ended with a result. */
  latestResult(portalId: number): Promise<CalibrationRun | undefined>;
  get(portalId: number, id: string): Promise<CalibrationRun | undefined>;
  /** Accounts with an active install whose latest run started before `startedBefore` (or that never ran). */
  due(startedBefore: Date): Promise<number[]>;
}

function decode(row: Selectable<CalibrationRunsTable>): CalibrationRun {
  return {
    id: row.id,
    portalId: row.portal_id,
    state: row.state,
    trigger: row.trigger,
    startedByUserId: row.started_by_user_id,
    startedAt: new Date(row.started_at),
    heartbeatAt: new Date(row.heartbeat_at),
    finishedAt: row.finished_at === null ? null : new Date(row.finished_at),
    progress: { done: row.done, total: row.total },
    calls: row.calls,
    result: row.result === null ? null : calibrationResultSchema.parse(JSON.parse(row.result)),
    error: row.error,
  };
}

export function createCalibrationRunStore(db: Kysely<Tables>): CalibrationRunStore {
  const running = (portalId: number) =>
    db.selectFrom('calibration_runs').selectAll().where('portal_id', '=', portalId).where('state', '=', 'running').executeTakeFirst();
  const newest = (portalId: number) => db.selectFrom('calibration_runs').selectAll().where('portal_id', '=', portalId).orderBy('started_at', 'desc').limit(1);

  return {
    async claim(portalId, start, now, staleBefore) {
      await db
        .updateTable('calibration_runs')
        .set({ state: 'interrupted', finished_at: now.getTime(), error: 'its instance stopped reporting progress' })
        .where('portal_id', '=', portalId)
        .where('state', '=', 'running')
        .where('heartbeat_at', '<', staleBefore.getTime())
        .execute();
      const row = {
        id: randomUUID(),
        portal_id: portalId,
        state: 'running' as const,
        trigger: start.trigger,
        started_by_user_id: start.userId,
        started_at: now.getTime(),
        heartbeat_at: now.getTime(),
        finished_at: null,
        done: 0,
        total: 0,
        calls: 0,
        result: null,
        error: null,
      };
      try {
        await db.insertInto('calibration_runs').values(row).execute();
        return { claimed: true, run: decode(row) };
      } catch (error) {
        // The unique index on running runs refused it (another instance won the race), or the insert failed for
        // another reason, which then stands.
        const other = await running(portalId);
        if (other === undefined) throw error;
        return { claimed: false, running: decode(other) };
      }
    },

    async progress(id, { done, total, calls }, now) {
      await db.updateTable('calibration_runs').set({ done, total, calls, heartbeat_at: now.getTime() }).where('id', '=', id).execute();
    },

    async finish(id, outcome, now) {
      const result = outcome.state === 'done' ? JSON.stringify(calibrationResultSchema.parse(outcome.result)) : null;
      await db
        .updateTable('calibration_runs')
        .set({ state: outcome.state, result, error: outcome.state === 'done' ? null : outcome.error, finished_at: now.getTime(), heartbeat_at: now.getTime() })
        .where('id', '=', id)
        .where('state', '=', 'running')
        .execute();
    },

    async latest(portalId) {
      const row = await newest(portalId).executeTakeFirst();
      return row === undefined ? undefined : decode(row);
    },

    async latestResult(portalId) {
      const row = await newest(portalId).where('state', '=', 'done').executeTakeFirst();
      return row === undefined ? undefined : decode(row);
    },

    async get(portalId, id) {
      const row = await db.selectFrom('calibration_runs').selectAll().where('portal_id', '=', portalId).where('id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : decode(row);
    },

    async due(startedBefore) {
      // One query however many accounts: the schedule asks every minute.
      const rows = await db
        .selectFrom('installations')
        .leftJoin('calibration_runs', 'calibration_runs.portal_id', 'installations.portal_id')
        .select((eb) => ['installations.portal_id as portalId', eb.fn.max('calibration_runs.started_at').as('last')])
        .where('installations.status', '=', 'active')
        .groupBy('installations.portal_id')
        .execute();
      return rows.filter((row) => row.last === null || row.last < startedBefore.getTime()).map((row) => row.portalId);
    },
  };
}
