import type { Action, ObjectType } from '../access/model.js';
import { policyDocumentSchema, resolvePolicyGrant, type PolicyDocument } from '../access/policy.js';
import type { AuditLog, AuditOutcome, InstallationStore, PolicyStore, StoredPolicy } from '../store/index.js';
import { displayName, type Directory } from '../viewer/directory.js';
import type { AccessSource } from './access-source.js';
import type { Calibration } from './calibration.js';
import type { ViewerContext } from './context.js';
import type { IdentitySources } from './identity-sources.js';
import { loadRecord } from './records.js';

/** What each required scope enables, for the status page's "missing scopes" explanation. */
const SCOPE_PURPOSE: Record<string, string> = {
  oauth: 'basic app access',
  tickets: 'reading and changing tickets',
  'crm.objects.contacts.read': 'reading contacts and their tickets',
  'crm.objects.contacts.write': 'adding notes',
  'crm.objects.deals.read': 'reading deals',
  'crm.objects.deals.write': 'assigning deals and adding notes to them',
  'crm.objects.companies.read': 'reading companies',
  'crm.objects.companies.write': 'assigning companies and adding notes to them',
  'crm.objects.owners.read': 'knowing who owns a record',
  'settings.users.read': 'knowing who the viewer is',
  'settings.users.teams.read': 'team-level access',
};

export interface AdminDeps {
  access: AccessSource;
  directory: Directory;
  installations: InstallationStore;
  policies: PolicyStore;
  audit: AuditLog;
  now: () => number;
  scopes: { required: readonly string[]; optional: readonly string[] };
  accessSource: AccessSource['mode'];
  /** Whose names identified the viewer on the account's latest requests: HubSpot's, or the card's (development only). */
  identitySources: Pick<IdentitySources, 'summary'>;
  /** Where a Super Admin (re)installs; the settings page links to it. */
  installUrl: string;
  /** Calibration's schedule and latest run, for the status. */
  calibration: Pick<Calibration, 'status'>;
}

/**
 * What each kind of recent failure means for the admin, and what to check. A failed write was not carried out by
 * HubSpot (usecases/writes.ts: NOT_CARRIED_OUT); an unknown one was sent but its result never learned, so HubSpot may
 * have made the change: making it again blindly could make it twice.
 */
const FAILURE_MEANING = {
  failed: 'HubSpot did not make this change. Nothing needs undoing; the person can try again once the cause below is fixed.',
  unknown:
    'The outcome is unknown: the change was sent to HubSpot, but whether HubSpot made it was never learned. Open the record in HubSpot and check whether the change is there before making it again.',
} as const satisfies Partial<Record<AuditOutcome, string>>;
const FAILURE_OUTCOMES = Object.keys(FAILURE_MEANING) as Array<keyof typeof FAILURE_MEANING>;
const isFailure = (outcome: AuditOutcome): outcome is keyof typeof FAILURE_MEANING => outcome in FAILURE_MEANING;

const storedPolicy = (stored: StoredPolicy) => ({
  version: stored.version,
  document: stored.document,
  changedBy: stored.changedByUserId,
  changedAt: stored.changedAt.toISOString(),
});

/**
 * The settings page's use cases. Who may call them is the pipeline's business (route config `auth: 'admin'`, checked
 * before any of these run); each acts for the admin's own account only.
 */
