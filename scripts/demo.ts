/**
 * `npm run demo`: the local HubSpot and the backend on its SQLite default, the app installed by the seeded Super
 * Admin through the real OAuth flow, then the API called with HubSpot-signed requests as every seeded user.
 * Leaves both servers running (Ctrl-C stops them) unless `--once` is given.
 */
import closeWithGrace from 'close-with-grace';
import { loadConfig } from '../backend/src/config.js';
import { startBackend } from '../backend/src/runtime.js';
import { createFakeHubSpot, loadSeed } from '../test/hubspot-fake/index.js';
import { freePort } from '../test/support/free-port.js';
import { signedRequest } from '../test/support/signing.js';
import { installThroughHubSpot } from './lib/install-flow.js';
import { formatTable } from './lib/table.js';

const once = process.argv.includes('--once');
const DEMO_APP = { clientId: 'viewer-guard-demo', clientSecret: 'demo-client-secret', appId: 1001 };

const seed = loadSeed();
const fake = createFakeHubSpot({ app: DEMO_APP, seed });
const hubspotUrl = await fake.listen(Number(process.env.DEMO_HUBSPOT_PORT ?? 0));
const port = Number(process.env.PORT ?? (await freePort()));
const backendUrl = `http://127.0.0.1:${port}`;

const config = loadConfig({
  ...process.env,
  HUBSPOT_CLIENT_ID: DEMO_APP.clientId,
  HUBSPOT_CLIENT_SECRET: DEMO_APP.clientSecret,
  HUBSPOT_APP_ID: String(DEMO_APP.appId),
  PUBLIC_BASE_URL: backendUrl,
  HUBSPOT_API_BASE_URL: hubspotUrl,
  HUBSPOT_AUTHORIZE_URL: `${hubspotUrl}/oauth/authorize`,
  PORT: String(port),
  HOST: '127.0.0.1',
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
});
const backend = await startBackend(config);

const say = (line = '') => process.stdout.write(`${line}\n`);
const fullName = (user: { firstName?: string; lastName?: string; email: string }) =>
  [user.firstName, user.lastName].filter(Boolean).join(' ') || user.email;

say('Viewer Guard demo');
say(`  local HubSpot  ${hubspotUrl}`);
say(`  backend        ${backendUrl}  (database ${config.databaseUrl})`);
say();

const account = seed.accounts[0];
if (account === undefined) throw new Error('the seed has no account');
const installer = account.users.find((user) => user.superAdmin && !user.deactivated);
const bystander = account.users.find((user) => !user.superAdmin && !user.canInstallApps && !user.deactivated);
if (installer === undefined) throw new Error(`the seed's account ${account.portalId} has no Super Admin`);

if (bystander !== undefined) {
  const refused = await installThroughHubSpot({ backendUrl, userId: bystander.id });
  const stoppedOnHubSpot = refused.page.includes('You do not have the correct role to grant these permissions');
  say(`Install attempted by ${fullName(bystander)} (not a Super Admin):`);
  say(`  ${stoppedOnHubSpot ? 'HubSpot stopped on its own page: "You do not have the correct role to grant these permissions". Nothing was installed.' : `unexpected: ${refused.status}`}`);
}
const installed = await installThroughHubSpot({ backendUrl, userId: installer.id });
const outcome = /<h1>([^<]+)<\/h1>/.exec(installed.page)?.[1] ?? `HTTP ${installed.status}`;
say(`Install by ${fullName(installer)} (Super Admin of ${account.name}, portal ${account.portalId}):`);
say(`  ${installed.status} ${outcome}`);
if (installed.status !== 200) throw new Error(`the install failed: ${installed.page}`);
say();

async function me(portalId: number, userId: number) {
  const request = signedRequest({
    clientSecret: DEMO_APP.clientSecret,
    publicBaseUrl: backendUrl,
    method: 'GET',
    path: `/api/v1/me?portalId=${portalId}&userId=${userId}`,
    timestamp: Date.now(),
  });
  const response = await fetch(backendUrl + request.url, { headers: request.headers });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

say(`GET /api/v1/me, signed by HubSpot for each user, asking about portal ${account.portalId}:`);
const others = seed.accounts.slice(1).flatMap((other) => other.users.slice(0, 1).map((user) => ({ user, home: other })));
const rows: string[][] = [];
for (const { user, home } of [...account.users.map((user) => ({ user, home: account })), ...others]) {
  const { status, body } = await me(account.portalId, user.id);
  const who = `${fullName(user)}${home === account ? '' : ` (of ${home.name})`}`;
  if (status === 200) {
    const teams = (body.teams as Array<{ name: string; primary: boolean }>).map((team) => `${team.name}${team.primary ? '' : ' (2nd)'}`);
    rows.push([who, String(user.id), `${status}`, body.superAdmin ? 'yes' : 'no', String(body.ownerId ?? '-'), teams.join(', ') || '-']);
  } else {
    const error = body.error as { code: string; message: string };
    rows.push([who, String(user.id), `${status} ${error.code}`, '', '', error.message]);
  }
}
say(formatTable(['user', 'user id', 'answer', 'super admin', 'owner id', 'teams / reason'], rows));
say();

const drift = fake.contract.violations();
if (drift.length > 0) say(`Warning: ${drift.length} local HubSpot responses did not match HubSpot's OpenAPI specs.`);

if (once) {
  await backend.close();
  await fake.close();
} else {
  say(`Both servers are running. Open ${backendUrl}/ to walk through the install pages; Ctrl-C stops them.`);
  closeWithGrace({ delay: 5_000 }, async () => {
    await backend.close();
    await fake.close();
  });
}
