import type { Kysely, Selectable } from 'kysely';
import type { ChangeFeed } from '../instances/change-feed.js';
import { databaseFault } from './database-fault.js';
import {
  decodeInstallation,
  encryptTokens,
  forgottenTokens,
  resealedTokens,
  type Installation,
  type InstallationStatus,
  type NewInstallation,
  type RefreshedTokens,
} from './installation-row.js';
import { KeyedMutex } from './keyed-mutex.js';
import type { Dialect, InstallationsTable, Tables } from './schema.js';
import { TokenDecryptionError, type TokenCipher } from './token-cipher.js';

/** What checkTokens found. */
export interface TokenCheck {
  /** Installs holding tokens (a disconnected one holds none). */
  checked: number;
  /** Of those, how many no configured key opens. */
  unreadable: number;
  /** Sealed again with the newest key by this check. */
  resealed: number;
  /** The database error that stopped the resealing, if one did (the rest were still checked). */
  resealFailure?: unknown;
}

export interface InstallationStore {
  /**
   * Tokens sealed with an older key (after a rotation) are sealed again with the newest as they are read; a database
   * that refuses the write (read-only, full) still answers the read, and the next read tries again.
   */
  get(portalId: number): Promise<Installation | undefined>;
  /** After an OAuth code exchange. A reinstall replaces tokens, scopes, installer and install time, and reactivates. */
  saveInstall(input: NewInstallation, now: Date): Promise<Installation>;
  /**
   * Does nothing once the install is disconnected (or gone), so a refresh that finishes after a disconnect never
   * writes tokens back. Clears refreshStartedAt. `reactivate` also sets the status back to active (tokens HubSpot
   * issued after the refresh that marked the install needs_reinstall).
   */
  saveRefreshedTokens(portalId: number, tokens: RefreshedTokens, now: Date, options?: { reactivate?: boolean }): Promise<void>;
  /**
   * Records, under the refresh lock, that a refresh is about to be sent. Throws when the database refuses the write,
   * which is the point: nothing may go to HubSpot's token endpoint that could not be saved. On SQLite the mark is
   * committed at once and outlives a crash; on PostgreSQL it commits with the lock's transaction (a process that dies
   * holding the lock leaves no mark, its transaction rolled back).
   */
  markRefreshStarted(portalId: number, now: Date): Promise<void>;
  /** Also clears refreshStartedAt: whatever refresh was under way is over. */
  markStatus(portalId: number, status: InstallationStatus, reason: string | null, now: Date): Promise<void>;
  /**
   * Disconnect: both tokens are erased ('' in place of the ciphertexts, expiry 0); the row stays with status
   * `uninstalled`, so who installed and when remains for the admin status page until a reinstall replaces it.
   */
  forgetTokens(portalId: number, now: Date): Promise<void>;
  /**
   * Runs fn holding this account's refresh lock; fn gets a store bound to the lock, so it can re-read the row and
   * write new tokens before anyone else refreshes. Inside fn use that store only: on PostgreSQL the outer one
   * writes from another connection and would wait for the very lock fn holds. The bound store's own
   * withRefreshLock re-enters for the same account and refuses any other (two locks held at once could deadlock).
   *
   * PostgreSQL: a transaction that starts with `SELECT … FOR UPDATE` on the account's row. Every instance sharing
   * the database queues on that row lock; the next holder re-reads the row (read committed: each statement sees
   * what committed before it) and finds the fresh token. The row lock also holds back a disconnect or reinstall of
   * the same account until the refresh commits. Other accounts' rows, and plain reads, are never blocked. An
   * account with no row locks nothing, and has nothing to refresh either. If fn throws, its writes roll back.
   *
   * SQLite (embedded, one process): an in-process lock per account and database. Not a transaction: Kysely runs
   * SQLite on a single connection, so a transaction held across HubSpot's token call would stall every other
   * query, every account's, until HubSpot answered. Each write is one statement and atomic on its own.
   */
  withRefreshLock<T>(portalId: number, fn: (locked: InstallationStore) => Promise<T>): Promise<T>;
  /**
   * Whether the configured keys open the stored tokens: every install's, or with `limit` only the most recently updated
   * ones. With `reseal`, tokens sealed with an older key are written again with the newest (the start-up pass after a
   * key rotation); a database that refuses those writes stops the resealing, not the check.
   */
  checkTokens(options: { reseal: boolean; limit?: number }): Promise<TokenCheck>;
}

