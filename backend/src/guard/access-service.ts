import { explain, decide as decidePure, type Decision } from '../access/decide.js';
import { type Action, type ObjectType, type RecordFacts, type ViewerFacts } from '../access/model.js';
import { EMPTY_POLICY, resolvePolicyGrant, type PolicyDocument } from '../access/policy.js';
import { visibility, type Visibility } from '../access/visibility.js';
import { isAppError } from '../errors.js';
import type { HubSpotApi } from '../hubspot/api.js';
import { OBJECT_TYPE_IDS, type OwnerRecord, type PermittedActions } from '../hubspot/crm.js';
import type { Directory, Viewer } from '../hubspot/directory.js';
import { createTtlCache } from '../lib/ttl-cache.js';
import type { PolicyStore } from '../store/index.js';

export type AccessMode = 'auto' | 'hubspot' | 'policy';

/** Who may do what to which record: the two sources of DESIGN.md behind one interface, and the facts they need. */
export interface AccessService {
  readonly mode: AccessMode;
  viewerFacts(viewer: Viewer): ViewerFacts;
  recordFacts(portalId: number, objectType: ObjectType, record: { id: string; ownerId: number | null }): Promise<RecordFacts>;
  decide(viewer: Viewer, action: Action, record: RecordFacts): Promise<Decision>;
  /**
   * For a record that does not exist yet (a ticket about to be created): HubSpot's permissions API can only be
   * asked about existing records, so the admin's mirrored levels decide.
   */
  decideNew(viewer: Viewer, action: Action, record: RecordFacts): Promise<Decision>;
  /**
   * Which records of a type the viewer may see by the policy, for search filters (HubSpot's permissions API answers
   * per record only). `configured` is false when the admin has not set this viewer's level.
   */
  visibility(viewer: Viewer, objectType: ObjectType): Promise<{ rule: Visibility; configured: boolean; decisionFor: (record: RecordFacts) => Decision }>;
  policy(portalId: number): Promise<PolicyDocument>;
  ownerName(portalId: number, ownerId: number | null): Promise<string | null>;
}

export interface AccessServiceOptions {
  mode: AccessMode;
  api: HubSpotApi;
  directory: Directory;
  policies: PolicyStore;
  now: () => number;
  /** How long HubSpot's per-record answer is shared by every viewer of that record. */
  permissionsTtlMs?: number;
}

/** An owner id with no active owner behind it: someone who left, or was deactivated. */
const formerOwner = (ownerId: number) => `a former user (owner ${ownerId})`;

export function createAccessService(options: AccessServiceOptions): AccessService {
  const permitted = createTtlCache<PermittedActions | undefined>({ ttlMs: options.permissionsTtlMs ?? 30_000, maxEntries: 50_000, now: options.now });

  const viewerFacts = (viewer: Viewer): ViewerFacts => ({
    userId: viewer.userId,
    name: [viewer.firstName, viewer.lastName].filter(Boolean).join(' ') || viewer.email,
    superAdmin: viewer.superAdmin,
    ownerId: viewer.ownerId,
    teams: viewer.teams.map((team) => ({ id: team.id, name: team.name })),
  });

  const policy = async (portalId: number) => (await options.policies.current(portalId))?.document ?? EMPTY_POLICY;

  const subject = (viewer: Viewer) => ({ userId: viewer.userId, superAdmin: viewer.superAdmin, teamIds: viewer.teams.map((team) => team.id), roleIds: viewer.roleIds });

  async function policyDecision(viewer: Viewer, action: Action, record: RecordFacts): Promise<Decision> {
    const grant = resolvePolicyGrant(await policy(viewer.portalId), subject(viewer), record.objectType, action);
    return decidePure(viewerFacts(viewer), action, record, grant);
  }

  /** HubSpot's verdict for this record; undefined when it cannot be had (scope not granted, outage, unknown shape). */
  async function hubspotAnswer(viewer: Viewer, record: RecordFacts): Promise<PermittedActions | undefined> {
    try {
      return await permitted.getOrLoad(`${viewer.portalId}:${record.objectType}:${record.id}`, () =>
        options.api.forPortal(viewer.portalId).permittedUsers(OBJECT_TYPE_IDS[record.objectType], record.id, viewer.portalId),
      );
    } catch (error) {
      if (isAppError(error) && ['HUBSPOT_SCOPE_MISSING', 'HUBSPOT_UNAVAILABLE', 'HUBSPOT_RATE_LIMITED', 'HUBSPOT_REFUSED', 'HUBSPOT_RESPONSE_INVALID'].includes(error.code)) return undefined;
      throw error;
    }
  }

  async function hubspotDecision(viewer: Viewer, action: Action, record: RecordFacts): Promise<Decision | undefined> {
    const facts = viewerFacts(viewer);
    if (viewer.superAdmin) return explain('ALLOWED_SUPER_ADMIN', { viewer: facts, action, record, level: 'everything', source: 'hubspot', rule: 'super admin' });
    const answer = await hubspotAnswer(viewer, record);
    if (answer === undefined) return undefined;
    const allowed = answer.get(viewer.userId)?.has(action) ?? false;
    // HubSpot says yes or no; the admin's mirrored levels, when they agree, say why in more precise words.
    const mirrored = await policyDecision(viewer, action, record);
    if (mirrored.allowed === allowed && mirrored.code !== 'NOT_CONFIGURED') return { ...mirrored, source: 'hubspot' };
    return explain(allowed ? 'ALLOWED_BY_HUBSPOT' : 'DENIED_BY_HUBSPOT', { viewer: facts, action, record, level: null, source: 'hubspot', rule: 'HubSpot permissions API' });
  }

  return {
    mode: options.mode,
    viewerFacts,
    policy,

    async recordFacts(portalId, objectType, record) {
      if (record.ownerId === null) return { objectType, id: record.id, owner: null };
      const owner = (await options.directory.owners(portalId)).find((candidate: OwnerRecord) => candidate.id === record.ownerId);
      return {
        objectType,
        id: record.id,
        owner: { ownerId: record.ownerId, name: owner?.name ?? formerOwner(record.ownerId), teamIds: owner?.teamIds ?? [] },
      };
    },

    async decide(viewer, action, record) {
      if (options.mode === 'policy') return policyDecision(viewer, action, record);
      const fromHubSpot = await hubspotDecision(viewer, action, record);
      if (fromHubSpot !== undefined) return fromHubSpot;
      if (options.mode === 'auto') return policyDecision(viewer, action, record);
      return explain('ACCESS_UNKNOWN', { viewer: viewerFacts(viewer), action, record, level: null, source: 'hubspot', rule: 'HubSpot permissions API unavailable' });
    },

    decideNew: policyDecision,

    async visibility(viewer, objectType) {
      const grant = resolvePolicyGrant(await policy(viewer.portalId), subject(viewer), objectType, 'view');
      const teamIds = new Set(viewer.teams.map((team) => team.id));
      const teamOwnerIds = (await options.directory.owners(viewer.portalId)).filter((owner) => owner.teamIds.some((id) => teamIds.has(id))).map((owner) => owner.id);
      const facts = viewerFacts(viewer);
      return {
        rule: visibility(facts, grant, teamOwnerIds),
        configured: grant.configured,
        decisionFor: (record) => decidePure(facts, 'view', record, grant),
      };
    },

    async ownerName(portalId, ownerId) {
      if (ownerId === null) return null;
      return (await options.directory.owners(portalId)).find((owner) => owner.id === ownerId)?.name ?? formerOwner(ownerId);
    },
  };
}
