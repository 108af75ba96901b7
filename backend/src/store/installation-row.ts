import { z } from 'zod';
import { INSTALLATION_STATUSES, type InstallationsTable } from './schema.js';
import type { TokenCipher } from './token-cipher.js';

// An installation as the store hands it out, and how a row maps to and from it; installations.ts holds the queries.

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
  /**
   * When a refresh began that was never saved: set under the refresh lock before HubSpot's token endpoint is called,
   * cleared when new tokens or a new status are written. Non-null on a later read means a refresh may have reached
   * HubSpot without its answer being saved (the process died, or the answer was lost), so HubSpot may already have
   * replaced the refresh token this row holds.
   */
  refreshStartedAt: Date | null;
}

export interface RefreshedTokens {
  accessToken: string;
  refreshToken: string;
  accessTokenExpiresAt: Date;
}

/** What a forgotten token column holds: no ciphertext is ever empty, so it cannot be mistaken for one. */
const FORGOTTEN = '';

type TokenColumns = Pick<InstallationsTable, 'access_token_enc' | 'refresh_token_enc' | 'access_token_expires_at'>;

const scopesJson = z
  .string()
  .transform((text, context): unknown => {
    try {
      return JSON.parse(text);
    } catch {
      context.addIssue({ code: 'custom', message: 'scopes is not JSON' });
      return z.NEVER;
    }
  })
  .pipe(z.array(z.string()));

// Checked at runtime, not just typed: a driver returning int8 as a string, or a hand-edited row, fails here loudly.
const rowSchema = z.object({
  portal_id: z.int(),
  access_token_enc: z.string(),
  refresh_token_enc: z.string(),
  access_token_expires_at: z.int(),
  scopes: scopesJson,
  installed_by_user_id: z.int(),
  installed_at: z.int(),
  updated_at: z.int(),
  status: z.enum(INSTALLATION_STATUSES),
  status_reason: z.string().nullable(),
  status_changed_at: z.int(),
  refresh_started_at: z.int().nullable(),
});

/** The AAD binding a ciphertext to its column and account, e.g. "access_token:10000001". */
const tokenContext = (column: 'access_token' | 'refresh_token', portalId: number) => `${column}:${portalId}`;

export function decodeInstallation(raw: unknown, cipher: TokenCipher): Installation {
  const parsed = rowSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`installations row does not match the schema:\n${z.prettifyError(parsed.error)}`);
  const row = parsed.data;
  const reveal = (column: 'access_token' | 'refresh_token', stored: string) =>
    stored === FORGOTTEN ? FORGOTTEN : cipher.decrypt(stored, tokenContext(column, row.portal_id));
  return {
    portalId: row.portal_id,
    accessToken: reveal('access_token', row.access_token_enc),
    refreshToken: reveal('refresh_token', row.refresh_token_enc),
    accessTokenExpiresAt: new Date(row.access_token_expires_at),
    scopes: row.scopes,
    installedByUserId: row.installed_by_user_id,
    installedAt: new Date(row.installed_at),
    updatedAt: new Date(row.updated_at),
    status: row.status,
    statusReason: row.status_reason,
    statusChangedAt: new Date(row.status_changed_at),
    refreshStartedAt: row.refresh_started_at === null ? null : new Date(row.refresh_started_at),
  };
}

export function encryptTokens(portalId: number, tokens: RefreshedTokens, cipher: TokenCipher): TokenColumns {
  return {
    access_token_enc: cipher.encrypt(tokens.accessToken, tokenContext('access_token', portalId)),
    refresh_token_enc: cipher.encrypt(tokens.refreshToken, tokenContext('refresh_token', portalId)),
    access_token_expires_at: tokens.accessTokenExpiresAt.getTime(),
  };
}

type SealedTokens = Pick<InstallationsTable, 'access_token_enc' | 'refresh_token_enc'>;

/**
 * After a key rotation: the token columns sealed again with the newest key, or undefined when both already are (or
 * were forgotten). `installation` is the row's decoded form, so nothing is decrypted twice.
 */
export function resealedTokens(stored: SealedTokens, installation: Installation, cipher: TokenCipher): SealedTokens | undefined {
  const current = (value: string) => value === FORGOTTEN || cipher.isCurrent(value);
  if (current(stored.access_token_enc) && current(stored.refresh_token_enc)) return undefined;
  const seal = (column: 'access_token' | 'refresh_token', value: string, plaintext: string) =>
    value === FORGOTTEN ? FORGOTTEN : cipher.encrypt(plaintext, tokenContext(column, installation.portalId));
  return {
    access_token_enc: seal('access_token', stored.access_token_enc, installation.accessToken),
    refresh_token_enc: seal('refresh_token', stored.refresh_token_enc, installation.refreshToken),
  };
}

export const forgottenTokens: TokenColumns = { access_token_enc: FORGOTTEN, refresh_token_enc: FORGOTTEN, access_token_expires_at: 0 };
