import { Redis } from 'ioredis';
import { sql } from 'kysely';
import pg from 'pg';
import type { SharedBudget } from '../hubspot/scheduler.js';
import type { StoreDatabase } from '../store/index.js';
import { createLocalChangeFeed, createPostgresChangeFeed, type ChangeFeed, type ChangeLog } from './change-feed.js';
import { createSharedBudget, type BudgetStore } from './shared-budget.js';

/**
 * What the instances of one deployment share besides the database rows themselves: the change feed that tells each
 * of them what to stop trusting in its caches, and HubSpot's budget per account. On SQLite (one process by design)
 * the feed is in-process and there is no shared budget: the scheduler alone paces HubSpot calls.
 */
export interface Instances {
  feed: ChangeFeed;
  budget: SharedBudget | undefined;
  /** Opens the connections (the composition root calls it when the app is ready, not when it is built). */
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface InstancesOptions {
  database: StoreDatabase;
  databaseUrl: string;
  /** The budget's store when set; otherwise the PostgreSQL database. */
  redisUrl: string | undefined;
  log: ChangeLog;
}

/** The budget's own small pool: its queries never wait behind the app's, nor hold the app's connections. */
const BUDGET_POOL_SIZE = 4;
const CONNECT_TIMEOUT_MS = 2_000;

export function connectInstances(options: InstancesOptions): Instances {
  if (options.database.dialect === 'sqlite') {
    const feed = createLocalChangeFeed();
    return { feed, budget: undefined, start: () => feed.start(), close: () => feed.close() };
  }
  const feed = createPostgresChangeFeed({ connectionString: options.databaseUrl, log: options.log });
  const store = budgetStore(options);
  const budget = createSharedBudget({
    store: store.store,
    keyPrefix: async () => {
      const { rows } = await sql<{ name: string }>`select current_database() || '.' || current_schema() as name`.execute(options.database.db);
      return `viewer-guard:${rows[0]?.name ?? 'unnamed'}`;
    },
    instances: () => feed.instances,
    log: options.log,
  });
  return {
    feed,
    budget,
    async start() {
      await feed.start();
      store.start();
    },
    async close() {
      await Promise.all([feed.close(), store.close()]);
    },
  };
}

function budgetStore(options: InstancesOptions): { store: BudgetStore; start(): void; close(): Promise<void> } {
  if (options.redisUrl !== undefined) {
    // Commands fail at once while Redis is away (no offline queue) so the budget falls back at once; ioredis keeps
    // reconnecting by itself. The budget logs the outage; the client's own error events would repeat it each retry.
    const client = new Redis(options.redisUrl, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: CONNECT_TIMEOUT_MS });
    client.on('error', () => undefined);
    return {
      store: { kind: 'redis', client },
      start: () => void client.connect().catch(() => undefined),
      close: async () => client.disconnect(),
    };
  }
  const pool = new pg.Pool({
    connectionString: options.databaseUrl,
    max: BUDGET_POOL_SIZE,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    application_name: 'viewer-guard-budget',
  });
  // An idle connection dropped by the server is replaced on next use; unheard, the error would end the process.
  pool.on('error', () => undefined);
  return { store: { kind: 'postgres', pool }, start: () => undefined, close: () => pool.end() };
}