/**
 * The change feed's topic for an install whose tokens or status changed (a reinstall, a refresh, a status mark, a
 * disconnect, tokens sealed again with a newer key): every instance drops what it holds of that install in memory
 * (tokens/token-cache.ts).
 */
export const INSTALLATION_TOPIC = 'installation';

/** Rows read per query by the whole-table check, so a large table never sits in memory at once. */
const CHECK_PAGE = 500;

type RefreshLock = InstallationStore['withRefreshLock'];

/** A store on `db` whose every query shares the refresh lock already held for `heldPortalId`. */
function lockedStore(db: Kysely<Tables>, cipher: TokenCipher, feed: ChangeFeed | undefined, heldPortalId: number): InstallationStore {
  const lock: RefreshLock = async (portalId, fn) => {
    if (portalId !== heldPortalId) {
      throw new Error(`withRefreshLock(${portalId}) called while holding the refresh lock of ${heldPortalId}`);
    }
    return fn(locked);
  };
  // No resealing on read here: on PostgreSQL a failed write would abort the lock's transaction, and the store outside
  // the lock has already resealed what this one reads.
  const locked: InstallationStore = storeOn(db, cipher, lock, { resealOnRead: false, feed });
  return locked;
}

function postgresRowLock(db: Kysely<Tables>, cipher: TokenCipher, feed: ChangeFeed | undefined): RefreshLock {
  return (portalId, fn) =>
    db.transaction().execute(async (trx) => {
      await trx.selectFrom('installations').select('portal_id').where('portal_id', '=', portalId).forUpdate().execute();
      return fn(lockedStore(trx, cipher, feed, portalId));
    });
}

// Keyed by database so every store over one SQLite database shares its locks.
const sqliteLocks = new WeakMap<Kysely<Tables>, KeyedMutex<number>>();

function inProcessLock(db: Kysely<Tables>, cipher: TokenCipher, feed: ChangeFeed | undefined): RefreshLock {
  const mutex = sqliteLocks.get(db) ?? new KeyedMutex<number>();
  sqliteLocks.set(db, mutex);
  return (portalId, fn) => mutex.run(portalId, () => fn(lockedStore(db, cipher, feed, portalId)));
}

