import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { z } from 'zod';
import type { Tables } from '../store/schema.js';

/**
 * How one instance tells every instance (itself included) that something it may have cached changed: a topic and the
 * account it concerns. Topics today: `policy` (a saved policy version). The install token cache of issue #11 adds
 * its own (a refresh, a disconnect) the same way: announce in the transaction that changes the row, subscribe where
 * it caches.
 */
export interface Change {
  topic: string;
  portalId: number;
}

export interface ChangeLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface ChangeFeed {
  /**
   * Called inside the transaction that makes the change: delivered to every instance once it commits and never if it
   * rolls back, so no instance can hear of a change before it could read it.
   */
  announce(trx: Kysely<Tables>, change: Change): Promise<void>;
  /** Calls `onChange` with the account of every change on `topic`; returns the unsubscribe. */
  subscribe(topic: string, onChange: (portalId: number) => void): () => void;
  /**
   * undefined while changes may be going unheard (the listener is down). Otherwise a number that changes whenever
   * some may have gone unheard since it last changed: whatever a subscriber cached under another epoch must be checked
   * against the database before it is trusted again.
   */
  readonly epoch: number | undefined;
  /** Instances listening to this feed right now, this one included, as last seen; 1 when nothing else can be known. */
  readonly instances: number;
  start(): Promise<void>;
  close(): Promise<void>;
}

const TOPIC = /^[a-z][a-z-]*$/;
const changeSchema = z.object({ topic: z.string().regex(TOPIC), portalId: z.number().int().positive() });

function subscribers() {
  const byTopic = new Map<string, Set<(portalId: number) => void>>();
  return {
    add(topic: string, onChange: (portalId: number) => void) {
      if (!TOPIC.test(topic)) throw new Error(`change feed topic ${topic} must be lower-case words joined by dashes`);
      const set = byTopic.get(topic) ?? new Set();
      set.add(onChange);
      byTopic.set(topic, set);
      return () => set.delete(onChange);
    },
    deliver(change: Change) {
      for (const onChange of byTopic.get(change.topic) ?? []) onChange(change.portalId);
    },
  };
}

/**
 * SQLite: one process by design, so a change is heard where it is made. Delivered at once, inside the transaction:
 * the SQLite dialect runs every query on its one connection, so no read can slip in before the commit.
 */
export function createLocalChangeFeed(): ChangeFeed {
  const listeners = subscribers();
  return {
    async announce(_trx, change) {
      listeners.deliver(changeSchema.parse(change));
    },
    subscribe: (topic, onChange) => listeners.add(topic, onChange),
    epoch: 0,
    instances: 1,
    async start() {},
    async close() {},
  };
}

export interface PostgresChangeFeedOptions {
  connectionString: string;
  log: ChangeLog;
  /** First wait before reconnecting a dropped listener; it doubles up to RECONNECT_MAX_MS. */
  reconnectDelayMs?: number;
  /** How often the listener's connection is checked (and the instances counted). */
  checkIntervalMs?: number;
}

const RECONNECT_MAX_MS = 5_000;
const CHECK_INTERVAL_MS = 15_000;
/** A check that takes longer than this means the connection is gone even if no error said so. */
const CHECK_TIMEOUT_MS = 5_000;

/**
 * The channel, and the listeners' application_name, of the deployment using this database and schema: instances of
 * one deployment share both, other deployments (or test runs) on the same server in other schemas never hear them.
 * PostgreSQL channel names are identifiers of at most 63 bytes, hence a digest rather than the names themselves.
 */
const CHANNEL_SQL = `'vg_' || md5(current_database() || '.' || current_schema())`;

/**
 * PostgreSQL LISTEN/NOTIFY on a dedicated connection (a pooled one would drop the LISTEN when returned). NOTIFY is
 * transactional: sent on commit, to every session listening then. A dropped connection (server restart,
 * pg_terminate_backend, network) is reopened with backoff; while it is down `epoch` is undefined, and each reconnect
 * starts a new epoch, since changes committed meanwhile were never delivered. A connection that fails silently (no
 * RST) is found by the periodic check within CHECK_INTERVAL_MS + CHECK_TIMEOUT_MS.
 */
