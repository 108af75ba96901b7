import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Tables } from './schema.js';

/**
 * Expired rows deleted per issue, at most: each issue adds one row and removes up to this many dead ones, so the
 * table stays near the number of installs started in the last ten minutes without an issue ever waiting on a
 * large delete.
 */
const PURGE_BATCH = 100;

/** The server-side half of the OAuth state (oauth/state.ts): which issued nonces have not been used yet. */
export interface OAuthStateStore {
  /** Records a freshly issued nonce, after deleting up to PURGE_BATCH expired ones. */
  save(nonce: string, expiresAt: Date, now: Date): Promise<void>;
  /**
   * Deletes the nonce's row if it has not expired; true only for the one call whose DELETE removed it. The single
   * statement's row count decides, so two callbacks racing with the same state cannot both win (PostgreSQL's
   * second DELETE waits on the first's row lock and then finds nothing; SQLite runs one writer at a time).
   */
  consume(nonce: string, now: Date): Promise<boolean>;
}

/** Only a hash is stored, so a copy of the table (a backup, a replica) holds nothing that could be put in a cookie. */
function nonceHash(nonce: string): string {
  return createHash('sha256').update(nonce).digest('base64url');
}

export function createOAuthStateStore(db: Kysely<Tables>): OAuthStateStore {
  return {
    async save(nonce, expiresAt, now) {
      const expired = db.selectFrom('oauth_states').select('nonce_hash').where('expires_at', '<=', now.getTime()).limit(PURGE_BATCH);
      await db.deleteFrom('oauth_states').where('nonce_hash', 'in', expired).execute();
      await db
        .insertInto('oauth_states')
        .values({ nonce_hash: nonceHash(nonce), expires_at: expiresAt.getTime(), created_at: now.getTime() })
        .execute();
    },

    async consume(nonce, now) {
      const result = await db.deleteFrom('oauth_states').where('nonce_hash', '=', nonceHash(nonce)).where('expires_at', '>', now.getTime()).executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },
  };
}
