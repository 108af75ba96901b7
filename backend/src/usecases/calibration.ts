import { adoptionDocument, aggregateRoles, driftOf, inferCells, type AdoptSelection, type CalibrationResult, type Observation } from '../access/calibration.js';
import { ownerRelation } from '../access/decide.js';
import { OBJECT_TYPE_NAMES, type Action, type ObjectType, type ViewerFacts } from '../access/model.js';
import { EMPTY_POLICY, policyDocumentSchema } from '../access/policy.js';
import { AppError } from '../errors.js';
import type { HubSpotApi, PortalApi } from '../hubspot/api.js';
import type { OwnerRecord, PermittedActions } from '../hubspot/crm.js';
import { PERMITTED_USERS_PER_CALL } from '../hubspot/crm.js';
import { Deadline } from '../hubspot/deadline.js';
import type { AuditLog, CalibrationRun, CalibrationRunStore, PolicyStore } from '../store/index.js';
import { displayName } from '../viewer/directory.js';
import type { ViewerContext } from './context.js';

/**
 * Calibration's sampling and its runs. The permissions API answers for every user of the account per record, so records
 * are sampled per owner, not per user: RECORDS_PER_OWNER of each owner's (one search each) and UNASSIGNED_RECORDS with
 * no owner (one search), then asked about PERMITTED_USERS_PER_CALL at a time. Each user's relation to each record
 * (theirs, a teammate's, an outsider's, nobody's) follows from the owners' teams, and access/calibration.ts infers the
 * levels. Cost per object type: (owners + 1) searches + ceil(sampled records / 20) permission calls, plus four
 * directory reads per run (users, owners, teams, roles; more pages past 100 users or 500 owners).
 */

/** Two per owner: one would do to place the owner's relation, the second shows answers that disagree. */
export const RECORDS_PER_OWNER = 2;
export const UNASSIGNED_RECORDS = 2;
/** The directory reads every run starts with. */
const DIRECTORY_CALLS = 4;
/**
 * Each step's HubSpot calls end within this: a call held back by calibration's share waits at most one window (10 s), so
 * minutes mean HubSpot is failing, and the run fails with HubSpot's own error rather than hang.
 */
const STEP_DEADLINE = { budgetMs: 2 * 60_000, attemptCapMs: 10_000 };
/**
 * A running run's heartbeat is written with every step, at least once per STEP_DEADLINE; one silent for longer than
 * this belongs to an instance that died, and the next claim marks it interrupted and takes over.
 */
export const STALE_RUN_MS = 5 * 60_000;
/** How often the schedule looks for accounts due; the interval itself is CALIBRATION_INTERVAL_HOURS. */
const SCHEDULE_CHECK_MS = 60_000;
/** The scheduler's name for calibration's calls: its share of each window is counted under it. */
const CALLER = 'calibration';

export interface CalibrationDeps {
  runs: CalibrationRunStore;
  policies: PolicyStore;
  audit: AuditLog;
  hubspot: HubSpotApi;
  now: () => number;
  budgetShare: number;
  /** null: no schedule. */
  intervalMs: number | null;
  log: { error(details: object, message: string): void };
}

class Stopped extends Error {}

/** A sampled record, its owner as the Owners API lists them (null: unassigned) and HubSpot's answer about it. */
type Answered = Array<{ owner: OwnerRecord | null; id: string; permitted: PermittedActions }>;

