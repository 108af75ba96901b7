import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type z } from 'zod';
import { actionsOf, LEVELS, OBJECT_TYPE_NAMES, type Action, type Level, type ObjectType } from '../../backend/src/access/model.js';
import { calibrationAdoptResponse, calibrationResponse, statusResponse } from '../../backend/src/routes/responses.js';
import { loadSeed, type SeedAccount, type SeedUser } from '../hubspot-fake/index.js';
import { recordAccess } from '../hubspot-fake/permissions.js';
import { CRM_KINDS } from '../hubspot-fake/routes/shared.js';
import type { CallRecord } from '../hubspot-fake/state.js';
import { startHarness, type Harness } from '../support/harness.js';
import { DELIBERATE_DRIFT, driftedMirrorPolicy } from '../support/mirror-policy.js';

/**
 * Calibration end to end against the local HubSpot on the seeded account. Every expectation is derived from the seed
 * through the local HubSpot's own rules (hubspot-fake/permissions.ts, written apart from the backend's access/): a cell
 * is expected exact when no other level would give the same answers on every record calibration can sample (those of
 * active owners, and unassigned ones), and "not enough evidence" naming exactly those levels otherwise.
 */

const northwind = loadSeed().accounts.find((account) => account.name === 'Northwind Support') as SeedAccount;
const P = northwind.portalId;
const admin = northwind.users.find((user) => user.superAdmin && !user.deactivated) as SeedUser;
/** HubSpot's windows lifted to this many calls, so the run ends in seconds; calibration takes BUDGET_SHARE of them. */
const LIFTED = 25;
const BUDGET_SHARE = 0.2;
const WINDOWS = { general: 10_000, search: 1_000 };

type Kind = ObjectType;
type SeedRecord = SeedAccount['tickets'][number];

const recordsOf = (kind: Kind): SeedRecord[] => northwind[kind as 'tickets'];
const sampleable = (kind: Kind) =>
  recordsOf(kind).filter((record) => {
    const ownerId = record.properties.hubspot_owner_id;
    if (ownerId === undefined || ownerId === null || ownerId === '') return true;
    return northwind.owners.some((owner) => String(owner.id) === ownerId && !owner.archived);
  });
const withLevel = (user: SeedUser, kind: Kind, action: Action, level: Level): SeedUser => ({
  ...user,
  permissions: { ...user.permissions, [kind]: { ...user.permissions[kind as 'tickets'], [action]: level } },
});

/** The levels that answer exactly as the user's own on every record calibration can sample. */
function consistentLevels(user: SeedUser, kind: Kind, action: Action): Level[] {
  const records = sampleable(kind);
  const actual = records.map((record) => recordAccess(northwind, kind as 'tickets', record)(user, action));
  return LEVELS.filter((level) =>
    records.every((record, index) => recordAccess(northwind, kind as 'tickets', record)(withLevel(user, kind, action, level), action) === actual[index]),
  );
}

const seededLevel = (user: SeedUser, kind: Kind, action: Action): Level => (user.permissions[kind as 'tickets'] as Record<string, Level>)[action] as Level;
const calibrationSubjects = northwind.users.filter((user) => !user.superAdmin && !user.deactivated);
const cellsOf = (kind: Kind) => actionsOf(kind).map((action) => ({ kind, action }));
const everyCell = OBJECT_TYPE_NAMES.flatMap((kind) => cellsOf(kind));

/** The most calls in any window of `windowMs` among calls answered at these times. */
function busiestWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  return sorted.reduce((most, start, index) => Math.max(most, sorted.slice(index).filter((time) => time < start + windowMs).length), 0);
}

