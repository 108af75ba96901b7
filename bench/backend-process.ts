/**
 * One backend process for the benchmark: the real composition root (buildBackend) with a pino logger at `info`, as
 * runtime.ts builds it for `npm start`, on a database whose Kysely handle counts every query; and, in the same
 * process, a bare Fastify route making the one HubSpot call a record view cannot avoid (the ticket itself), to
 * compare against. Driven by bench/run.ts over IPC; CPU time and heap are read here, where the work happens.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { z } from 'zod';
import type { PolicyDocument } from '../backend/src/access/policy.js';
import { buildBackend } from '../backend/src/app.js';
import { loadConfig, type Config } from '../backend/src/config.js';
import { TICKET_PROPERTIES } from '../backend/src/hubspot/crm.js';
import { loggerOptions } from '../backend/src/logging.js';
import { createInstallationStore, createPolicyStore, openDatabase, TokenCipher, type StoreDatabase } from '../backend/src/store/index.js';
import { createLocalChangeFeed } from '../backend/src/instances/change-feed.js';
import { freePort } from '../test/support/free-port.js';
import { TEST_APP } from '../test/support/harness.js';
import { createQueryCounter, type QueryCounts } from './instruments.js';
import { serve } from './support/rpc.js';

export interface BackendUsage {
  queries: QueryCounts;
  /** User and system CPU time of this process since it started, in microseconds. */
  cpuMicros: number;
}

export type BackendProtocol = {
  start(argument: {
    fakeUrl: string;
    databaseUrl: string;
    /** base64 of the 32-byte token key: processes sharing a database share it. */
    tokenKey: string;
    accessSource: 'auto' | 'hubspot' | 'policy';
    /** Where the backend's log lines go (pino, level info). */
    logFile: string;
  }): Promise<{ url: string; bareUrl: string }>;
  /** Stores an installation directly, with tokens the local HubSpot issued (the OAuth flow has tests of its own). */
  install(argument: { portalId: number; userId: number; accessToken: string; refreshToken: string }): Promise<void>;
  savePolicy(argument: { portalId: number; document: PolicyDocument; changedByUserId: number }): Promise<void>;
  /** The token the bare route sends, as a process holding it in memory would. */
  setBareToken(argument: { token: string }): Promise<void>;
  /** The stored access token is due now: the next request must refresh it. */
  expireStoredToken(argument: { portalId: number }): Promise<void>;
  usage(argument: Record<string, never>): Promise<BackendUsage>;
  /** Heap in use after two forced collections, typed arrays' buffers included, in bytes. */
  heap(argument: Record<string, never>): Promise<number>;
  close(): Promise<void>;
};

interface Running {
  config: Config;
  database: StoreDatabase;
  tokenKey: Buffer;
  app: FastifyInstance;
  bare: FastifyInstance;
}

const counter = createQueryCounter();
let running: Running | undefined;
let bareToken = '';
const started = (): Running => {
  if (running === undefined) throw new Error('the backend is not started');
  return running;
};

/**
 * The physical floor of a record view: the same GET of the ticket the backend makes (path, properties, bearer token,
 * Node's fetch, JSON both ways), with nothing else.
 */
function bareRoute(fakeUrl: string): FastifyInstance {
  const bare = Fastify({ logger: false });
  const query = new URLSearchParams(TICKET_PROPERTIES.map((name): [string, string] => ['properties', name])).toString();
  bare.get('/bare/tickets/:id', async (request, reply) => {
    const { id } = z.object({ id: z.string().regex(/^\d+$/) }).parse(request.params);
    const response = await fetch(`${fakeUrl}/crm/objects/2026-03/tickets/${id}?${query}`, {
      headers: { authorization: `Bearer ${bareToken}`, accept: 'application/json' },
      signal: AbortSignal.timeout(5_000),
    });
    const body: unknown = JSON.parse(await response.text());
    return reply.status(response.status).send(body);
  });
  return bare;
}

serve({
  async start({ fakeUrl, databaseUrl, tokenKey, accessSource, logFile }) {
    const [port, barePort] = [await freePort(), await freePort()];
    const config = loadConfig({
      NODE_ENV: 'development',
      HUBSPOT_CLIENT_ID: TEST_APP.clientId,
      HUBSPOT_CLIENT_SECRET: TEST_APP.clientSecret,
      HUBSPOT_APP_ID: String(TEST_APP.appId),
      PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
      HUBSPOT_API_BASE_URL: fakeUrl,
      HUBSPOT_AUTHORIZE_URL: `${fakeUrl}/oauth/authorize`,
      DATABASE_URL: databaseUrl,
      ACCESS_SOURCE: accessSource,
      LOG_LEVEL: 'info',
    });
    const database = await openDatabase(config.databaseUrl);
    const key = Buffer.from(tokenKey, 'base64');
    const logger = pino(loggerOptions(config.logLevel), pino.destination({ dest: logFile, sync: true }));
    const app = await buildBackend({
      config,
      database: { ...database, db: database.db.withPlugin(counter.plugin) },
      tokenKeys: [key],
      logger,
      trustProxy: true,
    });
    await app.listen({ port, host: '127.0.0.1' });
    const bare = bareRoute(fakeUrl);
    await bare.listen({ port: barePort, host: '127.0.0.1' });
    running = { config, database, tokenKey: key, app, bare };
    return { url: config.publicBaseUrl, bareUrl: `http://127.0.0.1:${barePort}` };
  },

  async install({ portalId, userId, accessToken, refreshToken }) {
    const { config, database, tokenKey } = started();
    const installations = createInstallationStore(database.db, new TokenCipher(tokenKey), database.dialect);
    await installations.saveInstall(
      {
        portalId,
        accessToken,
        refreshToken,
        // The local HubSpot's access tokens live 1,800 s, as HubSpot's do.
        accessTokenExpiresAt: new Date(Date.now() + 1_800_000),
        scopes: [...config.hubspot.requiredScopes],
        installedByUserId: userId,
      },
      new Date(),
    );
  },

  async savePolicy({ portalId, document, changedByUserId }) {
    await createPolicyStore(started().database.db, createLocalChangeFeed()).save(portalId, document, changedByUserId, new Date());
  },

  async setBareToken({ token }) {
    bareToken = token;
  },

  async expireStoredToken({ portalId }) {
    await started().database.db.updateTable('installations').set({ access_token_expires_at: Date.now() }).where('portal_id', '=', portalId).execute();
  },

  async usage() {
    const cpu = process.cpuUsage();
    return { queries: counter.counts(), cpuMicros: cpu.user + cpu.system };
  },

  async heap() {
    if (global.gc === undefined) throw new Error('the backend process needs --expose-gc to measure its heap');
    global.gc();
    global.gc();
    // Typed arrays keep their bytes outside the JS heap (the permission cache's bits, for one): counted too.
    const memory = process.memoryUsage();
    return memory.heapUsed + memory.arrayBuffers;
  },

  async close() {
    if (running === undefined) return;
    await running.bare.close();
    await running.app.close();
    await running.database.close();
  },
} satisfies BackendProtocol);
