import type { Kysely } from 'kysely';
import { policyDocumentSchema, policyShapeSchema, type PolicyDocument } from '../access/policy.js';
import type { ChangeFeed } from '../instances/change-feed.js';
import { BoundedCache, type CacheRegistry } from '../lib/bounded-cache.js';
import { approximateBytes } from '../lib/byte-size.js';
import type { Tables } from './schema.js';

export interface StoredPolicy {
  version: number;
  document: PolicyDocument;
  changedByUserId: number;
  changedAt: Date;
}

export interface PolicyStore {
  /** The account's latest version, parsed once per version and shared by every read (treat it as read-only). */
  current(portalId: number): Promise<StoredPolicy | undefined>;
  /** Appends a new version; the old ones stay as the history of who changed what, when. */
  save(portalId: number, document: PolicyDocument, changedByUserId: number, now: Date): Promise<StoredPolicy>;
  history(portalId: number, limit: number): Promise<StoredPolicy[]>;
}

/** The change feed's topic for a saved policy version. */
export const POLICY_TOPIC = 'policy';

/**
 * The parsed documents, estimated (lib/byte-size.ts): a 1,000-user policy (162 KiB of JSON, one rule per user) counts
 * about 330 KiB parsed (240 KiB on the heap), so some 37 such accounts; least recently read go first.
 */
export const POLICY_CACHE_BYTES = 12 * 1024 * 1024;

/** A version as read: absent (undefined) when the account has none yet; `bytes`, its estimated size, sizes the cache. */
interface Loaded {
  policy: StoredPolicy | undefined;
  bytes: number;
}

interface CacheEntry extends Loaded {
  version: number;
  /** The feed's epoch and the account's change count when the database last showed this version to be the latest. */
  epoch: number | undefined;
  changes: number;
}

/**
 * `feed` carries saved versions between instances: each save announces one in its own transaction, and every
 * instance drops what it cached for that account when it hears it.
 */
export function createPolicyStore(db: Kysely<Tables>, feed: ChangeFeed, caches: { registry?: CacheRegistry; maxBytes?: number } = {}): PolicyStore {
  const decode = (row: { version: number; document: string; changed_by_user_id: number; changed_at: number }): StoredPolicy => ({
    version: row.version,
    // The shape only: a version saved before the edit-within-view check must still load; resolution caps it.
    document: policyShapeSchema.parse(JSON.parse(row.document)),
    changedByUserId: row.changed_by_user_id,
    changedAt: new Date(row.changed_at),
  });

  const history: PolicyStore['history'] = async (portalId, limit) =>
    (await db.selectFrom('policies').selectAll().where('portal_id', '=', portalId).orderBy('version', 'desc').limit(limit).execute()).map(decode);

  /*
   * The parsed policy per account, keyed by its saved version, so a document is parsed once per version however many
   * decisions read it. What invalidates an entry: a save, announced on the change feed inside the saving transaction
   * and heard by every instance once it commits (the saving instance also drops its own entry as soon as the commit
   * returns). Its bound: while the feed is listening and has been since the entry was confirmed, the entry is used with
   * no query, behind the database by at most the feed's delivery delay (PostgreSQL notifies on commit; milliseconds).
   * While the feed is down, and once per account after it reconnects (a change may have gone unheard meanwhile), a read
   * first asks the database for the latest version number (one indexed query) and keeps the entry only if it is still
   * that version: nothing cached outlives a change the database shows. At most POLICY_CACHE_BYTES of parsed documents
   * are kept.
   */
  const cache = new BoundedCache<number, CacheEntry>({
    name: 'policies',
    maxBytes: caches.maxBytes ?? POLICY_CACHE_BYTES,
    sizeOf: (entry) => 64 + entry.bytes,
    ...(caches.registry === undefined ? {} : { registry: caches.registry }),
  });
  /** Changes heard per account: a read that started before one cannot vouch for its result after it. */
  const changes = new Map<number, number>();
  const parsing = new Map<string, Promise<Loaded>>();

  const heard = (portalId: number) => {
    changes.set(portalId, (changes.get(portalId) ?? 0) + 1);
    cache.delete(portalId);
  };
  feed.subscribe(POLICY_TOPIC, heard);

  async function load(portalId: number, version: number): Promise<Loaded> {
    if (version === 0) return { policy: undefined, bytes: 0 };
    const row = await db.selectFrom('policies').selectAll().where('portal_id', '=', portalId).where('version', '=', version).executeTakeFirst();
    const policy = row === undefined ? undefined : decode(row);
    return { policy, bytes: approximateBytes(policy) };
  }

  async function current(portalId: number): Promise<StoredPolicy | undefined> {
    const epoch = feed.epoch;
    const changesBefore = changes.get(portalId) ?? 0;
    const entry = cache.get(portalId);
    if (entry !== undefined && epoch !== undefined && entry.epoch === epoch && entry.changes === changesBefore) return entry.policy;
    const latest = await db.selectFrom('policies').select('version').where('portal_id', '=', portalId).orderBy('version', 'desc').limit(1).executeTakeFirst();
    const version = latest?.version ?? 0;
    let loaded: Loaded;
    if (entry?.version === version) {
      loaded = entry;
    } else {
      // Concurrent reads of a new version share one parse.
      const key = `${portalId}:${version}`;
      let parse = parsing.get(key);
      if (parse === undefined) {
        const started = load(portalId, version);
        parsing.set(key, started);
        const done = () => {
          if (parsing.get(key) === started) parsing.delete(key);
        };
        started.then(done, done);
        parse = started;
      }
      loaded = await parse;
    }
    cache.set(portalId, { version, policy: loaded.policy, bytes: loaded.bytes, epoch, changes: changesBefore });
    return loaded.policy;
  }

  return {
    history,
    current,
    async save(portalId, document, changedByUserId, now) {
      const valid = policyDocumentSchema.parse(document);
      // The primary key (portal_id, version) makes a concurrent save of the same version fail instead of overwrite.
      const saved = await db.transaction().execute(async (trx) => {
        const latest = await trx
          .selectFrom('policies')
          .select('version')
          .where('portal_id', '=', portalId)
          .orderBy('version', 'desc')
          .limit(1)
          .executeTakeFirst();
        const version = (latest?.version ?? 0) + 1;
        await trx
          .insertInto('policies')
          .values({ portal_id: portalId, version, document: JSON.stringify(valid), changed_by_user_id: changedByUserId, changed_at: now.getTime() })
          .execute();
        await feed.announce(trx, { topic: POLICY_TOPIC, portalId });
        return { version, document: valid, changedByUserId, changedAt: now };
      });
      // This instance's next read must not wait for its own notification to come back.
      heard(portalId);
      return saved;
    },
  };
}