describe('calibration over the seeded account', () => {
  let h: Harness;
  let calls: CallRecord[];
  let view: z.infer<typeof calibrationResponse>;
  let secondStart: { statusCode: number; body: string };

  beforeAll(async () => {
    h = await startHarness({ liftRateLimits: LIFTED, env: { CALIBRATION_BUDGET_SHARE: String(BUDGET_SHARE) } });
    await h.installDirect(P, admin.id);
    const saved = await h.signed({ method: 'PUT', path: '/api/v1/admin/policy', portalId: P, userId: admin.id, body: driftedMirrorPolicy(northwind) });
    expect(saved.statusCode, saved.body).toBe(200);
    const before = h.fake.calls.all().length;
    const started = await h.signed({ method: 'POST', path: '/api/v1/admin/calibration', portalId: P, userId: admin.id });
    expect(started.statusCode, started.body).toBe(200);
    secondStart = await h.signed({ method: 'POST', path: '/api/v1/admin/calibration', portalId: P, userId: admin.id });
    await h.app.calibration.running(P);
    calls = h.fake.calls.all().slice(before);
    const answer = await h.signed({ path: '/api/v1/admin/calibration', portalId: P, userId: admin.id });
    expect(answer.statusCode, answer.body).toBe(200);
    view = calibrationResponse.parse(answer.json());
  }, 60_000);
  afterAll(async () => h.close());

  const userRow = (user: SeedUser) => view.result?.users.find((row) => row.userId === user.id);

  it('ends done, every step counted, and refuses a second start while it runs', () => {
    expect(view.latest).toMatchObject({ state: 'done', trigger: 'manual', startedBy: admin.id });
    expect(view.latest?.progress.done).toBe(view.latest?.progress.total);
    expect(secondStart.statusCode).toBe(409);
    expect(JSON.parse(secondStart.body)).toMatchObject({ error: { code: 'CALIBRATION_RUNNING' } });
  });

  it("infers every active user's level exactly where the seed offers the evidence, and says 'not enough evidence' elsewhere", () => {
    let exact = 0;
    let undecided = 0;
    for (const user of calibrationSubjects) {
      for (const { kind, action } of everyCell) {
        const cell = userRow(user)?.cells[kind]?.[action];
        const candidates = consistentLevels(user, kind, action);
        const where = `${user.firstName} ${kind} ${action}`;
        if (candidates.length === 1) {
          expect(cell, where).toMatchObject({ status: 'inferred', level: seededLevel(user, kind, action) });
          exact += 1;
        } else {
          expect(cell, where).toMatchObject({ status: 'not-enough-evidence' });
          expect(cell?.status === 'not-enough-evidence' && [...cell.candidates].sort(), where).toEqual([...candidates].sort());
          undecided += 1;
        }
      }
    }
    // The seed has both kinds of cell (Hugo owns no contact, for one), so neither branch above is empty.
    expect(exact).toBeGreaterThan(0);
    expect(undecided).toBeGreaterThan(0);
  });

  it('leaves Super Admins out (HubSpot gives them everything) and does not list deactivated users', () => {
    for (const user of northwind.users.filter((candidate) => candidate.superAdmin && !candidate.deactivated)) {
      expect(userRow(user)).toMatchObject({ skipped: 'super-admin', cells: {} });
    }
    for (const user of northwind.users.filter((candidate) => candidate.deactivated)) expect(userRow(user)).toBeUndefined();
  });

  it('backs every inferred cell with evidence that is true at the local HubSpot', () => {
    for (const user of calibrationSubjects) {
      for (const { kind, action } of everyCell) {
        const cell = userRow(user)?.cells[kind]?.[action];
        if (cell?.status !== 'inferred') continue;
        expect(cell.evidence.length).toBeGreaterThan(0);
        for (const evidence of cell.evidence) {
          const record = recordsOf(kind).find((candidate) => candidate.id === evidence.recordId) as SeedRecord;
          expect(recordAccess(northwind, kind as 'tickets', record)(user, action), evidence.sentence).toBe(evidence.allowed);
        }
      }
    }
  });

  it('shows the saved policy’s deliberate drift, and only cells where the policy differs from what the evidence shows', () => {
    const policy = driftedMirrorPolicy(northwind);
    const expected = calibrationSubjects.flatMap((user) =>
      everyCell.flatMap(({ kind, action }) => {
        const rules: Partial<Record<Action, Level>> | undefined = policy.users[String(user.id)]?.[kind];
        const saved = rules?.[action];
        const decided = consistentLevels(user, kind, action).length === 1;
        return decided && saved !== seededLevel(user, kind, action) ? [{ userId: user.id, objectType: kind, action, policy: saved ?? null }] : [];
      }),
    );
    const carla = northwind.users.find((user) => user.firstName === DELIBERATE_DRIFT.firstName) as SeedUser;
    // The saved policy mirrors the seed but for the one deliberate cell, which calibration can decide.
    expect(expected).toHaveLength(1);
    expect(expected).toContainEqual({
      userId: carla.id,
      objectType: DELIBERATE_DRIFT.objectType,
      action: DELIBERATE_DRIFT.action,
      policy: DELIBERATE_DRIFT.saved,
    });
    expect(view.result?.drift.map(({ userId, objectType, action, policy: saved }) => ({ userId, objectType, action, policy: saved }))).toEqual(expected);
    expect(view.result?.drift.find((drift) => drift.userId === carla.id)?.sentence).toBe(
      'Carla Mendes: HubSpot says Team, the policy says Owned only (tickets Delete)',
    );
  });

  it('stays within its share of each HubSpot window, counted at the local HubSpot, and counts its calls as HubSpot does', () => {
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every((call) => call.status === 200)).toBe(true);
    expect(view.latest?.calls).toBe(calls.length);
    const cap = Math.floor(LIFTED * BUDGET_SHARE);
    for (const lane of ['general', 'search'] as const) {
      const times = calls.filter((call) => call.route.endsWith('/search') === (lane === 'search')).map((call) => call.at);
      // More calls than one window's share, so the share, not the run's size, is what the count shows.
      expect(times.length, lane).toBeGreaterThan(cap);
      expect(busiestWindow(times, WINDOWS[lane]), lane).toBe(cap);
    }
  });

  it('shows the run in the admin status', async () => {
    const answer = await h.signed({ path: '/api/v1/admin/status', portalId: P, userId: admin.id });
    expect(statusResponse.parse(answer.json()).calibration).toMatchObject({
      schedule: { intervalHours: null, budgetShare: BUDGET_SHARE },
      latest: { id: view.latest?.id, state: 'done' },
    });
  });

  it('adopts the inferred levels as a new policy version, audited with who and when; then nothing drifts', async () => {
    const adopted = await h.signed({
      method: 'POST',
      path: '/api/v1/admin/calibration/adopt',
      portalId: P,
      userId: admin.id,
      body: { runId: view.result?.runId },
    });
    expect(adopted.statusCode, adopted.body).toBe(200);
    const body = calibrationAdoptResponse.parse(adopted.json());
    expect(body).toMatchObject({ version: view.policyVersion + 1, changedBy: admin.id, unresolved: [], drift: [] });
    const again = calibrationResponse.parse((await h.signed({ path: '/api/v1/admin/calibration', portalId: P, userId: admin.id })).json());
    expect(again.result?.drift).toEqual([]);
    expect(again.policyVersion).toBe(body.version);
    const audit = await h.signed({ path: '/api/v1/admin/audit?limit=5', portalId: P, userId: admin.id });
    expect(audit.json().entries[0]).toMatchObject({
      userId: admin.id,
      action: 'calibration-adopt',
      outcome: 'done',
      message: `policy version ${body.version} from calibration run ${view.result?.runId}`,
      at: body.changedAt,
    });
  });
});

