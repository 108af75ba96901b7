import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Tables } from './schema.js';

/**
 * Our int8 columns hold epoch milliseconds and HubSpot ids, all far below 2^53, so they come back as numbers, the
 * same as from SQLite. A value that would lose precision is an error, never a silently different number.
 */
function parseInt8(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RangeError(`bigint value ${text} does not fit a JavaScript number`);
  return value;
}

export function postgresKysely(connectionString: string): Kysely<Tables> {
  // Per pool rather than pg's process-wide registry, so other pg users in the process keep their own parsing.
  const types = new pg.TypeOverrides();
  types.setTypeParser(pg.types.builtins.INT8, parseInt8);
  const pool = new pg.Pool({ connectionString, types, max: 10 });
  // An idle client whose connection drops (server restart, failover) is discarded by the pool and the next query
  // opens a new one; without a listener, pg re-emits that error on the pool and it would crash the process.
  pool.on('error', () => undefined);
  return new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
}