export function createPostgresChangeFeed(options: PostgresChangeFeedOptions): ChangeFeed {
  const listeners = subscribers();
  const firstDelayMs = options.reconnectDelayMs ?? 250;
  const checkIntervalMs = options.checkIntervalMs ?? CHECK_INTERVAL_MS;
  let epoch: number | undefined;
  let epochs = 0;
  let instances = 1;
  let client: pg.Client | undefined;
  let closed = false;
  let delayMs = firstDelayMs;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let checkTimer: NodeJS.Timeout | undefined;
  let outageLogged = false;

  async function countInstances(connection: pg.Client, channel: string): Promise<void> {
    const { rows } = await connection.query<{ n: number }>(
      'select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = $1',
      [channel],
    );
    instances = Math.max(1, rows[0]?.n ?? 1);
  }

  function lost(connection: pg.Client, error: unknown) {
    if (client !== connection) return;
    client = undefined;
    epoch = undefined;
    clearInterval(checkTimer);
    connection.removeAllListeners('notification');
    // An error event after end() would otherwise be unhandled.
    connection.on('error', () => undefined);
    void connection.end().catch(() => undefined);
    if (closed) return;
    if (!outageLogged) {
      outageLogged = true;
      options.log.warn({ err: error }, 'change feed: listener connection lost; cached policies are checked against the database until it is back');
    }
    reconnectTimer = setTimeout(() => void connect(), delayMs).unref();
    delayMs = Math.min(delayMs * 2, RECONNECT_MAX_MS);
  }

  async function connect(): Promise<void> {
    const connection = new pg.Client({
      connectionString: options.connectionString,
      connectionTimeoutMillis: CHECK_TIMEOUT_MS,
      query_timeout: CHECK_TIMEOUT_MS,
      keepAlive: true,
    });
    client = connection;
    connection.on('error', (error) => lost(connection, error));
    connection.on('end', () => lost(connection, new Error('connection ended')));
    connection.on('notification', (message) => {
      const parsed = changeSchema.safeParse(safeJson(message.payload));
      if (parsed.success) listeners.deliver(parsed.data);
    });
    try {
      await connection.connect();
      const { rows } = await connection.query<{ channel: string }>(`select ${CHANNEL_SQL} as channel`);
      const channel = rows[0]?.channel;
      if (channel === undefined) throw new Error('PostgreSQL named no channel');
      await connection.query('select set_config($1, $2, false)', ['application_name', channel]);
      await connection.query(`listen ${pg.escapeIdentifier(channel)}`);
      if (client !== connection) return;
      await countInstances(connection, channel);
      epochs += 1;
      epoch = epochs;
      delayMs = firstDelayMs;
      if (outageLogged) options.log.info({}, 'change feed: listening again');
      outageLogged = false;
      checkTimer = setInterval(() => {
        countInstances(connection, channel).catch((error: unknown) => lost(connection, error));
      }, checkIntervalMs).unref();
    } catch (error) {
      lost(connection, error);
    }
  }

  return {
    async announce(trx, change) {
      const payload = JSON.stringify(changeSchema.parse(change));
      await sql`select pg_notify(${sql.raw(CHANNEL_SQL)}, ${payload})`.execute(trx);
    },
    subscribe: (topic, onChange) => listeners.add(topic, onChange),
    get epoch() {
      return epoch;
    },
    get instances() {
      return instances;
    },
    async start() {
      closed = false;
      await connect();
    },
    async close() {
      closed = true;
      clearTimeout(reconnectTimer);
      clearInterval(checkTimer);
      const connection = client;
      client = undefined;
      epoch = undefined;
      if (connection !== undefined) {
        connection.removeAllListeners();
        connection.on('error', () => undefined);
        await connection.end().catch(() => undefined);
      }
    },
  };
}

function safeJson(text: string | undefined): unknown {
  try {
    return JSON.parse(text ?? '');
  } catch {
    return undefined;
  }
}