describe('calibration where the account did not grant every object type', () => {
  let h: Harness;
  afterAll(async () => h.close());

  it('leaves the types HubSpot will not let it read out, saying why, and calibrates the others', async () => {
    h = await startHarness({ liftRateLimits: 100, env: { CALIBRATION_BUDGET_SHARE: '0.5' } });
    // An install from before the app asked for deals and companies: their scopes were never granted.
    const newer = CRM_KINDS.filter((entry) => entry.kind === 'deals' || entry.kind === 'companies').flatMap((entry) => [
      ...entry.readScopes,
      ...entry.writeScopes,
    ]);
    const granted = h.config.hubspot.requiredScopes.filter((scope) => !newer.some((dropped) => dropped === scope));
    await h.installDirect(P, admin.id, granted);
    const started = await h.signed({ method: 'POST', path: '/api/v1/admin/calibration', portalId: P, userId: admin.id });
    expect(started.statusCode, started.body).toBe(200);
    await h.app.calibration.running(P);
    const view = calibrationResponse.parse((await h.signed({ path: '/api/v1/admin/calibration', portalId: P, userId: admin.id })).json());
    expect(view.latest).toMatchObject({ state: 'done' });
    expect(view.latest?.progress.done).toBe(view.latest?.progress.total);
    // Each type whose read scope (at the local HubSpot) was not granted is listed, the rest calibrated.
    const readable = (kind: ObjectType) => CRM_KINDS.some((entry) => entry.kind === kind && entry.readScopes.some((scope) => granted.includes(scope)));
    const unreadable = OBJECT_TYPE_NAMES.filter((kind) => !readable(kind));
    expect(unreadable.length).toBeGreaterThan(0);
    expect(view.result?.unreadable.map((entry) => entry.objectType)).toEqual(unreadable);
    for (const entry of view.result?.unreadable ?? []) expect(entry.reason).toMatch(/did not grant Viewer Guard/);
    const bob = view.result?.users.find((user) => !user.skipped && user.userId !== admin.id);
    expect(Object.keys(bob?.cells ?? {}).sort()).toEqual(OBJECT_TYPE_NAMES.filter(readable).sort());
  });
});