export function createAdmin(deps: AdminDeps) {
  const at = () => new Date(deps.now());

  return {
    async status(ctx: ViewerContext) {
      const installation = await deps.installations.get(ctx.viewer.portalId);
      const requested = [...deps.scopes.required, ...deps.scopes.optional];
      const granted = new Set(installation?.scopes ?? []);
      const installer = installation === undefined ? undefined : await ctx.portal.getUser(installation.installedByUserId).catch(() => undefined);
      const recent = await deps.audit.page(ctx.viewer.portalId, { limit: 5, outcomes: FAILURE_OUTCOMES });
      return {
        installation:
          installation === undefined
            ? null
            : {
                status: installation.status,
                statusReason: installation.statusReason,
                installedAt: installation.installedAt.toISOString(),
                installedBy: { userId: installation.installedByUserId, name: installer === undefined ? null : displayName(installer) },
                tokenExpiresAt: installation.accessTokenExpiresAt.toISOString(),
              },
        scopes: {
          requested,
          granted: [...granted],
          missing: requested.filter((scope) => !granted.has(scope)).map((scope) => ({ scope, disables: SCOPE_PURPOSE[scope] ?? 'an optional feature' })),
        },
        accessSource: { configured: deps.accessSource, ...(await deps.access.probe(ctx)) },
        identitySource: deps.identitySources.summary(ctx.viewer.portalId),
        recentFailures: recent.entries.flatMap((entry) =>
          isFailure(entry.outcome)
            ? [
                {
                  at: entry.at.toISOString(),
                  action: entry.action,
                  objectType: entry.objectType,
                  recordId: entry.recordId,
                  outcome: entry.outcome,
                  meaning: FAILURE_MEANING[entry.outcome],
                  message: entry.message,
                },
              ]
            : [],
        ),
        installUrl: deps.installUrl,
        calibration: await deps.calibration.status(ctx.viewer.portalId),
      };
    },

    /** Who and what the policy editor and the decision explorer can pick from, with names. */
    async directory(ctx: ViewerContext) {
      const [users, teams, roles] = await Promise.all([ctx.portal.listUsers(), deps.directory.teams(ctx.portal), ctx.portal.listRoles()]);
      return {
        users: users.map((user) => ({
          id: user.id,
          name: displayName(user),
          email: user.email,
          superAdmin: user.superAdmin,
          teamIds: [...(user.primaryTeamId === undefined ? [] : [user.primaryTeamId]), ...(user.secondaryTeamIds ?? [])],
          roleIds: user.roleIds,
        })),
        teams,
        roles,
      };
    },

    async policy(ctx: ViewerContext) {
      const stored = await deps.policies.current(ctx.viewer.portalId);
      return stored === undefined ? { version: 0, document: policyDocumentSchema.parse({}), changedBy: null, changedAt: null } : storedPolicy(stored);
    },

    /** Who changed the levels, and when: every saved version, newest first. */
    async policyHistory(ctx: ViewerContext, limit: number) {
      return { versions: (await deps.policies.history(ctx.viewer.portalId, limit)).map(storedPolicy) };
    },

    async savePolicy(ctx: ViewerContext, document: PolicyDocument) {
      const saved = await deps.policies.save(ctx.viewer.portalId, document, ctx.viewer.userId, at());
      await deps.audit.record(
        { portalId: ctx.viewer.portalId, userId: ctx.viewer.userId, action: 'policy-update', outcome: 'done', message: `policy version ${saved.version}` },
        at(),
      );
      return storedPolicy(saved);
    },

    /** The full decision trace for any user of the admin's account on any of its records. */
    async explain(ctx: ViewerContext, input: { userId: number; objectType: ObjectType; recordId: string; action: Action }) {
      const subject = { viewer: await deps.directory.resolveViewer(ctx.portal, input.userId), portal: ctx.portal };
      const loaded = await loadRecord(deps.access, subject, input.objectType, input.recordId);
      const decision = await deps.access.decide(subject, input.action, loaded.facts);
      const { viewer } = subject;
      const policyRule = resolvePolicyGrant(
        await deps.access.policy(ctx.viewer.portalId),
        { userId: viewer.userId, superAdmin: viewer.superAdmin, teamIds: viewer.teams.map((team) => team.id), roleIds: viewer.roleIds },
        input.objectType,
        input.action,
      );
      return {
        decision,
        trace: {
          viewer: { userId: viewer.userId, ownerId: viewer.ownerId, superAdmin: viewer.superAdmin, teams: viewer.teams, roleIds: viewer.roleIds },
          record: loaded.facts,
          policyRule,
          accessSource: deps.accessSource,
        },
      };
    },

    async auditPage(
      ctx: ViewerContext,
      query: { limit: number; before?: string | undefined; user?: number | undefined; recordId?: string | undefined; outcome?: AuditOutcome | undefined },
    ) {
      const { user, ...filters } = query;
      const page = await deps.audit.page(ctx.viewer.portalId, {
        limit: filters.limit,
        ...(filters.before === undefined ? {} : { before: filters.before }),
        ...(filters.recordId === undefined ? {} : { recordId: filters.recordId }),
        ...(filters.outcome === undefined ? {} : { outcome: filters.outcome }),
        ...(user === undefined ? {} : { userId: user }),
      });
      return { entries: page.entries.map((entry) => ({ ...entry, at: entry.at.toISOString() })), nextCursor: page.nextCursor };
    },

    /** Uninstall from HubSpot first, then delete the tokens: a failed uninstall leaves everything as it was. */
    async disconnect(ctx: ViewerContext) {
      await ctx.portal.uninstall();
      await deps.installations.forgetTokens(ctx.viewer.portalId, at());
      await deps.audit.record(
        {
          portalId: ctx.viewer.portalId,
          userId: ctx.viewer.userId,
          action: 'disconnect',
          outcome: 'done',
          message: 'uninstalled from HubSpot; tokens deleted',
        },
        at(),
      );
      return { disconnected: true as const, installUrl: deps.installUrl };
    },
  };
}
export type Admin = ReturnType<typeof createAdmin>;
