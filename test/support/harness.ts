import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyBaseLogger, FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildBackend } from '../../backend/src/app.js';
import { APP_CONFIG_FILE, loadConfig, type Config } from '../../backend/src/config.js';
import type { DeadlineSettings } from '../../backend/src/hubspot/deadline.js';
import { createInstallationStore, openDatabase, TokenCipher, type InstallationStore, type StoreDatabase } from '../../backend/src/store/index.js';
import { createFakeHubSpot, type FakeHubSpot, type Seed } from '../hubspot-fake/index.js';
import { freePort } from './free-port.js';
import { databaseTargets } from '../storage/databases.js';
import { withHubSpotIdentity } from './hubspot-fetch.js';
import { signedRequest } from './signing.js';

export const TEST_APP = { clientId: 'viewer-guard-test', clientSecret: 'test-secret-7f3a', appId: 4242 };

export interface Harness {
  fake: FakeHubSpot;
  app: FastifyInstance;
  backendUrl: string;
  config: Config;
  installations: InstallationStore;
  database: StoreDatabase;
  /**
   * A request to our API signed by "HubSpot" for this portal and user, as hubspot.fetch() is assumed to send it in
   * production: HubSpot's `portalId`, `userId` and `appId` appended to the path.
   */
  signed(input: {
    method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
    path: string;
    portalId: number;
    userId: number;
    body?: unknown;
  }): Promise<LightMyRequestResponse>;
  /** A request signed by "HubSpot" for exactly this path and query, nothing appended: for the identity rules' tests. */
  signedExactly(input: { method?: 'GET' | 'POST' | 'PUT' | 'DELETE'; path: string; body?: unknown }): Promise<LightMyRequestResponse>;
  /** Installs without the browser dance (the fake issues tokens directly); the OAuth flow has its own tests. */
  installDirect(portalId: number, userId: number, scopes?: string[]): Promise<void>;
  /** The same, with an access token already past its expiry: the first call must refresh it. Returns that token. */
  installExpired(portalId: number, userId: number): Promise<string>;
  close(): Promise<void>;
}

/**
 * The local HubSpot and a listening backend wired to it, on a fresh in-memory SQLite unless told otherwise, or, when
 * HARNESS_DATABASE=postgres (`npm run test:postgres`), on a PostgreSQL schema of its own in TEST_DATABASE_URL.
 * `trustProxy: true` builds the app as runtime.ts does behind a proxy (X-Forwarded-* believed).
 */
