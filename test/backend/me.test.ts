import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSeed } from '../hubspot-fake/index.js';
import { startHarness, type Harness } from '../support/harness.js';

const seed = loadSeed();
const [account, otherAccount] = seed.accounts as [(typeof seed.accounts)[0], (typeof seed.accounts)[0]];
const superAdmin = account.users.find((user) => user.superAdmin && !user.deactivated)!;
const withSecondaryTeam = account.users.find((user) => user.secondaryTeamIds.length > 0 && !user.deactivated)!;
const deactivated = account.users.find((user) => user.deactivated);

describe('GET /api/v1/me', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness();
    await harness.installDirect(account.portalId, superAdmin.id);
  });
  afterAll(async () => harness.close());

  it('answers who the verified viewer is, with owner id (not user id) and both kinds of team', async () => {
    const response = await harness.signed({ path: '/api/v1/me', portalId: account.portalId, userId: withSecondaryTeam.id });
    expect(response.statusCode).toBe(200);
    const owner = account.owners.find((candidate) => candidate.userId === withSecondaryTeam.id);
    const body = response.json();
    expect(body).toMatchObject({
      portalId: account.portalId,
      userId: withSecondaryTeam.id,
      email: withSecondaryTeam.email,
      superAdmin: false,
      ownerId: owner?.id ?? null,
    });
    expect(body.ownerId).not.toBe(withSecondaryTeam.id);
    expect(body.teams.filter((team: { primary: boolean }) => !team.primary).map((team: { id: string }) => team.id)).toEqual(withSecondaryTeam.secondaryTeamIds);
    expect(body.teams.every((team: { name: string }) => team.name.length > 0)).toBe(true);
  });

  it('refuses a user of another account with a clear 403', async () => {
    const stranger = otherAccount.users[0]!;
    const response = await harness.signed({ path: '/api/v1/me', portalId: account.portalId, userId: stranger.id });
    expect(response.statusCode).toBe(403);
    expect(response.json().error).toMatchObject({ code: 'USER_NOT_IN_PORTAL', fix: expect.stringContaining('Super Admin') });
  });

  it.runIf(deactivated !== undefined)('refuses a deactivated user', async () => {
    const response = await harness.signed({ path: '/api/v1/me', portalId: account.portalId, userId: deactivated!.id });
    expect(response.statusCode).toBe(403);
  });

  it('says the app is not installed for an account that never installed it, with the install link', async () => {
    const response = await harness.signed({ path: '/api/v1/me', portalId: otherAccount.portalId, userId: otherAccount.users[0]!.id });
    expect(response.statusCode).toBe(409);
    expect(response.json().error).toMatchObject({ code: 'NOT_INSTALLED', link: `${harness.backendUrl}/` });
  });

  it('caches the viewer: repeated calls do not ask HubSpot again within the TTL', async () => {
    harness.fake.calls.reset();
    for (let i = 0; i < 5; i += 1) {
      const response = await harness.signed({ path: '/api/v1/me', portalId: account.portalId, userId: superAdmin.id });
      expect(response.statusCode).toBe(200);
    }
    expect(harness.fake.calls.count('GET', '/settings/users/2026-03/:userId')).toBeLessThanOrEqual(1);
  });

  it('serves health and readiness', async () => {
    expect((await harness.app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
    expect((await harness.app.inject({ url: '/readyz' })).json()).toEqual({ status: 'ready' });
  });

  it('answers unknown routes with the JSON error shape', async () => {
    const response = await harness.app.inject({ url: '/nope' });
    expect(response.statusCode).toBe(404);
    expect(response.json().error).toMatchObject({ code: 'NOT_FOUND', correlationId: expect.any(String) });
  });
});
