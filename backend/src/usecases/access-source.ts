import { explain, decide as decidePure, type Decision } from '../access/decide.js';
import type { Action, ObjectType, RecordFacts, ViewerFacts } from '../access/model.js';
import { EMPTY_POLICY, resolvePolicyGrant, type PolicyDocument } from '../access/policy.js';
import { visibility, type Visibility } from '../access/visibility.js';
import { isAppError } from '../errors.js';
import type { PermittedActions } from '../hubspot/crm.js';
import { createTtlCache } from '../lib/ttl-cache.js';
import type { PolicyStore } from '../store/index.js';
import { displayName, type Directory, type Viewer } from '../viewer/directory.js';
import type { ViewerContext } from './context.js';

export type AccessMode = 'auto' | 'hubspot' | 'policy';

/** Who may do what to which record: the two sources of DESIGN.md behind one interface, and the facts they need. */
export interface AccessSource {
  readonly mode: AccessMode;
  viewerFacts(viewer: Viewer): ViewerFacts;
  recordFacts(ctx: ViewerContext, objectType: ObjectType, record: { id: string; ownerId: number | null }): Promise<RecordFacts>;
  decide(ctx: ViewerContext, action: Action, record: RecordFacts): Promise<Decision>;
  /**
   * For a record that does not exist yet (a ticket about to be created): HubSpot's permissions API can only be
   * asked about existing records, so the admin's mirrored levels decide.
   */
  decideNew(ctx: ViewerContext, action: Action, record: RecordFacts): Promise<Decision>;
  /**
   * Which records of a type the viewer may see by the policy, for search filters (HubSpot's permissions API answers
   * per record only). `configured` is false when the admin has not set this viewer's level.
   */
  visibility(ctx: ViewerContext, objectType: ObjectType): Promise<{ rule: Visibility; configured: boolean; decisionFor: (record: RecordFacts) => Decision }>;
  policy(portalId: number): Promise<PolicyDocument>;
  ownerName(ctx: ViewerContext, ownerId: number | null): Promise<string | null>;
  /** Our own write changed this record: whatever HubSpot said about it before no longer counts. */
  forget(portalId: number, objectType: ObjectType, recordId: string): void;
}

export interface AccessSourceOptions {
  mode: AccessMode;
  directory: Directory;
  policies: PolicyStore;
  now: () => number;
  /** How long HubSpot's per-record answer is shared by every viewer of that record. */
  permissionsTtlMs?: number;
}

/** An owner id with no active owner behind it: someone who left, or was deactivated. */
const formerOwner = (ownerId: number) => `a former user (owner ${ownerId})`;

/** HubSpot's answers are shared for this long at most (see the cache below for what else drops them). */
const PERMISSIONS_TTL_MS = 30_000;
const PERMISSIONS_MAX_RECORDS = 50_000;

