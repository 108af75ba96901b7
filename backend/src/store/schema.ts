import type { Generated } from 'kysely';

/**
 * Table types as Kysely sees them. Timestamps are epoch milliseconds in `bigint` columns: the one representation
 * that compares and sorts the same on SQLite and PostgreSQL (pg's int8 parser is set to return numbers, safe
 * for millisecond timestamps until the year 285,616).
 */
export interface InstallationsTable {
  portal_id: number;
  access_token_enc: string;
  refresh_token_enc: string;
  access_token_expires_at: number;
  /** JSON array of granted scopes. */
  scopes: string;
  installed_by_user_id: number;
  installed_at: number;
  updated_at: number;
  status: 'active' | 'needs_reinstall' | 'uninstalled';
  status_reason: string | null;
  status_changed_at: number;
}

export interface Tables {
  installations: InstallationsTable;
}

export type { Generated };
