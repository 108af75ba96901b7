import { randomBytes } from 'node:crypto';
import { afterEach, expect, it } from 'vitest';
import { loadConfig } from '../../backend/src/config.js';
import { startBackend } from '../../backend/src/runtime.js';
import { createInstallationStore, createUsageDays, dayOf, DAY_MS, openDatabase, TokenCipher } from '../../backend/src/store/index.js';
import { createFakeHubSpot } from '../hubspot-fake/index.js';
import { databaseTargets } from '../storage/databases.js';
import { freePort } from '../support/free-port.js';
import { TEST_APP } from '../support/harness.js';
import { withHubSpotIdentity } from '../support/hubspot-fetch.js';
import { ana, northwind } from '../support/people.js';
import { signedRequest } from '../support/signing.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * `npm start`'s backend (runtime.ts) closing cleanly stores what it counted for the statistics: the app's last jobs run
 * before its database is closed, not after.
 */
it('stores the counts of a clean close before the database closes', async () => {
  const fake = createFakeHubSpot({ app: TEST_APP });
  const fakeUrl = await fake.listen();
  cleanups.push(() => fake.close());
  const file = await databaseTargets.find((target) => target.name === 'sqlite')!.create();
  cleanups.push(file.cleanup);
  const key = randomBytes(32);
  const port = await freePort();
  const publicBaseUrl = `http://127.0.0.1:${port}`;
  const config = loadConfig({
    HUBSPOT_CLIENT_ID: TEST_APP.clientId,
    HUBSPOT_CLIENT_SECRET: TEST_APP.clientSecret,
    HUBSPOT_APP_ID: String(TEST_APP.appId),
    PUBLIC_BASE_URL: publicBaseUrl,
    HUBSPOT_API_BASE_URL: fakeUrl,
    DATABASE_URL: file.url,
    PORT: String(port),
    HOST: '127.0.0.1',
    TOKEN_ENCRYPTION_KEY: key.toString('hex'),
    LOG_LEVEL: 'silent',
  });
  const database = await openDatabase(file.url);
  cleanups.push(() => database.close());
  const tokens = fake.tokens.issue(northwind.portalId, ana.id);
  await createInstallationStore(database.db, new TokenCipher([key]), database.dialect).saveInstall(
    {
      portalId: northwind.portalId,
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
      accessTokenExpiresAt: new Date(Date.now() + 1_800_000),
      scopes: [...config.hubspot.requiredScopes],
      installedByUserId: ana.id,
    },
    new Date(),
  );

  const backend = await startBackend(config);
  const viewed = await backend.app.inject(
    signedRequest({
      clientSecret: TEST_APP.clientSecret,
      publicBaseUrl,
      method: 'GET',
      path: withHubSpotIdentity('/api/v1/records/tickets/5001/access', { portalId: northwind.portalId, userId: ana.id, appId: TEST_APP.appId }),
      timestamp: Date.now(),
    }),
  );
  expect(viewed.statusCode, viewed.body).toBe(200);
  await backend.close();

  const stored = await createUsageDays(database.db).read(northwind.portalId, dayOf(Date.now()), dayOf(Date.now()) + DAY_MS);
  expect(stored).toEqual([expect.objectContaining({ viewsAllowed: 1, hubspotCalls: fake.calls.all().length })]);
});
