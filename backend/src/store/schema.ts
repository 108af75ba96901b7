/** The database behind a Kysely<Tables>: opening, migrating and locking differ by it. */
export type Dialect = 'sqlite' | 'postgres';

export const INSTALLATION_STATUSES = ['active', 'needs_reinstall', 'uninstalled'] as const;

/**
 * Table types as Kysely sees them. Timestamps are epoch milliseconds in `bigint` columns: the one representation
 * that compares and sorts the same on SQLite and PostgreSQL (pg's int8 parser is set to return numbers, safe
 * for millisecond timestamps until the year 285,616). Why each type: migrations.ts.
 */
export interface InstallationsTable {
  portal_id: number;
  /** token-cipher.ts ciphertexts; '' once the tokens are forgotten (disconnect). */
  access_token_enc: string;
  refresh_token_enc: string;
  access_token_expires_at: number;
  /** JSON array of granted scopes. */
  scopes: string;
  installed_by_user_id: number;
  installed_at: number;
  updated_at: number;
  status: (typeof INSTALLATION_STATUSES)[number];
  status_reason: string | null;
  status_changed_at: number;
  /** When a refresh last began that has not been saved since (null: none), epoch ms. Migration 0007. */
  refresh_started_at: number | null;
}

export interface PoliciesTable {
  portal_id: number;
  version: number;
  /** JSON of access/policy.ts PolicyDocument, validated before it is written. */
  document: string;
  changed_by_user_id: number;
  changed_at: number;
}

export interface AuditLogTable {
  /** Time-ordered: zero-padded epoch ms, a dash, random hex; newest-first paging sorts on it. */
  id: string;
  portal_id: number;
  at: number;
  user_id: number;
  action: string;
  object_type: string | null;
  record_id: string | null;
  decision_code: string | null;
  source: string | null;
  outcome: 'allowed' | 'refused' | 'done' | 'failed';
  message: string | null;
  hubspot_correlation_id: string | null;
}

export interface WriteRequestsTable {
  /** sha256 of the request's HubSpot signature, which covers its method, URL, body and timestamp. */
  request_key: string;
  portal_id: number;
  created_at: number;
  /** null while the first request is still being answered. */
  status_code: number | null;
  response: string | null;
}

export interface OAuthStatesTable {
  /** SHA-256 of the state's nonce (base64url); the nonce itself is never stored. */
  nonce_hash: string;
  expires_at: number;
  created_at: number;
}

export interface Tables {
  installations: InstallationsTable;
  policies: PoliciesTable;
  audit_log: AuditLogTable;
  write_requests: WriteRequestsTable;
  oauth_states: OAuthStatesTable;
}
