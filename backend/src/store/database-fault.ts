/**
 * The one place that decides whether an error means "the database cannot serve right now" and says which way, for
 * SQLite and PostgreSQL alike. The error handler answers every such error 503 DATABASE_UNAVAILABLE with the reason
 * and a retry hint, /readyz reports it, and nothing else needs to know a driver's error codes.
 */

export type DatabaseFaultKind = 'unreachable' | 'read_only' | 'full' | 'replaced' | 'damaged' | 'busy' | 'io_error';

export interface DatabaseFault {
  kind: DatabaseFaultKind;
  /** One plain sentence, safe to show anyone: it names no host, file or credential. */
  reason: string;
  /** When trying again may succeed: a connection comes back in seconds, a full disk or a replaced file needs a person. */
  retryAfterSeconds: number;
}

const FAULTS: Record<DatabaseFaultKind, Omit<DatabaseFault, 'kind'>> = {
  unreachable: { reason: 'Viewer Guard cannot reach its database right now.', retryAfterSeconds: 5 },
  read_only: { reason: "Viewer Guard's database is read-only right now, so nothing can be saved.", retryAfterSeconds: 30 },
  full: { reason: "Viewer Guard's database has run out of disk space, so nothing can be saved.", retryAfterSeconds: 30 },
  replaced: {
    reason: "Viewer Guard's database file was deleted or replaced while the backend was running, so it no longer uses it.",
    retryAfterSeconds: 60,
  },
  damaged: { reason: "Viewer Guard's database file is damaged or is not a Viewer Guard database.", retryAfterSeconds: 60 },
  busy: { reason: "Viewer Guard's database is too busy to answer (locked by another program, or out of connections).", retryAfterSeconds: 5 },
  io_error: { reason: 'Viewer Guard could not read or write its database file (an input/output error).', retryAfterSeconds: 30 },
};

/** Where the database layer reports what no request is waiting to hear: a connection lost, and back. */
export interface DatabaseLog {
  warn(details: object, message: string): void;
  info(details: object, message: string): void;
}

/**
 * Thrown before any statement runs on a SQLite file whose path no longer leads to the file that was opened (sqlite.ts):
 * writing on would put every change into an unlinked file that vanishes at the next restart.
 */
export class DatabaseFileChangedError extends Error {
  constructor(readonly how: 'deleted' | 'replaced') {
    super(`the SQLite database file was ${how} after it was opened`);
    this.name = 'DatabaseFileChangedError';
  }
}

/** Node's socket errors: the server is not there, or the connection to it broke. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * pg's own errors carry no code, only these messages: the socket ended ("Connection terminated unexpectedly"), a new
 * connection did not open in time ("… due to connection timeout"), or a client that lost its connection is used again.
 */
const PG_CONNECTION_LOST = /^(Connection terminated|Client has encountered a connection error and is not queryable)/;
/** pg-pool's: every client stayed checked out for connectionTimeoutMillis (new connections fail fast when the server is down). */
const PG_POOL_EXHAUSTED = /^timeout exceeded when trying to connect/;

/** PostgreSQL SQLSTATEs (Appendix A, "PostgreSQL Error Codes"), most specific first. */
function sqlStateFault(state: string): DatabaseFaultKind | undefined {
  if (state === '25006') return 'read_only'; // read_only_sql_transaction: a standby, or default_transaction_read_only
  if (state === '53100') return 'full'; // disk_full
  if (state.startsWith('53')) return 'busy'; // insufficient_resources: out of memory, too many connections
  if (state.startsWith('08')) return 'unreachable'; // connection_exception
  if (state.startsWith('57P')) return 'unreachable'; // admin_shutdown, crash_shutdown, cannot_connect_now, database_dropped
  return undefined;
}

/** better-sqlite3 reports SQLite's extended result codes by name (SQLITE_READONLY_DBMOVED, SQLITE_IOERR_WRITE, …). */
function sqliteFault(code: string): DatabaseFaultKind | undefined {
  const primary = /^SQLITE_[A-Z]+/.exec(code)?.[0];
  switch (primary) {
    case 'SQLITE_READONLY':
      return code === 'SQLITE_READONLY_DBMOVED' ? 'replaced' : 'read_only';
    case 'SQLITE_FULL':
      return 'full';
    case 'SQLITE_IOERR':
      return 'io_error';
    case 'SQLITE_CANTOPEN':
      return 'unreachable';
    case 'SQLITE_NOTADB':
    case 'SQLITE_CORRUPT':
      return 'damaged';
    case 'SQLITE_BUSY':
    case 'SQLITE_LOCKED':
      return 'busy';
    default:
      return undefined;
  }
}

function faultOf(error: object): DatabaseFaultKind | undefined {
  if (error instanceof DatabaseFileChangedError) return 'replaced';
  const code = 'code' in error && typeof error.code === 'string' ? error.code : undefined;
  if (code !== undefined) {
    if (NETWORK_CODES.has(code)) return 'unreachable';
    if (code.startsWith('SQLITE_')) return sqliteFault(code);
    if (/^[0-9A-Z]{5}$/.test(code)) return sqlStateFault(code);
    return undefined;
  }
  if (!(error instanceof Error)) return undefined;
  if (PG_CONNECTION_LOST.test(error.message)) return 'unreachable';
  return PG_POOL_EXHAUSTED.test(error.message) ? 'busy' : undefined;
}

/** The fault behind an error, looking through causes and AggregateError (a host with several addresses); undefined if none. */
export function databaseFault(error: unknown): DatabaseFault | undefined {
  for (let current: unknown = error, depth = 0; typeof current === 'object' && current !== null && depth < 5; depth += 1) {
    const kind = faultOf(current);
    if (kind !== undefined) return { kind, ...FAULTS[kind] };
    current = current instanceof AggregateError && current.errors.length > 0 ? current.errors[0] : current instanceof Error ? current.cause : undefined;
  }
  return undefined;
}
