import { explain, decide as decidePure, type Decision } from '../access/decide.js';
import type { Action, Level, ObjectType, RecordFacts, ViewerFacts } from '../access/model.js';
import { EMPTY_POLICY, resolvePolicyGrant, type PolicyDocument } from '../access/policy.js';
import { visibility, type Visibility } from '../access/visibility.js';
import { isAppError } from '../errors.js';
import type { PermittedActions } from '../hubspot/crm.js';
import type { CacheRegistry } from '../lib/bounded-cache.js';
import { createTtlCache } from '../lib/ttl-cache.js';
import type { PolicyStore } from '../store/index.js';
import { displayName, type Directory, type Viewer } from '../viewer/directory.js';
import type { ViewerContext } from './context.js';
import { compactAnswerBytes, createAnswerCompactor, permits, type CompactAnswer } from './permitted-users.js';

export type AccessMode = 'auto' | 'hubspot' | 'policy';

/** Who may do what to which record: the two sources of DESIGN.md behind one interface, and the facts they need. */
export interface AccessSource {
  readonly mode: AccessMode;
  viewerFacts(viewer: Viewer): ViewerFacts;
  recordFacts(ctx: ViewerContext, objectType: ObjectType, record: { id: string; ownerId: number | null }): Promise<RecordFacts>;
  /**
   * Called as a record is about to be read from HubSpot: what deciding about it will need and is not cached (the
   * account's owners; HubSpot's answer about the record, see the cache below) is asked for now, alongside the record,
   * instead of after it.
   */
  prefetch(ctx: ViewerContext, objectType: ObjectType, recordId: string): void;
  decide(ctx: ViewerContext, action: Action, record: RecordFacts): Promise<Decision>;
  /**
   * The same decision for many records (a list), in their order: HubSpot's answers for the records not already cached
   * are fetched together, PERMITTED_USERS_PER_CALL records per call, instead of one call per record.
   */
  decideMany(ctx: ViewerContext, action: Action, records: readonly RecordFacts[]): Promise<Decision[]>;
  /**
   * For a record that does not exist yet (a ticket about to be created): HubSpot's permissions API can only be
   * asked about existing records, so the admin's mirrored levels decide.
   */
  decideNew(ctx: ViewerContext, action: Action, record: RecordFacts): Promise<Decision>;
  /**
   * Which records of a type the viewer may see by the policy, for search filters (HubSpot's permissions API answers
   * per record only). `configured` is false when the admin has not set this viewer's level; `level` is that level.
   */
  visibility(
    ctx: ViewerContext,
    objectType: ObjectType,
  ): Promise<{ rule: Visibility; configured: boolean; level: Level; decisionFor: (record: RecordFacts) => Decision }>;
  policy(portalId: number): Promise<PolicyDocument>;
  ownerName(ctx: ViewerContext, ownerId: number | null): Promise<string | null>;
  /** Our own write changed this record: whatever HubSpot said about it before no longer counts. */
  forget(portalId: number, objectType: ObjectType, recordId: string): void;
  /**
   * Asks HubSpot's permissions API about one ticket of the account now, past the cache, whatever the configured mode:
   * whether the source could answer, for the settings page.
   */
  probe(ctx: ViewerContext): Promise<AccessProbe>;
}

/** What the permissions API did when asked just now, and HubSpot's words (or ours) on why, when it did not answer. */
export interface AccessProbe {
  live: 'answering' | 'not granted' | 'unavailable' | 'unexpected answer';
  detail: string | null;
  checkedAt: string;
}

export interface AccessSourceOptions {
  mode: AccessMode;
  directory: Directory;
  policies: PolicyStore;
  now: () => number;
  /** How long HubSpot's per-record answer is shared by every viewer of that record. */
  permissionsTtlMs?: number;
  /** Smaller bounds (tests); PERMISSION_CACHE_BYTES by default. */
  maxBytes?: Partial<typeof PERMISSION_CACHE_BYTES>;
  registry?: CacheRegistry;
}

/** HubSpot's answer about one record, as a decision needs it, and the owner the record had when it was asked for. */
interface CachedAnswer {
  ownerId: number | null;
  answer: CompactAnswer | undefined;
}

/** An owner id with no active owner behind it: someone who left, or was deactivated. */
const formerOwner = (ownerId: number) => `a former user (owner ${ownerId})`;

/**
 * What the permissions API's failures mean here: HubSpot could not or would not answer (scope not granted, outage,
 * rate limit, refusal, an answer we cannot read), so its verdict is unknown, never "allowed".
 */
