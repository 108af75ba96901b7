import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { DatabaseLog } from './database-fault.js';
import type { Tables } from './schema.js';

/** A connection that cannot be opened within this is reported as unreachable instead of holding the request. */
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * Our int8 columns hold epoch milliseconds and HubSpot ids, all far below 2^53, so they come back as numbers, the
 * same as from SQLite. A value that would lose precision is an error, never a silently different number.
 */
function parseInt8(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RangeError(`bigint value ${text} does not fit a JavaScript number`);
  return value;
}

/**
 * Logs a lost connection once (a restart drops every client at the same moment) and its return once, so an outage is
 * two clear lines, not one per client and query.
 */
function connectionWatch(log: DatabaseLog) {
  let lost = false;
  return {
    lost(error: Error) {
      if (lost) return;
      lost = true;
      const code = 'code' in error && typeof error.code === 'string' ? error.code : undefined;
      log.warn({ reason: error.message, code }, 'PostgreSQL connection lost; requests answer 503 DATABASE_UNAVAILABLE until it is back');
    },
    connected() {
      if (!lost) return;
      lost = false;
      log.info({}, 'PostgreSQL connection restored');
    },
  };
}

/** `log` hears of connections lost and restored while no query is waiting on them; none means silent. */
export function postgresKysely(connectionString: string, log: DatabaseLog = { warn: () => undefined, info: () => undefined }): Kysely<Tables> {
  // Per pool rather than pg's process-wide registry, so other pg users in the process keep their own parsing.
  const types = new pg.TypeOverrides();
  types.setTypeParser(pg.types.builtins.INT8, parseInt8);
  const pool = new pg.Pool({ connectionString, types, max: 10, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, keepAlive: true });
  const watch = connectionWatch(log);
  // A pg client emits 'error' when its connection drops (server restart, pg_terminate_backend, network). The pool
  // listens only while a client is idle in it; a client checked out (a refresh transaction waiting on HubSpot, a
  // policy save) has no listener of its own, and an 'error' without a listener ends the process. So every client gets
  // one for its whole life. Its next query then fails with "not queryable", which the request answers 503, and the
  // pool discards it on release and opens a new one when the server is back.
  pool.on('connect', (client) => {
    client.on('error', (error) => watch.lost(error));
    watch.connected();
  });
  pool.on('error', (error) => watch.lost(error));
  return new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
}
