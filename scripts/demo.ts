/**
 * `npm run demo`: the local HubSpot and the backend on its SQLite default, the app installed by the seeded Super
 * Admin through the real OAuth flow, then the API called with HubSpot-signed requests as every seeded user.
 * Leaves both servers running (Ctrl-C stops them) unless `--once` is given.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import closeWithGrace from 'close-with-grace';
import { loadConfig } from '../backend/src/config.js';
import { startBackend } from '../backend/src/runtime.js';
import type { AdminStatus, AuditPage, ContactTickets, StoredPolicy, RecordAccess } from '../hubspot-project/app/shared/types.ts';
import { createFakeHubSpot, loadSeed } from '../test/hubspot-fake/index.js';
import { freePort } from '../test/support/free-port.js';
import { withHubSpotIdentity } from '../test/support/hubspot-fetch.ts';
import { driftedMirrorPolicy } from '../test/support/mirror-policy.ts';
import { signedRequest } from '../test/support/signing.js';
import { identitySourceSentence } from '../hubspot-project/app/settings/SettingsPageView.tsx';
import { previewContactCard, previewTicketCard } from './lib/card-preview.tsx';
import { demoCalibration } from './lib/calibration-demo.ts';
import { installThroughHubSpot } from './lib/install-flow.js';
import { formatTable } from './lib/table.js';

const once = process.argv.includes('--once');
const DEMO_APP = { clientId: 'viewer-guard-demo', clientSecret: 'demo-client-secret', appId: 1001 };

const seed = loadSeed();
const fake = createFakeHubSpot({ app: DEMO_APP, seed });
const hubspotUrl = await fake.listen(Number(process.env.DEMO_HUBSPOT_PORT ?? 0));
const port = Number(process.env.PORT ?? (await freePort()));
const backendUrl = `http://127.0.0.1:${port}`;

/*
 * The local HubSpot starts from its seed on every run, so the backend does too: a database and a token key of this
 * run's own (never ./data/viewer-guard.db, which `npm start` may be using against a real account). DATABASE_URL, when
 * set, is used as it is, and the demo says so.
 */