const HUBSPOT_CANNOT_ANSWER: ReadonlySet<string> = new Set([
  'HUBSPOT_SCOPE_MISSING',
  'HUBSPOT_UNAVAILABLE',
  'HUBSPOT_RATE_LIMITED',
  'HUBSPOT_REFUSED',
  'HUBSPOT_RESPONSE_INVALID',
]);

/** HubSpot's answers are shared for this long at most (see the cache below for what else drops them). */
const PERMISSIONS_TTL_MS = 30_000;
/** Records whose last owner is remembered (below): a key and a number each, some 100 bytes, so 2 MB at most. */
const LAST_OWNERS_MAX_RECORDS = 20_000;
const MiB = 1024 * 1024;
/**
 * The answers (about 1 KiB a record in a 1,000-user account, where a Map of per-user Sets took 77 KiB: some 18,000
 * records) and the numberings of the accounts' users they share (about 48 KiB for 1,000 users: some 85 such accounts).
 */
export const PERMISSION_CACHE_BYTES = { answers: 18 * MiB, users: 4 * MiB };

export function createAccessSource(options: AccessSourceOptions): AccessSource {
  /*
   * HubSpot's permitted-users answer per record, shared by every viewer of that record. Its facts depend on the
   * record's owner, so an entry is valid only for the owner it was fetched under: the record itself is re-read from
   * HubSpot on every request, and a different owner (a reassignment in HubSpot's UI or through us) makes the entry
   * stale at once. Our own writes drop it (forget). Bound: PERMISSIONS_TTL_MS (a permission-set change in HubSpot, which
   * nothing tells us about, is seen within it) and PERMISSION_CACHE_BYTES.answers, least recently used evicted first;
   * the numberings the answers share (permitted-users.ts) are bounded apart, and an account's numbering evicted drops
   * its answers. The records a request finds missing or stale are asked for together, PERMITTED_USERS_PER_CALL per
   * HubSpot call; each still gets its own entry, so the rule above holds per record however it was fetched.
   */
  const bounds = { ...PERMISSION_CACHE_BYTES, ...options.maxBytes };
  const registry = options.registry === undefined ? {} : { registry: options.registry };
  const permitted = createTtlCache<CachedAnswer>({
    name: 'permissions',
    ttlMs: options.permissionsTtlMs ?? PERMISSIONS_TTL_MS,
    maxBytes: bounds.answers,
    sizeOf: (entry) => 40 + (entry.answer === undefined ? 0 : compactAnswerBytes(entry.answer)),
    now: options.now,
    ...registry,
  });
  const recordKey = (portalId: number, objectType: ObjectType, recordId: string) => `${portalId}:${objectType}:${recordId}`;
  const compactor = createAnswerCompactor({
    maxBytes: bounds.users,
    forget: (portalId) => permitted.deleteWhere((key) => key.startsWith(`${portalId}:`)),
    ...registry,
  });
  /*
   * The owner each record had when HubSpot was last asked about it, kept past its answer's TTL (at most
   * LAST_OWNERS_MAX_RECORDS records, oldest first out). A view of a record whose answer has expired asks HubSpot again
   * at the same time as it reads the record, under that owner, so the two calls take one round trip. The record then
   * says who owns it now: the answer counts only if that is still the same owner (an entry is valid only for the owner
   * it was fetched under, as above), otherwise it is asked for again, after the record, as on a first view. A record
   * HubSpot was never asked about is not asked for in advance: its answer could describe an owner the record had only
   * before a reassignment made while the two calls were under way, and be kept under the new owner.
   */
  const lastOwners = new Map<string, number | null>();
  /** HubSpot's answer as the cache keeps it, under the owner the record had when HubSpot was asked. */
  const kept = (portalId: number, ownerId: number | null, answer: PermittedActions | undefined): CachedAnswer => ({
    ownerId,
    answer: answer === undefined ? undefined : compactor.compact(portalId, answer),
  });
  const rememberOwner = (key: string, ownerId: number | null) => {
    lastOwners.delete(key);
    lastOwners.set(key, ownerId);
    if (lastOwners.size > LAST_OWNERS_MAX_RECORDS) {
      const oldest = lastOwners.keys().next().value;
      if (oldest !== undefined) lastOwners.delete(oldest);
    }
  };

  const viewerFacts = (viewer: Viewer): ViewerFacts => ({
    userId: viewer.userId,
    name: displayName(viewer),
    superAdmin: viewer.superAdmin,
    ownerId: viewer.ownerId,
    teams: viewer.teams.map((team) => ({ id: team.id, name: team.name })),
  });

  const policy = async (portalId: number) => (await options.policies.current(portalId))?.document ?? EMPTY_POLICY;
  /** The admin's levels as one request reads them: once, so all its decisions follow one saved version. */
  const readByRequest = new WeakMap<ViewerContext['portal'], Promise<PolicyDocument>>();
  const requestPolicy = (ctx: ViewerContext) => {
    let document = readByRequest.get(ctx.portal);
    if (document === undefined) {
      document = policy(ctx.viewer.portalId);
      readByRequest.set(ctx.portal, document);
    }
    return document;
  };

  const subject = (viewer: Viewer) => ({
    userId: viewer.userId,
    superAdmin: viewer.superAdmin,
    teamIds: viewer.teams.map((team) => team.id),
    roleIds: viewer.roleIds,
  });

  /** The admin's mirrored levels for each record, the policy read once. */
  async function policyDecisions(ctx: ViewerContext, action: Action, records: readonly RecordFacts[]): Promise<Decision[]> {
    const document = await requestPolicy(ctx);
    const facts = viewerFacts(ctx.viewer);
    return records.map((record) => decidePure(facts, action, record, resolvePolicyGrant(document, subject(ctx.viewer), record.objectType, action)));
  }

  async function policyDecision(ctx: ViewerContext, action: Action, record: RecordFacts): Promise<Decision> {
    const [decision] = await policyDecisions(ctx, action, [record]);
    if (decision === undefined) throw new Error('policyDecisions answered no decision for one record');
    return decision;
  }

  /**
   * HubSpot's verdict for each record under its current owner, in order; undefined where it cannot be had (scope,
   * outage, shape). Every record whose entry is missing or was fetched under another owner joins one batch, loaded
   * once all of them are registered in the cache, so concurrent requests for the same record share the call.
   */
  async function hubspotAnswers(ctx: ViewerContext, records: readonly RecordFacts[]): Promise<Array<CompactAnswer | undefined>> {
    const ownerOf = (record: RecordFacts) => record.owner?.ownerId ?? null;
    const keyOf = (record: RecordFacts) => recordKey(ctx.portal.portalId, record.objectType, record.id);

    async function round(wanted: readonly RecordFacts[]): Promise<Array<[RecordFacts, CachedAnswer | undefined]>> {
      const batch = new Map<ObjectType, Array<{ id: string; settle: (answer: Promise<PermittedActions | undefined>) => void }>>();
      // Each getOrLoad runs before its function's first await, so the batch is complete once map() returns.
      const loads = wanted.map(async (record): Promise<[RecordFacts, CachedAnswer | undefined]> => {
        try {
          // Another request may have started the load, under its own deadline: this one waits no longer than its own.
          const shared = permitted.getOrLoad(keyOf(record), async () => {
            rememberOwner(keyOf(record), ownerOf(record));
            const answer = await new Promise<PermittedActions | undefined>((resolve) =>
              batch.set(record.objectType, [...(batch.get(record.objectType) ?? []), { id: record.id, settle: resolve }]),
            );
            return kept(ctx.portal.portalId, ownerOf(record), answer);
          });
          const entry = await ctx.portal.deadline.wait(shared, 'HubSpot did not answer in time');
          return [record, entry];
        } catch (error) {
          if (isAppError(error) && HUBSPOT_CANNOT_ANSWER.has(error.code)) return [record, undefined];
          throw error;
        }
      });
      for (const [objectType, waiting] of batch) {
        const answers = ctx.portal.permittedUsersMany(
          objectType,
          waiting.map((entry) => entry.id),
        );
        for (const entry of waiting) entry.settle(answers.then((byId) => byId.get(entry.id)));
      }
      return Promise.all(loads);
    }

    const entries = new Map(await round(records));
    const stale = records.filter((record) => {
      const entry = entries.get(record);
      return entry !== undefined && entry.ownerId !== ownerOf(record);
    });
    for (const record of stale) permitted.delete(keyOf(record));
    if (stale.length > 0) for (const [record, entry] of await round(stale)) entries.set(record, entry);
    return records.map((record) => {
      const entry = entries.get(record);
      // An answer fetched under an owner other than the record's current one is never used, even a fresh one.
      return entry !== undefined && entry.ownerId === ownerOf(record) ? entry.answer : undefined;
    });
  }

  /** HubSpot's yes or no, in the mirrored levels' precise words when they agree; without an answer, fallback or refusal. */
  function hubspotDecision(viewer: Viewer, action: Action, record: RecordFacts, answer: CompactAnswer | undefined, mirrored: Decision): Decision {
    const facts = viewerFacts(viewer);
    if (answer === undefined) {
      if (options.mode === 'auto') return mirrored;
      return explain('ACCESS_UNKNOWN', { viewer: facts, action, record, level: null, source: 'hubspot', rule: 'HubSpot permissions API unavailable' });
    }
    const allowed = permits(answer, viewer.userId, action);
    if (mirrored.allowed === allowed && mirrored.code !== 'NOT_CONFIGURED') return { ...mirrored, source: 'hubspot' };
    return explain(allowed ? 'ALLOWED_BY_HUBSPOT' : 'DENIED_BY_HUBSPOT', {
      viewer: facts,
      action,
      record,
      level: null,
      source: 'hubspot',
      rule: 'HubSpot permissions API',
    });
  }

  async function decideMany(ctx: ViewerContext, action: Action, records: readonly RecordFacts[]): Promise<Decision[]> {
    const mirrored = await policyDecisions(ctx, action, records);
    if (options.mode === 'policy') return mirrored;
    if (ctx.viewer.superAdmin) {
      const facts = viewerFacts(ctx.viewer);
      return records.map((record) =>
        explain('ALLOWED_SUPER_ADMIN', { viewer: facts, action, record, level: 'everything', source: 'hubspot', rule: 'super admin' }),
      );
    }
    const answers = await hubspotAnswers(ctx, records);
    return records.map((record, index) => hubspotDecision(ctx.viewer, action, record, answers[index], mirrored[index] as Decision));
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

    prefetch(ctx, objectType, recordId) {
      // Failures are met again, and handled, where the results are used.
      options.directory.owners(ctx.portal).catch(() => undefined);
      if (options.mode === 'policy' || ctx.viewer.superAdmin) return;
      const key = recordKey(ctx.portal.portalId, objectType, recordId);
      if (!lastOwners.has(key)) return;
      const ownerId = lastOwners.get(key) ?? null;
      // A cached answer is returned as it is, with no call.
      permitted
        .getOrLoad(key, async () => kept(ctx.portal.portalId, ownerId, (await ctx.portal.permittedUsersMany(objectType, [recordId])).get(recordId)))
        .catch(() => undefined);
    },

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
      const [decision] = await decideMany(ctx, action, [record]);
      if (decision === undefined) throw new Error('decideMany answered no decision for one record');
      return decision;
    },

    decideMany,

    decideNew: policyDecision,

    async visibility(ctx, objectType) {
      const grant = resolvePolicyGrant(await requestPolicy(ctx), subject(ctx.viewer), objectType, 'view');
      const teamIds = new Set(ctx.viewer.teams.map((team) => team.id));
      const teamOwnerIds = (await options.directory.owners(ctx.portal)).filter((owner) => owner.teamIds.some((id) => teamIds.has(id))).map((owner) => owner.id);
      const facts = viewerFacts(ctx.viewer);
      return {
        rule: visibility(facts, grant, teamOwnerIds),
        configured: grant.configured,
        level: grant.level,
        decisionFor: (record) => decidePure(facts, 'view', record, grant),
      };
    },

    forget(portalId, objectType, recordId) {
      const key = recordKey(portalId, objectType, recordId);
      permitted.delete(key);
      lastOwners.delete(key);
    },

    async probe(ctx) {
      const checkedAt = new Date(options.now()).toISOString();
      const result = (live: AccessProbe['live'], detail: string | null): AccessProbe => ({ live, detail, checkedAt });
      // Any AppError means HubSpot did not answer (or the install cannot ask): the status page reports it, not fails.
      const failed = (error: unknown, live: AccessProbe['live']) => {
        if (!isAppError(error)) throw error;
        return result(live, error.message);
      };
      let ticketId: string | undefined;
      try {
        ticketId = await ctx.portal.anyTicketId();
      } catch (error) {
        return failed(error, 'unavailable');
      }
      if (ticketId === undefined) return result('unavailable', 'There is no ticket in this account to ask HubSpot about.');
      try {
        const answer = (await ctx.portal.permittedUsersMany('tickets', [ticketId])).get(ticketId);
        return answer === undefined
          ? result('unexpected answer', `HubSpot's answer about ticket ${ticketId} is not in the documented shape.`)
          : result('answering', null);
      } catch (error) {
        return failed(error, isAppError(error) && error.code === 'HUBSPOT_SCOPE_MISSING' ? 'not granted' : 'unavailable');
      }
    },
  };
}
