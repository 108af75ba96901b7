import type { Kysely } from 'kysely';
import { policyDocumentSchema, policyShapeSchema, type PolicyDocument } from '../access/policy.js';
import type { Tables } from './schema.js';

export interface StoredPolicy {
  version: number;
  document: PolicyDocument;
  changedByUserId: number;
  changedAt: Date;
}

export interface PolicyStore {
  current(portalId: number): Promise<StoredPolicy | undefined>;
  /** Appends a new version; the old ones stay as the history of who changed what, when. */
  save(portalId: number, document: PolicyDocument, changedByUserId: number, now: Date): Promise<StoredPolicy>;
  history(portalId: number, limit: number): Promise<StoredPolicy[]>;
}

export function createPolicyStore(db: Kysely<Tables>): PolicyStore {
  const decode = (row: { version: number; document: string; changed_by_user_id: number; changed_at: number }): StoredPolicy => ({
    version: row.version,
    // The shape only: a version saved before the edit-within-view check must still load; resolution caps it.
    document: policyShapeSchema.parse(JSON.parse(row.document)),
    changedByUserId: row.changed_by_user_id,
    changedAt: new Date(row.changed_at),
  });

  const history: PolicyStore['history'] = async (portalId, limit) =>
    (await db.selectFrom('policies').selectAll().where('portal_id', '=', portalId).orderBy('version', 'desc').limit(limit).execute()).map(decode);

  return {
    history,
    current: async (portalId) => (await history(portalId, 1))[0],
    async save(portalId, document, changedByUserId, now) {
      const valid = policyDocumentSchema.parse(document);
      // The primary key (portal_id, version) makes a concurrent save of the same version fail instead of overwrite.
      return db.transaction().execute(async (trx) => {
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
        return { version, document: valid, changedByUserId, changedAt: now };
      });
    },
  };
}
