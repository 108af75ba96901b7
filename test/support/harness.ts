import { randomBytes } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../backend/src/app.js';
import { loadConfig, type Config } from '../../backend/src/config.js';
import { createServices } from '../../backend/src/services.js';
import { createAuditLog, createInstallationStore, createPolicyStore, openDatabase, pingDatabase, TokenCipher, type InstallationStore, type StoreDatabase } from '../../backend/src/store/index.js';
import { createFakeHubSpot, type FakeHubSpot } from '../hubspot-fake/index.js';
import { freePort } from './free-port.js';
import { signedRequest } from './signing.js';

export const TEST_APP = { clientId: 'viewer-guard-test', clientSecret: 'test-secret-7f3a', appId: 4242 };

export interface Harness {
  fake: FakeHubSpot;
  app: FastifyInstance;
  backendUrl: string;
  config: Config;
  installations: InstallationStore;
  database: StoreDatabase;
  /** A GET or POST to our API signed by "HubSpot" for this portal and user, as hubspot.fetch() would send it. */
  signed(input: { method?: 'GET' | 'POST' | 'PUT' | 'DELETE'; path: string; portalId: number; userId: number; body?: unknown }): Promise<LightMyRequestResponse>;
  /** Installs without the browser dance (the fake issues tokens directly); the OAuth flow has its own tests. */
  installDirect(portalId: number, userId: number, scopes?: string[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * The local HubSpot and a listening backend wired to it, on a fresh in-memory SQLite unless told otherwise.
 * `trustProxy: true` builds the app as runtime.ts does behind a proxy (X-Forwarded-* believed).
 */
export async function startHarness(
  options: { now?: () => number; databaseUrl?: string; env?: Record<string, string>; trustProxy?: boolean } = {},
): Promise<Harness> {
  const now = options.now ?? Date.now;
  const fake = createFakeHubSpot({ app: TEST_APP, now });
  const fakeUrl = await fake.listen();
  const port = await freePort();
  const backendUrl = `http://127.0.0.1:${port}`;
  const config = loadConfig({
    HUBSPOT_CLIENT_ID: TEST_APP.clientId,
    HUBSPOT_CLIENT_SECRET: TEST_APP.clientSecret,
    HUBSPOT_APP_ID: String(TEST_APP.appId),
    PUBLIC_BASE_URL: backendUrl,
    HUBSPOT_API_BASE_URL: fakeUrl,
    HUBSPOT_AUTHORIZE_URL: `${fakeUrl}/oauth/authorize`,
    DATABASE_URL: options.databaseUrl ?? 'sqlite::memory:',
    PORT: String(port),
    ...options.env,
  });
  const database = await openDatabase(config.databaseUrl);
  const installations = createInstallationStore(database.db, new TokenCipher(randomBytes(32)), database.dialect);
  const silent = { info: () => undefined, warn: () => undefined };
  const app = await buildApp(
    createServices({
      config,
      installations,
      policies: createPolicyStore(database.db),
      audit: createAuditLog(database.db),
      pingDatabase: () => pingDatabase(database.db),
      now,
      log: silent,
    }),
    options.trustProxy === undefined ? {} : { trustProxy: options.trustProxy },
  );
  await app.listen({ port, host: '127.0.0.1' });

  return {
    fake,
    app,
    backendUrl,
    config,
    installations,
    database,
    signed: ({ method = 'GET', path, portalId, userId, body }) => {
      const separator = path.includes('?') ? '&' : '?';
      return app.inject(
        signedRequest({
          clientSecret: TEST_APP.clientSecret,
          publicBaseUrl: backendUrl,
          method,
          path: `${path}${separator}portalId=${portalId}&userId=${userId}`,
          body,
          timestamp: now(),
        }),
      );
    },
    async installDirect(portalId, userId, scopes) {
      const tokens = fake.tokens.issue(portalId, userId, scopes);
      await installations.saveInstall(
        {
          portalId,
          accessToken: tokens.accessToken,
          refreshToken: tokens.refreshToken,
          accessTokenExpiresAt: new Date(now() + 1800 * 1000),
          scopes: scopes ?? [...config.hubspot.requiredScopes],
          installedByUserId: userId,
        },
        new Date(now()),
      );
    },
    async close() {
      await app.close();
      await database.close();
      await fake.close();
    },
  };
}
