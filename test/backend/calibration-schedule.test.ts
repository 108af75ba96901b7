import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBackend } from '../../backend/src/app.js';
import { createCalibrationRunStore } from '../../backend/src/store/index.js';
import { loadSeed } from '../hubspot-fake/index.js';
import { startHarness, type Harness } from '../support/harness.js';

/**
 * The schedule and the claim with two backend instances on one database and one local HubSpot: a due account is
 * calibrated once, by one of them, and not again within the interval; stopping an instance ends its run as interrupted.
 */

const northwind = loadSeed().accounts.find((account) => account.name === 'Northwind Support');
const P = northwind?.portalId ?? 0;
const admin = northwind?.users.find((user) => user.superAdmin && !user.deactivated);

describe('scheduled calibration across two instances', () => {
  const tokenKeys = [randomBytes(32)];
  let h: Harness;
  let second: FastifyInstance;
  const runs = () => createCalibrationRunStore(h.database.db);
  const allRuns = () => h.database.db.selectFrom('calibration_runs').selectAll().where('portal_id', '=', P).execute();

  beforeAll(async () => {
    h = await startHarness({ tokenKeys, liftRateLimits: 100, env: { CALIBRATION_INTERVAL_HOURS: '1', CALIBRATION_BUDGET_SHARE: '0.5' } });
    // A second instance: same configuration, database and key, its own scheduler and timers.
    second = await buildBackend({ config: h.config, database: h.database, tokenKeys });
    await second.ready();
    await h.installDirect(P, admin?.id ?? 0);
  });
  afterAll(async () => {
    await second.close();
    await h.close();
  });

  it('calibrates a due account once, whichever instance looks first, and not again within the interval', async () => {
    await Promise.all([h.app.calibration.checkSchedule(), second.calibration.checkSchedule()]);
    await Promise.all([h.app.calibration.running(P), second.calibration.running(P)]);
    const [run] = await allRuns();
    expect(await allRuns()).toHaveLength(1);
    expect(run).toMatchObject({ trigger: 'schedule', started_by_user_id: null, state: 'done' });
    await Promise.all([h.app.calibration.checkSchedule(), second.calibration.checkSchedule()]);
    expect(await allRuns()).toHaveLength(1);
  });

  it('ends a run as interrupted when its instance stops', async () => {
    const started = await runs().claim(P, { trigger: 'manual', userId: admin?.id ?? 0 }, new Date(), new Date(0));
    expect(started.claimed).toBe(true);
    // The claim above holds the account: neither instance may start another.
    await second.calibration.checkSchedule();
    expect(second.calibration.running(P)).toBeUndefined();
    await runs().finish(started.claimed ? started.run.id : '', { state: 'failed', error: 'test' }, new Date());

    const response = await h.signed({ method: 'POST', path: '/api/v1/admin/calibration', portalId: P, userId: admin?.id ?? 0 });
    expect(response.statusCode, response.body).toBe(200);
    const id = response.json<{ id: string }>().id;
    await h.app.calibration.stop();
    const run = await runs().get(P, id);
    expect(run).toMatchObject({ state: 'interrupted', error: 'the server stopped before it ended' });
    expect(run?.progress.done).toBeLessThan(run?.progress.total ?? 0);
  });
});
