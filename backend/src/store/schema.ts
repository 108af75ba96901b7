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
  /** 'unknown': a write was sent to HubSpot but what HubSpot did was never learned (migration 0006). */
  outcome: 'allowed' | 'refused' | 'done' | 'failed' | 'unknown';
  message: string | null;
  hubspot_correlation_id: string | null;
}

export interface WriteRequestsTable {
  /** sha256 of the request's HubSpot signature, which covers its method, URL, body and timestamp. */
  request_key: string;
  portal_id: number;
  created_at: number;
  /** null while the first request is still being answered, and after a write whose outcome is unknown. */
  status_code: number | null;
  response: string | null;
  /**
   * The write's intent, recorded before anything is sent to HubSpot (all null until then): when, who, what, on which
   * record, and the decision that allowed it. Together they are the audit entry the write will get.
   */
  intent_at: number | null;
  user_id: number | null;
  action: string | null;
  object_type: string | null;
  record_id: string | null;
  decision_code: string | null;
  source: string | null;
  /** When the request's answer and the intent's audit entry were stored, or the sweeper closed an abandoned intent. */
  completed_at: number | null;
}

export interface OAuthStatesTable {
  /** SHA-256 of the state's nonce (base64url); the nonce itself is never stored. */
  nonce_hash: string;
  expires_at: number;
  created_at: number;
}

/** The single row /readyz writes to prove the database takes writes. */
export interface HeartbeatTable {
  id: 1;
  checked_at: number;
}

/**
 * One account's counts for one UTC day that the audit log does not hold (migration 0010). Each instance adds what it
 * counted since its last flush (store/usage-days.ts), so a row is the sum over every instance.
 */
export interface UsageDaysTable {
  portal_id: number;
  /** The day's first millisecond, UTC, epoch ms. */
  day: number;
  /** Card record views answered with the record (the viewer may see it). */
  views_allowed: number;
  /** Attempts at HubSpot calls made for the account, retries included: each one counts against its HubSpot limit. */
  hubspot_calls: number;
  /** The attempts HubSpot answered 429. */
  hubspot_rate_limited: number;
}

/** One calibration of an account's permission levels (migration 0009). */
export interface CalibrationRunsTable {
  id: string;
  portal_id: number;
  /** 'interrupted': its instance stopped, or stopped reporting progress, before it ended. */
  state: 'running' | 'done' | 'failed' | 'interrupted';
  trigger: 'manual' | 'schedule';
  /** The Super Admin who started it; null for a scheduled run. */
  started_by_user_id: number | null;
  started_at: number;
  /** Written with every step, so another instance can tell a run whose instance died. */
  heartbeat_at: number;
  finished_at: number | null;
  /** Steps (HubSpot calls) done and expected in all. */
  done: number;
  total: number;
  calls: number;
  /** JSON of access/calibration.ts CalibrationResult, validated before it is written and when read. */
  result: string | null;
  error: string | null;
}

export interface Tables {
  calibration_runs: CalibrationRunsTable;
  installations: InstallationsTable;
  policies: PoliciesTable;
  audit_log: AuditLogTable;
  write_requests: WriteRequestsTable;
  oauth_states: OAuthStatesTable;
  heartbeat: HeartbeatTable;
  usage_days: UsageDaysTable;
}
