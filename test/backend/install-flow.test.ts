import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installThroughHubSpot } from '../../scripts/lib/install-flow.js';
import { loadSeed } from '../hubspot-fake/index.js';
import { startHarness, type Harness } from '../support/harness.js';

const seed = loadSeed();
const account = seed.accounts[0]!;
const superAdmin = account.users.find((user) => user.superAdmin && !user.deactivated)!;
const bystander = account.users.find((user) => !user.superAdmin && !user.canInstallApps && !user.deactivated)!;

/** The app's configuration as it is uploaded to HubSpot, read here on its own rather than through the backend. */
const APP_META_PATH = path.resolve(import.meta.dirname, '../../hubspot-project/app/app-hsmeta.json');
const appMeta = JSON.parse(readFileSync(APP_META_PATH, 'utf8')) as { config: { auth: { requiredScopes: string[]; optionalScopes: string[] } } };

/** HubSpot's answer to an install URL: refused on a mismatch, so the URL must carry exactly the app's scopes. */
async function installUrl(backendUrl: string): Promise<URL> {
  const response = await fetch(`${backendUrl}/oauth/install`, { redirect: 'manual' });
  expect(response.status).toBe(302);
  return new URL(response.headers.get('location')!);
}
const scopesIn = (url: URL, name: string) => url.searchParams.get(name)?.split(' ') ?? [];