export async function startHarness(
  options: {
    now?: () => number;
    databaseUrl?: string;
    env?: Record<string, string>;
    logger?: FastifyBaseLogger;
    appConfigFile?: URL;
    trustProxy?: boolean;
    /** The token keys, newest first; a fresh random key unless given. */
    tokenKeys?: Buffer[];
    /** Shorter budgets than production's (hubspot/deadline.ts), so deadline tests run in a second. */
    deadlines?: Partial<DeadlineSettings>;
    /** The local HubSpot's world (seed.json by default). */
    seed?: Seed;
    /**
     * HubSpot's limits lifted to this many calls per window in every lane, at the local HubSpot and in the backend's
     * pacing alike: for tests of what lists hold, not of how calls are paced.
     */
    liftRateLimits?: number;
  } = {},
): Promise<Harness> {
  const now = options.now ?? Date.now;
  const appConfigFile = options.appConfigFile ?? APP_CONFIG_FILE;
  // The local HubSpot knows the app's scopes as HubSpot does, from the uploaded app-hsmeta.json: read here, not through the backend's config.
  const { auth } = (JSON.parse(readFileSync(appConfigFile, 'utf8')) as { config: { auth: { requiredScopes: string[]; optionalScopes: string[] } } }).config;
  const fake = createFakeHubSpot({
    app: { ...TEST_APP, scopes: { required: auth.requiredScopes, optional: auth.optionalScopes } },
    now,
    ...(options.seed === undefined ? {} : { seed: options.seed }),
  });
  const lifted = options.liftRateLimits;
  if (lifted !== undefined) fake.switches.rateLimits = { general: { max: lifted, windowMs: 10_000 }, search: { max: lifted, windowMs: 1_000 } };
  const fakeUrl = await fake.listen();
  const ownDatabase = options.databaseUrl === undefined && process.env.HARNESS_DATABASE === 'postgres' ? await postgresTarget().create() : undefined;
  const port = await freePort();
  const backendUrl = `http://127.0.0.1:${port}`;
  const config = loadConfig(
    {
      HUBSPOT_CLIENT_ID: TEST_APP.clientId,
      HUBSPOT_CLIENT_SECRET: TEST_APP.clientSecret,
      HUBSPOT_APP_ID: String(TEST_APP.appId),
      PUBLIC_BASE_URL: backendUrl,
      HUBSPOT_API_BASE_URL: fakeUrl,
      HUBSPOT_AUTHORIZE_URL: `${fakeUrl}/oauth/authorize`,
      DATABASE_URL: options.databaseUrl ?? ownDatabase?.url ?? 'sqlite::memory:',
      PORT: String(port),
      // No scheduled calibration unless a test asks: its HubSpot calls would land in other tests' counts.
      CALIBRATION_INTERVAL_HOURS: '0',
      ...options.env,
    },
    appConfigFile,
  );
  const database = await openDatabase(config.databaseUrl);
  const tokenKeys = options.tokenKeys ?? [randomBytes(32)];
  const installations = createInstallationStore(database.db, new TokenCipher(tokenKeys), database.dialect);
  const app = await buildBackend({
    config,
    database,
    tokenKeys,
    now,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.trustProxy === undefined ? {} : { trustProxy: options.trustProxy }),
    ...(options.deadlines === undefined ? {} : { deadlines: options.deadlines }),
    ...(lifted === undefined ? {} : { hubspotLimits: { general: { max: lifted, intervalMs: 10_000 }, search: { max: lifted, intervalMs: 1_000 } } }),
  });
  await app.listen({ port, host: '127.0.0.1' });

  const signedExactly: Harness['signedExactly'] = ({ method = 'GET', path, body }) =>
    app.inject(signedRequest({ clientSecret: TEST_APP.clientSecret, publicBaseUrl: backendUrl, method, path, body, timestamp: now() }));

  /** Tokens issued by the local HubSpot and stored as an install would store them, the access token ending at `expiresAt`. */
  async function install(portalId: number, userId: number, scopes: string[] | undefined, expiresAt: number): Promise<string> {
    const tokens = fake.tokens.issue(portalId, userId, scopes);
    await installations.saveInstall(
      {
        portalId,
        accessToken: tokens.accessToken,
        refreshToken: tokens.refreshToken,
        accessTokenExpiresAt: new Date(expiresAt),
        scopes: scopes ?? [...config.hubspot.requiredScopes],
        installedByUserId: userId,
      },
      new Date(now()),
    );
    return tokens.accessToken;
  }
  return {
    fake,
    app,
    backendUrl,
    config,
    installations,
    database,
    signed: ({ method, path, portalId, userId, body }) =>
      signedExactly({ method, path: withHubSpotIdentity(path, { portalId, userId, appId: TEST_APP.appId }), body }),
    signedExactly,
    async installDirect(portalId, userId, scopes) {
      await install(portalId, userId, scopes, now() + 1800 * 1000);
    },
    installExpired: (portalId, userId) => install(portalId, userId, undefined, now() - 1_000),
    async close() {
      await app.close();
      await database.close();
      await fake.close();
      await ownDatabase?.cleanup();
    },
  };
}

function postgresTarget() {
  const target = databaseTargets.find((candidate) => candidate.name === 'postgres');
  if (target === undefined || target.skip) throw new Error('HARNESS_DATABASE=postgres needs TEST_DATABASE_URL=postgres://...');
  return target;
}
