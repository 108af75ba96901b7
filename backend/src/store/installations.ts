import { type Kysely, type Selectable, sql } from 'kysely';
import { z } from 'zod';
import type { Dialect } from './database.js';
import type { InstallationsTable, Tables } from './schema.js';
import type { TokenCipher } from './token-cipher.js';

export type InstallationStatus = InstallationsTable['status'];

export interface NewInstallation {
  portalId: number;
  accessToken: string;
  refreshToken: string;
  accessTokenExpiresAt: Date;
  /** Granted scopes, required and optional. */
  scopes: string[];
  installedByUserId: number;
}

export interface Installation extends NewInstallation {
  installedAt: Date;
  updatedAt: Date;
  status: InstallationStatus;
  statusReason: string | null;
  statusChangedAt: Date;
}

export interface RefreshedTokens {
  accessToken: string;
  refreshToken: string;
  accessTokenExpiresAt: Date;
}

export interface InstallationStore {
  get(portalId: number): Promise<Installation | undefined>;
  /** After an OAuth code exchange. A reinstall replaces tokens, scopes and installer, and reactivates. */
  saveInstall(input: NewInstallation, now: Date): Promise<Installation>;
  saveRefreshedTokens(portalId: number, tokens: RefreshedTokens, now: Date): Promise<void>;
  markStatus(portalId: number, status: InstallationStatus, reason: string | null, now: Date): Promise<void>;
  /** Disconnect: the tokens are erased; the row stays, status `uninstalled`, so the history of who installed remains. */
  forgetTokens(portalId: number, now: Date): Promise<void>;
  /**
   * Runs fn holding this account's refresh lock, with a store bound to the lock, so fn can re-read the row and
   * write new tokens before anyone else refreshes. PostgreSQL: a transaction holding `SELECT … FOR UPDATE` on the
   * row, which serialises every instance sharing the database. SQLite is embedded in one process, where the token
   * manager's single flight already serialises refreshes; holding SQLite's only connection across an HTTP call
   * would stall every other query, so there fn runs without a transaction.
   */
  withRefreshLock<T>(portalId: number, fn: (locked: InstallationStore) => Promise<T>): Promise<T>;
}

const scopesSchema = z.array(z.string());
const tokenContext = (kind: 'access_token' | 'refresh_token', portalId: number) => `${kind}:${portalId}`;

export function createInstallationStore(db: Kysely<Tables>, cipher: TokenCipher, dialect: Dialect): InstallationStore {
  const decode = (row: Selectable<InstallationsTable>): Installation => ({
    portalId: Number(row.portal_id),
    accessToken: row.access_token_enc === '' ? '' : cipher.decrypt(row.access_token_enc, tokenContext('access_token', Number(row.portal_id))),
    refreshToken: row.refresh_token_enc === '' ? '' : cipher.decrypt(row.refresh_token_enc, tokenContext('refresh_token', Number(row.portal_id))),
    accessTokenExpiresAt: new Date(Number(row.access_token_expires_at)),
    scopes: scopesSchema.parse(JSON.parse(row.scopes)),
    installedByUserId: Number(row.installed_by_user_id),
    installedAt: new Date(Number(row.installed_at)),
    updatedAt: new Date(Number(row.updated_at)),
    status: row.status,
    statusReason: row.status_reason,
    statusChangedAt: new Date(Number(row.status_changed_at)),
  });

  const encryptTokens = (portalId: number, tokens: RefreshedTokens) => ({
    access_token_enc: cipher.encrypt(tokens.accessToken, tokenContext('access_token', portalId)),
    refresh_token_enc: cipher.encrypt(tokens.refreshToken, tokenContext('refresh_token', portalId)),
    access_token_expires_at: tokens.accessTokenExpiresAt.getTime(),
  });

  const store: InstallationStore = {
    async get(portalId) {
      const row = await db.selectFrom('installations').selectAll().where('portal_id', '=', portalId).executeTakeFirst();
      return row === undefined ? undefined : decode(row);
    },

    async saveInstall(input, now) {
      const values = {
        ...encryptTokens(input.portalId, input),
        scopes: JSON.stringify(input.scopes),
        installed_by_user_id: input.installedByUserId,
        installed_at: now.getTime(),
        updated_at: now.getTime(),
        status: 'active' as const,
        status_reason: null,
        status_changed_at: now.getTime(),
      };
      await db
        .insertInto('installations')
        .values({ portal_id: input.portalId, ...values })
        .onConflict((conflict) => conflict.column('portal_id').doUpdateSet(values))
        .execute();
      const saved = await store.get(input.portalId);
      if (saved === undefined) throw new Error(`installation ${input.portalId} vanished right after it was saved`);
      return saved;
    },

    async saveRefreshedTokens(portalId, tokens, now) {
      await db
        .updateTable('installations')
        .set({ ...encryptTokens(portalId, tokens), updated_at: now.getTime() })
        .where('portal_id', '=', portalId)
        .execute();
    },

    async markStatus(portalId, status, reason, now) {
      await db
        .updateTable('installations')
        .set({ status, status_reason: reason, status_changed_at: now.getTime(), updated_at: now.getTime() })
        .where('portal_id', '=', portalId)
        .execute();
    },

    async forgetTokens(portalId, now) {
      await db
        .updateTable('installations')
        .set({
          access_token_enc: '',
          refresh_token_enc: '',
          access_token_expires_at: 0,
          status: 'uninstalled',
          status_reason: 'Disconnected from Viewer Guard.',
          status_changed_at: now.getTime(),
          updated_at: now.getTime(),
        })
        .where('portal_id', '=', portalId)
        .execute();
    },

    async withRefreshLock(portalId, fn) {
      if (dialect === 'sqlite') return fn(store);
      return db.transaction().execute(async (trx) => {
        await sql`select portal_id from installations where portal_id = ${portalId} for update`.execute(trx);
        return fn(createInstallationStore(trx, cipher, dialect));
      });
    },
  };
  return store;
}