describe('one-time install through HubSpot', () => {
  let harness: Harness;
  // Moves the backend's clock (and the local HubSpot's) forward for the expiry case only.
  let clockOffset = 0;
  beforeAll(async () => {
    harness = await startHarness({ now: () => Date.now() + clockOffset });
  });
  afterAll(async () => harness.close());

  it("sends the installer to HubSpot with the app's client id, redirect URL and a state bound to a cookie", async () => {
    const response = await fetch(`${harness.backendUrl}/oauth/install`, { redirect: 'manual' });
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location')!);
    expect(location.origin + location.pathname).toBe(harness.config.hubspot.authorizeUrl);
    expect(location.searchParams.get('client_id')).toBe(harness.config.hubspot.clientId);
    expect(location.searchParams.get('redirect_uri')).toBe(`${harness.backendUrl}/oauth/callback`);
    const cookie = response.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(location.searchParams.get('state')).toContain(cookie.split(';')[0]!.split('=')[1]!);
  });

  it('asks for exactly the scopes in app-hsmeta.json: required as scope, optional as optional_scope', async () => {
    const location = await installUrl(harness.backendUrl);
    expect(scopesIn(location, 'scope')).toEqual(appMeta.config.auth.requiredScopes);
    expect(scopesIn(location, 'optional_scope')).toEqual(appMeta.config.auth.optionalScopes);
  });

  it("shows HubSpot's own role error to a user who may not install, and installs nothing", async () => {
    const result = await installThroughHubSpot({ backendUrl: harness.backendUrl, userId: bystander.id });
    expect(result.page).toContain('You do not have the correct role to grant these permissions');
    expect(await harness.installations.get(account.portalId)).toBeUndefined();
  });

  it('explains a cancelled install and says a Super Admin can always install', async () => {
    const result = await installThroughHubSpot({ backendUrl: harness.backendUrl, userId: superAdmin.id, decision: 'deny' });
    expect(result.status).toBe(400);
    expect(result.page).toContain('cancelled or declined');
    expect(result.page).toContain('<code>access_denied</code>');
    expect(result.page).toContain('A Super Admin can always install');
    expect(await harness.installations.get(account.portalId)).toBeUndefined();
  });

  it('installs as the Super Admin, records installer and scopes, and says nobody else needs to', async () => {
    const result = await installThroughHubSpot({ backendUrl: harness.backendUrl, userId: superAdmin.id });
    expect(result.status).toBe(200);
    expect(result.page).toContain('Viewer Guard is ready');
    expect(result.page).toContain(superAdmin.email);
    expect(result.page).toContain('Nobody else needs to install it');
    const installation = await harness.installations.get(account.portalId);
    expect(installation).toMatchObject({ status: 'active', installedByUserId: superAdmin.id });
    expect(installation?.scopes).toEqual(expect.arrayContaining([...harness.config.hubspot.requiredScopes]));
  });

  it('says who installed and when on a second install', async () => {
    const first = await harness.installations.get(account.portalId);
    const result = await installThroughHubSpot({ backendUrl: harness.backendUrl, userId: superAdmin.id });
    expect(result.status).toBe(200);
    expect(result.page).toContain('already installed');
    expect(result.page).toContain(superAdmin.email);
    expect(result.page).toContain(first!.installedAt.toISOString().slice(0, 10));
    expect(result.page).toContain('Nobody else needs to install it');
  });

  async function startInstall(): Promise<{ state: string; cookie: string }> {
    const start = await fetch(`${harness.backendUrl}/oauth/install`, { redirect: 'manual' });
    return { state: new URL(start.headers.get('location')!).searchParams.get('state')!, cookie: start.headers.get('set-cookie')!.split(';')[0]! };
  }

  async function callback(query: { code?: string; state?: string }, cookie?: string): Promise<{ status: number; page: string }> {
    const response = await fetch(`${harness.backendUrl}/oauth/callback?${new URLSearchParams(query).toString()}`, {
      headers: cookie === undefined ? {} : { cookie },
    });
    return { status: response.status, page: await response.text() };
  }

  const tokenCalls = () => harness.fake.calls.count('POST', '/oauth/2026-03/token');

  it('refuses a callback whose state is missing, forged, from another browser or expired, each with its own explanation', async () => {
    const calls = tokenCalls();
    const { state, cookie } = await startInstall();
    const newer = await startInstall();

    const refusals = [
      [await callback({ code: 'abc' }, cookie), 'opened without the install session'],
      [await callback({ code: 'abc', state }), 'opened without the install session'],
      [await callback({ code: 'abc', state: `${state}x` }, cookie), 'was not issued by Viewer Guard'],
      [await callback({ code: 'abc', state }, newer.cookie), 'does not belong to the install started in this browser'],
    ] as const;
    for (const [answer, explanation] of refusals) {
      expect(answer.status).toBe(400);
      expect(answer.page).toContain('Please start the install again');
      expect(answer.page).toContain(explanation);
    }

    clockOffset = 10 * 60 * 1000;
    try {
      const expired = await callback({ code: 'abc', state }, cookie);
      expect(expired.status).toBe(400);
      expect(expired.page).toContain('more than ten minutes old');
    } finally {
      clockOffset = 0;
    }
    expect(tokenCalls()).toBe(calls);
  });

  it('accepts a state once: replaying the callback, even with another code, is refused as already used', async () => {
    const installed = await installThroughHubSpot({ backendUrl: harness.backendUrl, userId: superAdmin.id });
    expect(installed.status).toBe(200);
    const calls = tokenCalls();
    const { searchParams } = new URL(installed.finalUrl);
    const state = searchParams.get('state')!;

    for (const code of [searchParams.get('code')!, 'another-code']) {
      const replay = await callback({ code, state }, installed.cookie);
      expect(replay.status).toBe(400);
      expect(replay.page).toContain('This install link was already used. Start again from the install page.');
      expect(replay.page).not.toContain('Nothing was installed');
    }
    expect(tokenCalls()).toBe(calls);
  });

  it('lets only one of two racing callbacks with the same state exchange its code', async () => {
    const { state, cookie } = await startInstall();
    const calls = tokenCalls();
    const answers = await Promise.all([callback({ code: 'abc', state }, cookie), callback({ code: 'abc', state }, cookie)]);
    // 'abc' is no code HubSpot issued: the winner's exchange fails (502), the loser never gets that far.
    expect(answers.map((answer) => (answer.page.includes('This install link was already used') ? 'used' : answer.status)).sort()).toEqual([502, 'used']);
    expect(tokenCalls()).toBe(calls + 1);
  });

  it('escapes whatever HubSpot puts in error_description', async () => {
    const response = await fetch(
      `${harness.backendUrl}/oauth/callback?error=server_error&error_description=${encodeURIComponent('<script>alert(1)</script>')}`,
    );
    const page = await response.text();
    expect(page).not.toContain('<script>alert(1)</script>');
    expect(page).toContain('&lt;script&gt;');
  });
});

