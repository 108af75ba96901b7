import type { Kysely } from 'kysely';
import {
  decodeInstallation,
  encryptTokens,
  forgottenTokens,
  type Installation,
  type InstallationStatus,
  type NewInstallation,
  type RefreshedTokens,
} from './installation-row.js';
import { KeyedMutex } from './keyed-mutex.js';
import type { Dialect, Tables } from './schema.js';
import type { TokenCipher } from './token-cipher.js';

export interface InstallationStore {
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
}

type RefreshLock = InstallationStore['withRefreshLock'];

/** A store on `db` whose every query shares the refresh lock already held for `heldPortalId`. */
function lockedStore(db: Kysely<Tables>, cipher: TokenCipher, heldPortalId: number): InstallationStore {
  const locked: InstallationStore = storeOn(db, cipher, async (portalId, fn) => {
    if (portalId !== heldPortalId) {
      throw new Error(`withRefreshLock(${portalId}) called while holding the refresh lock of ${heldPortalId}`);
    }
    return fn(locked);
  });
  return locked;
}

function postgresRowLock(db: Kysely<Tables>, cipher: TokenCipher): RefreshLock {
  return (portalId, fn) =>
    db.transaction().execute(async (trx) => {
      await trx.selectFrom('installations').select('portal_id').where('portal_id', '=', portalId).forUpdate().execute();
      return fn(lockedStore(trx, cipher, portalId));
    });
}

// Keyed by database so every store over one SQLite database shares its locks.
const sqliteLocks = new WeakMap<Kysely<Tables>, KeyedMutex<number>>();

function inProcessLock(db: Kysely<Tables>, cipher: TokenCipher): RefreshLock {
  const mutex = sqliteLocks.get(db) ?? new KeyedMutex<number>();
  sqliteLocks.set(db, mutex);
  return (portalId, fn) => mutex.run(portalId, () => fn(lockedStore(db, cipher, portalId)));
}

function storeOn(db: Kysely<Tables>, cipher: TokenCipher, withRefreshLock: RefreshLock): InstallationStore {
  return {
    async get(portalId) {
      const row = await db.selectFrom('installations').selectAll().where('portal_id', '=', portalId).executeTakeFirst();
      return row === undefined ? undefined : decodeInstallation(row, cipher);
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
      const row = await db
        .insertInto('installations')
        .values({ portal_id: input.portalId, ...values })
        .onConflict((conflict) => conflict.column('portal_id').doUpdateSet(values))
        .returningAll()
        .executeTakeFirstOrThrow();
      return decodeInstallation(row, cipher);
    },

    async saveRefreshedTokens(portalId, tokens, now, options = {}) {
      const reactivated = options.reactivate === true ? { status: 'active' as const, status_reason: null, status_changed_at: now.getTime() } : {};
      await db
        .updateTable('installations')
        .set({ ...encryptTokens(portalId, tokens, cipher), ...reactivated, refresh_started_at: null, updated_at: now.getTime() })
        .where('portal_id', '=', portalId)
        .where('status', '!=', 'uninstalled')
        .execute();
    },

    async markRefreshStarted(portalId, now) {
      await db.updateTable('installations').set({ refresh_started_at: now.getTime() }).where('portal_id', '=', portalId).execute();
    },

    async markStatus(portalId, status, reason, now) {
      await db
        .updateTable('installations')
        .set({ status, status_reason: reason, status_changed_at: now.getTime(), updated_at: now.getTime(), refresh_started_at: null })
        .where('portal_id', '=', portalId)
        .execute();
    },

    async forgetTokens(portalId, now) {
      await db
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
        .execute();
    },

    withRefreshLock,
  };
}

export function createInstallationStore(db: Kysely<Tables>, cipher: TokenCipher, dialect: Dialect): InstallationStore {
  return storeOn(db, cipher, dialect === 'postgres' ? postgresRowLock(db, cipher) : inProcessLock(db, cipher));
}
