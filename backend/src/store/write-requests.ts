import type { Kysely } from 'kysely';
import type { Tables } from './schema.js';

export type WriteClaim = { kind: 'claimed' } | { kind: 'pending'; since: Date } | { kind: 'answered'; statusCode: number; response: string };

/**
 * Exactly-once writes: HubSpot retries a hubspot.fetch once after a connection failure or a 5xx, with the same
 * signature. The first request claims its key in the database (so every instance sharing it agrees); a repeat gets
 * the first request's answer, or learns that it is still running.
 */
export interface WriteRequestStore {
  claim(key: string, portalId: number, now: Date): Promise<WriteClaim>;
  /** The answer to give every repeat of this request. */
  answer(key: string, statusCode: number, response: string): Promise<void>;
  /** The request failed before anything reached HubSpot, or with nothing for a repeat to reuse: a repeat may run again. */
  release(key: string): Promise<void>;
  /** Keys are only needed while a signature is valid (5 minutes); older ones are deleted. */
  purgeOlderThan(cutoff: Date): Promise<number>;
}

export function createWriteRequestStore(db: Kysely<Tables>): WriteRequestStore {
  return {
    async claim(key, portalId, now) {
      // A primary-key conflict, not a read-then-write, decides who is first, so two concurrent repeats cannot both win.
      const inserted = await db
        .insertInto('write_requests')
        .values({ request_key: key, portal_id: portalId, created_at: now.getTime(), status_code: null, response: null })
        .onConflict((conflict) => conflict.column('request_key').doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1) return { kind: 'claimed' };
      const row = await db.selectFrom('write_requests').selectAll().where('request_key', '=', key).executeTakeFirst();
      // Released between our insert and this read: whoever inserts next goes first; this one reports it still running.
      if (row === undefined || row.status_code === null || row.response === null) return { kind: 'pending', since: new Date(row?.created_at ?? now.getTime()) };
      return { kind: 'answered', statusCode: row.status_code, response: row.response };
    },
    async answer(key, statusCode, response) {
      await db.updateTable('write_requests').set({ status_code: statusCode, response }).where('request_key', '=', key).execute();
    },
    async release(key) {
      await db.deleteFrom('write_requests').where('request_key', '=', key).where('status_code', 'is', null).execute();
    },
    async purgeOlderThan(cutoff) {
      const result = await db.deleteFrom('write_requests').where('created_at', '<', cutoff.getTime()).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