describe("what the install token is for, from HubSpot's introspection", () => {
  let harness: Harness;
  afterAll(async () => harness.close());

  it('stores the account, installer and scopes HubSpot names for the token', async () => {
    harness = await startHarness();
    const result = await installThroughHubSpot({ backendUrl: harness.backendUrl, userId: superAdmin.id });
    expect(result.status).toBe(200);
    expect(harness.fake.calls.count('POST', '/oauth/2026-03/token/introspect')).toBe(1);
    expect(await harness.installations.get(account.portalId)).toMatchObject({
      installedByUserId: superAdmin.id,
      scopes: [...harness.config.hubspot.requiredScopes],
    });
    await harness.close();
  });

  it("explains a user-level install (HubSpot's per-user app model) and stores nothing", async () => {
    harness = await startHarness();
    harness.fake.switches.userLevelInstalls = true;
    const result = await installThroughHubSpot({ backendUrl: harness.backendUrl, userId: superAdmin.id });
    expect(result.status).toBe(409);
    expect(result.page).toContain('is an <strong>account-level</strong> app');
    expect(result.page).toMatch(/Nothing was\s+stored/);
    expect(await harness.installations.get(account.portalId)).toBeUndefined();
    await harness.close();
  });

  it('refuses a token HubSpot issued to another app than HUBSPOT_APP_ID', async () => {
    harness = await startHarness({ env: { HUBSPOT_APP_ID: '999999' } });
    const result = await installThroughHubSpot({ backendUrl: harness.backendUrl, userId: superAdmin.id });
    expect(result.status).toBe(502);
    expect(result.page).toContain('not to this backend&#39;s app (HUBSPOT_APP_ID 999999)');
    expect(await harness.installations.get(account.portalId)).toBeUndefined();
  });
});

describe('install with optional scopes in app-hsmeta.json', () => {
  let harness: Harness;
  const scratch = mkdtempSync(path.join(tmpdir(), 'viewer-guard-install-'));
  const optional = ['crm.objects.deals.read', 'crm.objects.companies.read'];
  beforeAll(async () => {
    const file = path.join(scratch, 'app-hsmeta.json');
    writeFileSync(file, JSON.stringify({ ...appMeta, config: { ...appMeta.config, auth: { ...appMeta.config.auth, optionalScopes: optional } } }));
    harness = await startHarness({ appConfigFile: pathToFileURL(file) });
  });
  afterAll(async () => {
    await harness.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('requests them as optional_scope, and HubSpot installs without them where the account cannot grant them', async () => {
    const location = await installUrl(harness.backendUrl);
    expect(scopesIn(location, 'scope')).toEqual(appMeta.config.auth.requiredScopes);
    expect(scopesIn(location, 'optional_scope')).toEqual(optional);
    const result = await installThroughHubSpot({ backendUrl: harness.backendUrl, userId: superAdmin.id });
    expect(result.status).toBe(200);
    expect(result.page).toContain('Viewer Guard is ready');
    const installation = await harness.installations.get(account.portalId);
    expect(installation?.scopes).toEqual(appMeta.config.auth.requiredScopes);
  });

  it('is refused by HubSpot when the install URL leaves out an optional scope', async () => {
    const location = await installUrl(harness.backendUrl);
    location.searchParams.set('optional_scope', optional[0]!);
    const page = await fetch(location);
    expect(page.status).toBe(400);
    expect(await page.text()).toContain('The scopes in the install URL do not match the scopes configured for this app.');
  });
});
