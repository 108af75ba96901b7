import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installThroughHubSpot } from '../../scripts/lib/install-flow.js';
import { loadSeed } from '../hubspot-fake/index.js';
import { startHarness, type Harness } from '../support/harness.js';

const seed = loadSeed();
const account = seed.accounts[0]!;
const superAdmin = account.users.find((user) => user.superAdmin && !user.deactivated)!;
const bystander = account.users.find((user) => !user.superAdmin && !user.canInstallApps && !user.deactivated)!;

describe('one-time install through HubSpot', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness();
  });
  afterAll(async () => harness.close());

  it('sends the installer to HubSpot with the scopes and a state bound to a cookie', async () => {
    const response = await fetch(`${harness.backendUrl}/oauth/install`, { redirect: 'manual' });
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location')!);
    expect(location.origin + location.pathname).toBe(harness.config.hubspot.authorizeUrl);
    expect(location.searchParams.get('client_id')).toBe(harness.config.hubspot.clientId);
    expect(location.searchParams.get('redirect_uri')).toBe(`${harness.backendUrl}/oauth/callback`);
    expect(location.searchParams.get('scope')?.split(' ')).toEqual([...harness.config.hubspot.requiredScopes]);
    const cookie = response.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(location.searchParams.get('state')).toContain(cookie.split(';')[0]!.split('=')[1]!);
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
