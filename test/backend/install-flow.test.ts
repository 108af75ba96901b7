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
  beforeAll(async () => {
    harness = await startHarness();
  });
  afterAll(async () => harness.close());

  it('sends the installer to HubSpot with the app\'s client id, redirect URL and a state bound to a cookie', async () => {
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

  it('shows HubSpot\'s own role error to a user who may not install, and installs nothing', async () => {
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

  it('refuses a callback whose state is missing, forged or from another browser', async () => {
    const start = await fetch(`${harness.backendUrl}/oauth/install`, { redirect: 'manual' });
    const state = new URL(start.headers.get('location')!).searchParams.get('state')!;
    const cookie = start.headers.get('set-cookie')!.split(';')[0]!;

    const noState = await fetch(`${harness.backendUrl}/oauth/callback?code=abc`, { headers: { cookie } });
    expect(noState.status).toBe(400);
    expect(await noState.text()).toContain('Please start the install again');

    const forged = await fetch(`${harness.backendUrl}/oauth/callback?code=abc&state=${encodeURIComponent(`${state}x`)}`, { headers: { cookie } });
    expect(forged.status).toBe(400);
    expect(await forged.text()).toContain('does not belong to an install started in this browser');

    const otherBrowser = await fetch(`${harness.backendUrl}/oauth/callback?code=abc&state=${encodeURIComponent(state)}`);
    expect(otherBrowser.status).toBe(400);
    expect(harness.fake.calls.count('POST', '/oauth/2026-03/token')).toBe(2);
  });

  it('escapes whatever HubSpot puts in error_description', async () => {
    const response = await fetch(`${harness.backendUrl}/oauth/callback?error=server_error&error_description=${encodeURIComponent('<script>alert(1)</script>')}`);
    const page = await response.text();
    expect(page).not.toContain('<script>alert(1)</script>');
    expect(page).toContain('&lt;script&gt;');
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