export function createAccessSource(options: AccessSourceOptions): AccessSource {
  /*
   * HubSpot's permitted-users answer per record, shared by every viewer of that record. Its facts depend on the
   * record's owner, so an entry is valid only for the owner it was fetched under: the record itself is re-read from
   * HubSpot on every request, and a different owner (a reassignment in HubSpot's UI or through us) makes the entry
   * stale at once. Our own writes drop it (forget). Bound: PERMISSIONS_TTL_MS (a permission-set change in HubSpot, which
   * nothing tells us about, is seen within it) and PERMISSIONS_MAX_RECORDS entries, oldest evicted first.
   */
  const permitted = createTtlCache<{ ownerId: number | null; answer: PermittedActions | undefined }>({
    ttlMs: options.permissionsTtlMs ?? PERMISSIONS_TTL_MS,
    maxEntries: PERMISSIONS_MAX_RECORDS,
    now: options.now,
  });
  const recordKey = (portalId: number, objectType: ObjectType, recordId: string) => `${portalId}:${objectType}:${recordId}`;

  const viewerFacts = (viewer: Viewer): ViewerFacts => ({
    userId: viewer.userId,
    name: displayName(viewer),
    superAdmin: viewer.superAdmin,
    ownerId: viewer.ownerId,
    teams: viewer.teams.map((team) => ({ id: team.id, name: team.name })),
  });

  const policy = async (portalId: number) => (await options.policies.current(portalId))?.document ?? EMPTY_POLICY;

  const subject = (viewer: Viewer) => ({ userId: viewer.userId, superAdmin: viewer.superAdmin, teamIds: viewer.teams.map((team) => team.id), roleIds: viewer.roleIds });

  async function policyDecision(ctx: ViewerContext, action: Action, record: RecordFacts): Promise<Decision> {
    const grant = resolvePolicyGrant(await policy(ctx.viewer.portalId), subject(ctx.viewer), record.objectType, action);
    return decidePure(viewerFacts(ctx.viewer), action, record, grant);
  }

  /** HubSpot's verdict for this record under its current owner; undefined when it cannot be had (scope, outage, shape). */
  async function hubspotAnswer(ctx: ViewerContext, record: RecordFacts): Promise<PermittedActions | undefined> {
    const key = recordKey(ctx.portal.portalId, record.objectType, record.id);
    const ownerId = record.owner?.ownerId ?? null;
    const load = async () => ({ ownerId, answer: await ctx.portal.permittedUsers(record.objectType, record.id) });
    try {
      const cached = await permitted.getOrLoad(key, load);
      if (cached.ownerId === ownerId) return cached.answer;
      permitted.delete(key);
      return (await permitted.getOrLoad(key, load)).answer;
    } catch (error) {
      if (isAppError(error) && ['HUBSPOT_SCOPE_MISSING', 'HUBSPOT_UNAVAILABLE', 'HUBSPOT_RATE_LIMITED', 'HUBSPOT_REFUSED', 'HUBSPOT_RESPONSE_INVALID'].includes(error.code)) return undefined;
      throw error;
    }
  }

  async function hubspotDecision(ctx: ViewerContext, action: Action, record: RecordFacts): Promise<Decision | undefined> {
    const facts = viewerFacts(ctx.viewer);
    if (ctx.viewer.superAdmin) return explain('ALLOWED_SUPER_ADMIN', { viewer: facts, action, record, level: 'everything', source: 'hubspot', rule: 'super admin' });
    const answer = await hubspotAnswer(ctx, record);
    if (answer === undefined) return undefined;
    const allowed = answer.get(ctx.viewer.userId)?.has(action) ?? false;
    // HubSpot says yes or no; the admin's mirrored levels, when they agree, say why in more precise words.
    const mirrored = await policyDecision(ctx, action, record);
    if (mirrored.allowed === allowed && mirrored.code !== 'NOT_CONFIGURED') return { ...mirrored, source: 'hubspot' };
    return explain(allowed ? 'ALLOWED_BY_HUBSPOT' : 'DENIED_BY_HUBSPOT', { viewer: facts, action, record, level: null, source: 'hubspot', rule: 'HubSpot permissions API' });
  }

  const ownerName = async (ctx: ViewerContext, ownerId: number | null) => {
    if (ownerId === null) return null;
    return (await options.directory.owners(ctx.portal)).find((owner) => owner.id === ownerId)?.name ?? formerOwner(ownerId);
  };

  return {
    mode: options.mode,
    viewerFacts,
    policy,
    ownerName,

    async recordFacts(ctx, objectType, record) {
      if (record.ownerId === null) return { objectType, id: record.id, owner: null };
      const owner = (await options.directory.owners(ctx.portal)).find((candidate) => candidate.id === record.ownerId);
      return {
        objectType,
        id: record.id,
        owner: { ownerId: record.ownerId, name: owner?.name ?? formerOwner(record.ownerId), teamIds: owner?.teamIds ?? [] },
      };
    },

    async decide(ctx, action, record) {
      if (options.mode === 'policy') return policyDecision(ctx, action, record);
      const fromHubSpot = await hubspotDecision(ctx, action, record);
      if (fromHubSpot !== undefined) return fromHubSpot;
      if (options.mode === 'auto') return policyDecision(ctx, action, record);
      return explain('ACCESS_UNKNOWN', { viewer: viewerFacts(ctx.viewer), action, record, level: null, source: 'hubspot', rule: 'HubSpot permissions API unavailable' });
    },

    decideNew: policyDecision,

    async visibility(ctx, objectType) {
      const grant = resolvePolicyGrant(await policy(ctx.viewer.portalId), subject(ctx.viewer), objectType, 'view');
      const teamIds = new Set(ctx.viewer.teams.map((team) => team.id));
      const teamOwnerIds = (await options.directory.owners(ctx.portal)).filter((owner) => owner.teamIds.some((id) => teamIds.has(id))).map((owner) => owner.id);
      const facts = viewerFacts(ctx.viewer);
      return {
        rule: visibility(facts, grant, teamOwnerIds),
        configured: grant.configured,
        decisionFor: (record) => decidePure(facts, 'view', record, grant),
      };
    },

    forget(portalId, objectType, recordId) {
      permitted.delete(recordKey(portalId, objectType, recordId));
    },
  };
}