function storeOn(
  db: Kysely<Tables>,
  cipher: TokenCipher,
  withRefreshLock: RefreshLock,
  options: { resealOnRead: boolean; feed: ChangeFeed | undefined },
): InstallationStore {
  /**
   * A change to an install's tokens or status, announced in the transaction that makes it (inside the refresh lock's,
   * on PostgreSQL, which is already one): every instance hears it once it commits, and none if it rolls back.
   */
  async function changing<T>(portalId: number, write: (db: Kysely<Tables>) => Promise<T>): Promise<T> {
    const { feed } = options;
    if (feed === undefined) return write(db);
    const announced = async (trx: Kysely<Tables>) => {
      const result = await write(trx);
      await feed.announce(trx, { topic: INSTALLATION_TOPIC, portalId });
      return result;
    };
    return db.isTransaction ? announced(db) : db.transaction().execute(announced);
  }

  /** Only if the row still holds what was read: a refresh that wrote new tokens meanwhile sealed them with the newest key. */
  async function reseal(row: Selectable<InstallationsTable>, installation: Installation): Promise<number> {
    const sealed = resealedTokens(row, installation, cipher);
    if (sealed === undefined) return 0;
    // Announced too: an instance without the newest key can no longer open what it may hold in memory.
    const result = await changing(row.portal_id, (trx) =>
      trx
        .updateTable('installations')
        .set(sealed)
        .where('portal_id', '=', row.portal_id)
        .where('access_token_enc', '=', row.access_token_enc)
        .where('refresh_token_enc', '=', row.refresh_token_enc)
        .executeTakeFirst(),
    );
    return Number(result.numUpdatedRows);
  }

  const tolerateRefusedWrite = (error: unknown) => {
    if (databaseFault(error) === undefined) throw error;
    return 0;
  };

  return {
    async get(portalId) {
      const row = await db.selectFrom('installations').selectAll().where('portal_id', '=', portalId).executeTakeFirst();
      if (row === undefined) return undefined;
      const installation = decodeInstallation(row, cipher);
      if (options.resealOnRead) await reseal(row, installation).catch(tolerateRefusedWrite);
      return installation;
    },

    async checkTokens({ reseal: resealing, limit }) {
      const check: TokenCheck = { checked: 0, unreadable: 0, resealed: 0 };
      const holdingTokens = db.selectFrom('installations').selectAll().where('status', '!=', 'uninstalled');
      const visit = async (row: Selectable<InstallationsTable>) => {
        check.checked += 1;
        let installation: Installation;
        try {
          installation = decodeInstallation(row, cipher);
        } catch (error) {
          if (!(error instanceof TokenDecryptionError)) throw error;
          check.unreadable += 1;
          return;
        }
        if (!resealing || check.resealFailure !== undefined) return;
        try {
          check.resealed += await reseal(row, installation);
        } catch (error) {
          tolerateRefusedWrite(error);
          check.resealFailure = error;
        }
      };
      if (limit !== undefined) {
        for (const row of await holdingTokens.orderBy('updated_at', 'desc').limit(limit).execute()) await visit(row);
        return check;
      }
      for (let after = Number.MIN_SAFE_INTEGER; ;) {
        const rows = await holdingTokens.where('portal_id', '>', after).orderBy('portal_id').limit(CHECK_PAGE).execute();
        for (const row of rows) await visit(row);
        const last = rows.at(-1);
        if (last === undefined || rows.length < CHECK_PAGE) return check;
        after = last.portal_id;
      }
    },

    async saveInstall(input, now) {
      const values = {
        ...encryptTokens(input.portalId, input, cipher),
        scopes: JSON.stringify(input.scopes),
        installed_by_user_id: input.installedByUserId,
        installed_at: now.getTime(),
        updated_at: now.getTime(),
        status: 'active' as const,
        status_reason: null,
        status_changed_at: now.getTime(),
        refresh_started_at: null,
      };
      const row = await changing(input.portalId, (trx) =>
        trx
          .insertInto('installations')
          .values({ portal_id: input.portalId, ...values })
          .onConflict((conflict) => conflict.column('portal_id').doUpdateSet(values))
          .returningAll()
          .executeTakeFirstOrThrow(),
      );
      return decodeInstallation(row, cipher);
    },

    async saveRefreshedTokens(portalId, tokens, now, options = {}) {
      const reactivated = options.reactivate === true ? { status: 'active' as const, status_reason: null, status_changed_at: now.getTime() } : {};
      await changing(portalId, (trx) =>
        trx
          .updateTable('installations')
          .set({ ...encryptTokens(portalId, tokens, cipher), ...reactivated, refresh_started_at: null, updated_at: now.getTime() })
          .where('portal_id', '=', portalId)
          .where('status', '!=', 'uninstalled')
          .execute(),
      );
    },

    async markRefreshStarted(portalId, now) {
      await db.updateTable('installations').set({ refresh_started_at: now.getTime() }).where('portal_id', '=', portalId).execute();
    },

    async markStatus(portalId, status, reason, now) {
      await changing(portalId, (trx) =>
        trx
          .updateTable('installations')
          .set({ status, status_reason: reason, status_changed_at: now.getTime(), updated_at: now.getTime(), refresh_started_at: null })
          .where('portal_id', '=', portalId)
          .execute(),
      );
    },

    async forgetTokens(portalId, now) {
      await changing(portalId, (trx) =>
        trx
          .updateTable('installations')
          .set({
            ...forgottenTokens,
            refresh_started_at: null,
            status: 'uninstalled',
            status_reason: 'Disconnected from Viewer Guard.',
            status_changed_at: now.getTime(),
            updated_at: now.getTime(),
          })
          .where('portal_id', '=', portalId)
          .execute(),
      );
    },

    withRefreshLock,
  };
}

/**
 * `feed`: where each change to an install's tokens or status is announced (INSTALLATION_TOPIC), in the transaction that
 * makes it, for the instances' token caches. Without one (tools and tests that write before any backend has read),
 * changes are announced to nobody.
 */
export function createInstallationStore(db: Kysely<Tables>, cipher: TokenCipher, dialect: Dialect, feed?: ChangeFeed): InstallationStore {
  const lock = dialect === 'postgres' ? postgresRowLock(db, cipher, feed) : inProcessLock(db, cipher, feed);
  return storeOn(db, cipher, lock, { resealOnRead: true, feed });
}