export function createCalibration(deps: CalibrationDeps) {
  const at = () => new Date(deps.now());
  /** Runs this instance is carrying out, by account: awaited when the server stops. */
  const carrying = new Map<number, Promise<void>>();
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;

  const portalFor = (portalId: number): PortalApi =>
    deps.hubspot.forPortal(portalId, { deadline: new Deadline(STEP_DEADLINE, 'calibration', deps.now), background: { name: CALLER, share: deps.budgetShare } });

  async function execute(run: CalibrationRun): Promise<void> {
    const progress = { done: 0, total: DIRECTORY_CALLS, calls: 0 };
    // One HubSpot call per step, so steps done are the calls used (a directory read of many pages counts once).
    const step = async <T>(work: (portal: PortalApi) => Promise<T>): Promise<T> => {
      if (stopping) throw new Stopped();
      const value = await work(portalFor(run.portalId));
      progress.done += 1;
      progress.calls += 1;
      await deps.runs.progress(run.id, progress, at());
      return value;
    };

    const [users, owners, teams, roles] = [
      await step((portal) => portal.listUsers()),
      await step((portal) => portal.listOwners()),
      await step((portal) => portal.listTeams()),
      await step((portal) => portal.listRoles()),
    ];
    const teamName = new Map(teams.map((team) => [team.id, team.name]));
    const ownerById = new Map(owners.map((owner) => [owner.id, owner]));
    const batches = (records: number) => Math.ceil(records / PERMITTED_USERS_PER_CALL);
    progress.total += OBJECT_TYPE_NAMES.length * (owners.length + 1 + batches(owners.length * RECORDS_PER_OWNER + UNASSIGNED_RECORDS));

    /** RECORDS_PER_OWNER of each owner's records and some unassigned ones, with HubSpot's answer about each. */
    async function sample(objectType: ObjectType, plan: { steps: number }) {
      const sampled: Array<{ id: string; ownerId: number | null }> = [];
      for (const owner of owners) {
        sampled.push(...(await step((portal) => portal.searchRecordsByOwner(objectType, { kind: 'owners', ownerIds: [owner.id] }, RECORDS_PER_OWNER))));
      }
      sampled.push(...(await step((portal) => portal.searchRecordsByOwner(objectType, { kind: 'unassigned' }, UNASSIGNED_RECORDS))));
      // The estimate assumed every owner had RECORDS_PER_OWNER; now the batches are known.
      const steps = owners.length + 1 + batches(sampled.length);
      progress.total += steps - plan.steps;
      plan.steps = steps;
      const found: Answered = [];
      for (let start = 0; start < sampled.length; start += PERMITTED_USERS_PER_CALL) {
        const chunk = sampled.slice(start, start + PERMITTED_USERS_PER_CALL);
        const permitted = await step((portal) =>
          portal.permittedUsersMany(
            objectType,
            chunk.map((record) => record.id),
          ),
        );
        for (const record of chunk) {
          const answer = permitted.get(record.id);
          // An answer we could not read is no evidence either way.
          if (answer !== undefined)
            found.push({ owner: record.ownerId === null ? null : (ownerById.get(record.ownerId) ?? null), id: record.id, permitted: answer });
        }
      }
      return found;
    }

    const answers = new Map<ObjectType, Answered>();
    const unreadable: CalibrationResult['unreadable'] = [];
    for (const objectType of OBJECT_TYPE_NAMES) {
      const plan = { steps: owners.length + 1 + batches(owners.length * RECORDS_PER_OWNER + UNASSIGNED_RECORDS) };
      const before = progress.done;
      try {
        answers.set(objectType, await sample(objectType, plan));
      } catch (error) {
        // An object type the account did not grant Viewer Guard (an install from before the deal and company scopes were
        // required) is left out with the reason; its cells stay unset, as with any missing evidence. Anything else fails the run.
        if (!(error instanceof AppError) || error.code !== 'HUBSPOT_SCOPE_MISSING') throw error;
        unreadable.push({ objectType, reason: error.message });
        progress.total -= plan.steps - (progress.done - before);
        await deps.runs.progress(run.id, progress, at());
      }
    }

    const calibrated = users.map((user) => {
      const teamIds = [...(user.primaryTeamId === undefined ? [] : [user.primaryTeamId]), ...(user.secondaryTeamIds ?? [])];
      const base = { userId: user.id, name: displayName(user), roleIds: user.roleIds, teamIds };
      // HubSpot gives Super Admins every permission: nothing to infer.
      if (user.superAdmin) return { ...base, skipped: 'super-admin' as const, cells: {} };
      const ownerId = owners.find((owner) => owner.userId === user.id)?.id ?? null;
      const viewer: ViewerFacts = {
        userId: user.id,
        name: base.name,
        superAdmin: false,
        ownerId,
        teams: teamIds.map((id) => ({ id, name: teamName.get(id) ?? id })),
      };
      const observe = (objectType: ObjectType, action: Action): Observation[] =>
        (answers.get(objectType) ?? []).map(({ owner, id, permitted }) => ({
          recordId: id,
          relation: ownerRelation(viewer, { objectType, id, owner: owner === null ? null : { ownerId: owner.id, name: owner.name, teamIds: owner.teamIds } }),
          allowed: permitted.get(action)?.includes(user.id) ?? false,
          owner: owner === null ? null : { name: owner.name, teamNames: owner.teamIds.map((teamId) => teamName.get(teamId) ?? teamId) },
        }));
      const subject = { userId: user.id, name: base.name, isOwner: ownerId !== null, teamNames: viewer.teams.map((team) => team.name) };
      return { ...base, skipped: null, cells: inferCells(subject, [...answers.keys()], observe) };
    });
    const result: CalibrationResult = { users: calibrated, unreadable, roles: aggregateRoles(calibrated, roles) };
    await deps.runs.finish(run.id, { state: 'done', result }, at());
  }

  function launch(run: CalibrationRun): void {
    const work = execute(run).catch(async (error: unknown) => {
      const interrupted = error instanceof Stopped;
      const message = interrupted ? 'the server stopped before it ended' : error instanceof Error ? error.message : String(error);
      if (!interrupted) deps.log.error({ err: error, portalId: run.portalId, runId: run.id }, 'calibration failed');
      // Unrecorded, the run stays 'running' until its heartbeat is stale and the next claim marks it interrupted.
      await deps.runs
        .finish(run.id, { state: interrupted ? 'interrupted' : 'failed', error: message }, at())
        .catch((finishError: unknown) => deps.log.error({ err: finishError, runId: run.id }, 'calibration outcome not recorded'));
    });
    const tracked = work.finally(() => carrying.delete(run.portalId));
    carrying.set(run.portalId, tracked);
  }

  async function claim(portalId: number, start: { trigger: CalibrationRun['trigger']; userId: number | null }) {
    const now = at();
    const claimed = await deps.runs.claim(portalId, start, now, new Date(now.getTime() - STALE_RUN_MS));
    if (claimed.claimed) launch(claimed.run);
    return claimed;
  }

  /** Starts a run for each installed account whose latest run is older than the interval. */
  async function checkSchedule(): Promise<void> {
    if (deps.intervalMs === null || stopping) return;
    try {
      for (const portalId of await deps.runs.due(new Date(deps.now() - deps.intervalMs))) {
        if (!carrying.has(portalId)) await claim(portalId, { trigger: 'schedule', userId: null });
      }
    } catch (error) {
      deps.log.error({ err: error }, 'scheduled calibration could not start; the next check tries again');
    }
  }

  const summary = (run: CalibrationRun) => ({
    id: run.id,
    state: run.state,
    trigger: run.trigger,
    startedBy: run.startedByUserId,
    startedAt: run.startedAt.toISOString(),
    finishedAt: run.finishedAt?.toISOString() ?? null,
    progress: run.progress,
    calls: run.calls,
    error: run.error,
  });

  const schedule = { intervalHours: deps.intervalMs === null ? null : deps.intervalMs / 3_600_000, budgetShare: deps.budgetShare };

  return {
    /** The latest run, for the admin status. */
    async status(portalId: number) {
      const latest = await deps.runs.latest(portalId);
      return { schedule, latest: latest === undefined ? null : summary(latest) };
    },

    /** The latest run and the latest result, with where the saved policy differs from it. */
    async view(ctx: ViewerContext) {
      const portalId = ctx.viewer.portalId;
      const [latest, finished, policy] = await Promise.all([deps.runs.latest(portalId), deps.runs.latestResult(portalId), deps.policies.current(portalId)]);
      const result = finished?.result ?? null;
      return {
        schedule,
        latest: latest === undefined ? null : summary(latest),
        result:
          finished === undefined || result === null
            ? null
            : {
                runId: finished.id,
                finishedAt: finished.finishedAt?.toISOString() ?? null,
                ...result,
                drift: driftOf(result, policy?.document ?? EMPTY_POLICY),
              },
        policyVersion: policy?.version ?? 0,
      };
    },

    async start(ctx: ViewerContext) {
      const { portalId, userId } = ctx.viewer;
      const claimed = await claim(portalId, { trigger: 'manual', userId });
      if (!claimed.claimed) {
        throw new AppError('CALIBRATION_RUNNING', {
          message: `A calibration of this account is already running (started ${claimed.running.startedAt.toISOString()}, ${claimed.running.progress.done} of ${claimed.running.progress.total} steps done).`,
        });
      }
      await deps.audit.record({ portalId, userId, action: 'calibration-start', outcome: 'done', message: `calibration run ${claimed.run.id} started` }, at());
      return summary(claimed.run);
    },

    /** Saves the run's inferred levels as a new policy version: every cell with evidence, or the chosen ones. */
    async adopt(ctx: ViewerContext, input: { runId: string; cells?: AdoptSelection[] | undefined }) {
      const { portalId, userId } = ctx.viewer;
      const run = await deps.runs.get(portalId, input.runId);
      const result = run?.result ?? null;
      if (run === undefined || result === null) {
        throw new AppError('NOT_FOUND', {
          message: 'This account has no finished calibration run with that id.',
          fix: 'Run calibration, then adopt its levels.',
        });
      }
      const current = await deps.policies.current(portalId);
      const adoption = adoptionDocument(current?.document ?? EMPTY_POLICY, result, input.cells);
      const valid = policyDocumentSchema.safeParse(adoption.document);
      if (!valid.success) {
        throw new AppError('VALIDATION_FAILED', {
          message: "HubSpot's levels cannot be saved over this policy as they are: a rule's Edit would reach past its View.",
          details: valid.error.issues.map((issue) => ({ field: issue.path.join('.'), message: issue.message })),
        });
      }
      // One moment for the version and its audit entry: who adopted it, and when, read the same in both.
      const when = at();
      const saved = await deps.policies.save(portalId, valid.data, userId, when);
      await deps.audit.record(
        { portalId, userId, action: 'calibration-adopt', outcome: 'done', message: `policy version ${saved.version} from calibration run ${run.id}` },
        when,
      );
      return {
        version: saved.version,
        changedBy: saved.changedByUserId,
        changedAt: saved.changedAt.toISOString(),
        unresolved: adoption.unresolved,
        drift: driftOf(result, saved.document),
      };
    },

    /** Checks for accounts due now and then every minute; the timer never keeps the process alive. */
    startSchedule(): void {
      if (deps.intervalMs === null || timer !== undefined) return;
      void checkSchedule();
      timer = setInterval(() => void checkSchedule(), SCHEDULE_CHECK_MS).unref();
    },

    /** Stops the schedule; runs in progress end at their next step, as interrupted. */
    async stop(): Promise<void> {
      stopping = true;
      if (timer !== undefined) clearInterval(timer);
      await Promise.all(carrying.values());
    },

    checkSchedule,

    /** Tests: the run this instance is carrying out for the account, to await its end. */
    running: (portalId: number): Promise<void> | undefined => carrying.get(portalId),
  };
}
export type Calibration = ReturnType<typeof createCalibration>;