const DEMO_DATABASE_FILE = './data/demo/viewer-guard-demo.db';
const ownDatabase = process.env.DATABASE_URL === undefined || process.env.DATABASE_URL === '';
if (ownDatabase) rmSync('./data/demo', { recursive: true, force: true });
const config = loadConfig({
  ...process.env,
  DATABASE_URL: ownDatabase ? `sqlite:${DEMO_DATABASE_FILE}` : process.env.DATABASE_URL,
  TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
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
const fullName = (user: { firstName?: string; lastName?: string; email: string }) => [user.firstName, user.lastName].filter(Boolean).join(' ') || user.email;

say('Viewer Guard demo');
say(`  local HubSpot  ${hubspotUrl}`);
say(
  `  backend        ${backendUrl}  (${ownDatabase ? `a fresh database for this run: ${DEMO_DATABASE_FILE}` : `reusing DATABASE_URL: earlier runs' installs and policies stay`})`,
);
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
  say(
    `  ${stoppedOnHubSpot ? 'HubSpot stopped on its own page: "You do not have the correct role to grant these permissions". Nothing was installed.' : `unexpected: ${refused.status}`}`,
  );
}
const installed = await installThroughHubSpot({ backendUrl, userId: installer.id });
const outcome = /<h1>([^<]+)<\/h1>/.exec(installed.page)?.[1] ?? `HTTP ${installed.status}`;
say(`Install by ${fullName(installer)} (Super Admin of ${account.name}, portal ${account.portalId}):`);
say(`  ${installed.status} ${outcome}`);
if (installed.status !== 200) throw new Error(`the install failed: ${installed.page}`);
say();

/** Our error body (backend/src/plugins/error-handler.ts), as far as the demo prints it. */
interface ApiError {
  code: string;
  message: string;
  fix?: string;
}
type Answer<T> = { ok: true; status: number; body: T } | { ok: false; status: number; error: ApiError };

/**
 * A call to our API as the card makes it: through HubSpot, which signs it and appends the viewer's identity.
 * `T` is the success shape the caller expects, taken on trust as the cards do (hubspot-project/app/shared/types.ts).
 */
async function api<T>(method: 'GET' | 'POST' | 'PUT', path: string, portalId: number, userId: number, body?: unknown): Promise<Answer<T>> {
  const request = signedRequest({
    clientSecret: DEMO_APP.clientSecret,
    publicBaseUrl: backendUrl,
    method,
    path: withHubSpotIdentity(path, { portalId, userId, appId: DEMO_APP.appId }),
    body,
    timestamp: Date.now(),
  });
  const response = await fetch(backendUrl + request.url, { method, headers: request.headers, body: request.payload });
  const answer: unknown = await response.json();
  return response.ok
    ? { ok: true, status: response.status, body: answer as T }
    : { ok: false, status: response.status, error: (answer as { error: ApiError }).error };
}
const me = (portalId: number, userId: number) =>
  api<{ superAdmin: boolean; ownerId: number | null; teams: Array<{ name: string; primary: boolean }> }>('GET', '/api/v1/me', portalId, userId);

say(`GET /api/v1/me, signed by HubSpot for each user, asking about portal ${account.portalId}:`);
const others = seed.accounts.slice(1).flatMap((other) => other.users.slice(0, 1).map((user) => ({ user, home: other })));
const rows: string[][] = [];
for (const { user, home } of [...account.users.map((user) => ({ user, home: account })), ...others]) {
  const answer = await me(account.portalId, user.id);
  const who = `${fullName(user)}${home === account ? '' : ` (of ${home.name})`}`;
  if (answer.ok) {
    const { body } = answer;
    const teams = body.teams.map((team) => `${team.name}${team.primary ? '' : ' (2nd)'}`);
    rows.push([who, String(user.id), `${answer.status}`, body.superAdmin ? 'yes' : 'no', String(body.ownerId ?? '-'), teams.join(', ') || '-']);
  } else {
    rows.push([who, String(user.id), `${answer.status} ${answer.error.code}`, '', '', answer.error.message]);
  }
}
say(formatTable(['user', 'user id', 'answer', 'super admin', 'owner id', 'teams / reason'], rows));
say();

// The admin mirrors each user's HubSpot permission levels in Viewer Guard's settings; HubSpot's permissions API
// stays the authority (ACCESS_SOURCE=auto), the mirrored levels give each answer its precise words. One cell is
// mirrored wrong on purpose (DELIBERATE_DRIFT), for calibration to find below.
const policySaved = await api<StoredPolicy>('PUT', '/api/v1/admin/policy', account.portalId, installer.id, driftedMirrorPolicy(account));
if (!policySaved.ok) throw new Error(`saving the policy failed: ${policySaved.error.message}`);
say(`${fullName(installer)} mirrors each user's HubSpot levels in the settings page: policy version ${policySaved.body.version}.`);
say();

const activeUsers = account.users.filter((user) => !user.deactivated);
const sampleTickets = ['5001', '5002', '5004', '5006'].flatMap((id) => account.tickets.filter((ticket) => ticket.id === id));
const verdict = (answer: Answer<RecordAccess>) => {
  if (!answer.ok) return answer.error.code === 'USER_NOT_IN_PORTAL' ? 'not a user' : `no: ${answer.error.code}`;
  const allowed = Object.entries(answer.body.verdicts)
    .filter(([, v]) => v.allowed)
    .map(([action]) => action);
  return allowed.join('+');
};
say(`What each user may do (GET /api/v1/records/tickets/:id/access; "view+edit" = allowed actions, "no: CODE" = refused):`);
const verdictRows: string[][] = [];
const reasons = new Map<string, string>();
for (const user of activeUsers) {
  const cells = [fullName(user)];
  for (const ticket of sampleTickets) {
    const response = await api<RecordAccess>('GET', `/api/v1/records/tickets/${ticket.id}/access`, account.portalId, user.id);
    cells.push(verdict(response));
    if (!response.ok && response.status === 403 && !reasons.has(response.error.code)) {
      reasons.set(response.error.code, `${fullName(user)}: ${response.error.message} Fix: ${response.error.fix ?? '-'}`);
    }
  }
  verdictRows.push(cells);
}
say(formatTable(['user', ...sampleTickets.map((ticket) => `#${ticket.id} ${ticket.properties.subject?.slice(0, 18)}`)], verdictRows));
say();
say('Why, in the words each user sees:');
for (const [code, reason] of reasons) say(`  ${code.padEnd(22)} ${reason}`);
say();

// The deal card: one deal, each user's verdict per action, as the card shows it (GET /api/v1/records/deals/:id/access).
const deal = account.deals.find((candidate) => candidate.id === '8001');
if (deal === undefined) throw new Error(`the seed's account ${account.portalId} has no deal 8001`);
const dealOwner = account.owners.find((owner) => String(owner.id) === deal.properties.hubspot_owner_id);
say(
  `The deal card on "${deal.properties.dealname}" (owned by ${dealOwner === undefined ? 'nobody' : `${dealOwner.firstName} ${dealOwner.lastName}`}), per user:`,
);
const dealRows: string[][] = [];
for (const user of activeUsers) {
  const response = await api<RecordAccess>('GET', `/api/v1/records/deals/${deal.id}/access`, account.portalId, user.id);
  if (!response.ok) {
    dealRows.push([fullName(user), `no (${response.error.code})`, '', '', response.error.message]);
    continue;
  }
  const { verdicts } = response.body;
  const cell = (action: 'view' | 'edit' | 'delete') => (verdicts[action]?.allowed === true ? 'yes' : 'no');
  const firstRefusal = [verdicts.edit, verdicts.delete].find((candidate) => candidate !== undefined && !candidate.allowed);
  dealRows.push([fullName(user), cell('view'), cell('edit'), cell('delete'), firstRefusal?.message ?? '']);
}
say(formatTable(['user', 'open', 'edit', 'delete', 'first refusal, in their words'], dealRows));
say();

const contact = account.contacts.find((candidate) => candidate.id === '6001');
if (contact === undefined) throw new Error(`the seed's account ${account.portalId} has no contact 6001`);
say(`The tickets of contact ${contact.properties.firstname} ${contact.properties.lastname} (GET /api/v1/contacts/${contact.id}/tickets):`);
const listRows: string[][] = [];
for (const user of activeUsers) {
  const response = await api<ContactTickets>('GET', `/api/v1/contacts/${contact.id}/tickets`, account.portalId, user.id);
  if (!response.ok) {
    listRows.push([fullName(user), '-', `refused: ${response.error.message}`]);
    continue;
  }
  const { hidden, tickets } = response.body;
  listRows.push([
    fullName(user),
    tickets.map((ticket) => `#${ticket.id}`).join(' ') || '(none)',
    hidden.count === 0 ? '' : `${hidden.count} hidden: ${hidden.reasons.map((reason) => `${reason.count} ${reason.message}`).join(', ')}`,
  ]);
}
say(formatTable(['user', 'visible tickets', 'hidden'], listRows));
say();

const bob = activeUsers.find((user) => user.firstName === 'Bob');
const dev = activeUsers.find((user) => user.firstName === 'Dev');
if (bob !== undefined && dev !== undefined) {
  say('Two writes through the card API:');
  type Assigned = { result: { ownerId: number | null } };
  const refused = await api<Assigned>('POST', '/api/v1/tickets/5001/assign-to-me', account.portalId, bob.id);
  say(`  ${fullName(bob)} assigns ticket #5001 to himself: ${refused.status} ${refused.ok ? 'done' : refused.error.code} (HubSpot was not changed)`);
  const done = await api<Assigned>('POST', '/api/v1/tickets/5004/assign-to-me', account.portalId, dev.id);
  say(`  ${fullName(dev)} assigns unassigned ticket #5004 to himself: ${done.status}, now owned by owner ${done.ok ? (done.body.result.ownerId ?? '-') : '-'}`);
  const audit = await api<AuditPage>('GET', '/api/v1/admin/audit?limit=2', account.portalId, installer.id);
  if (!audit.ok) throw new Error(`reading the audit log failed: ${audit.error.message}`);
  say('  Audit log (GET /api/v1/admin/audit, newest first):');
  for (const entry of audit.body.entries) {
    const [recordId, decisionCode, source] = [entry.recordId, entry.decisionCode, entry.source].map((value) => value ?? '-');
    say(`    ${entry.at}  user ${entry.userId}  ${entry.action} ticket ${recordId}  ${entry.outcome}  ${decisionCode} (${source})`);
  }
  say();
}

await demoCalibration(async <T>(method: 'GET' | 'POST', path: string, body?: unknown) => {
  const answer = await api<T>(method, path, account.portalId, installer.id, body);
  if (!answer.ok) throw new Error(`${method} ${path} failed: ${answer.error.message}`);
  return answer.body;
}, say);

const status = await api<AdminStatus>('GET', '/api/v1/admin/status', account.portalId, installer.id);
if (!status.ok) throw new Error(`reading the admin status failed: ${status.error.message}`);
say(`The settings page's status, on whose word Viewer Guard took each viewer's identity: ${identitySourceSentence(status.body.identitySource)}`);
say();

say("What the cards show each user (rendered with HubSpot's createRenderer, fed by this backend):");
for (const user of activeUsers) {
  const target = { backendUrl, clientSecret: DEMO_APP.clientSecret, portalId: account.portalId, userId: user.id, appId: DEMO_APP.appId };
  say(`${fullName(user)}, ticket #5003 card:`);
  for (const line of await previewTicketCard(target, '5003')) say(`  ${line}`);
  say(`${fullName(user)}, contact ${contact.properties.firstname} ${contact.properties.lastname} card:`);
  for (const line of await previewContactCard(target, contact.id)) say(`  ${line}`);
}
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
