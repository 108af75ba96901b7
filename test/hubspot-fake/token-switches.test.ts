import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createFakeHubSpot, loadSeed, type FakeHubSpot } from './index.js';

const APP = { clientId: 'token-client', clientSecret: 'token-secret', appId: 1 };
const northwind = loadSeed().accounts[0]!;
const admin = northwind.users.find((user) => user.superAdmin)!;
const TOKEN = '/oauth/2026-03/token';

const tokenAnswer = z.object({ access_token: z.string(), refresh_token: z.string(), expires_in: z.number() });

describe("the local HubSpot's token endpoint: strict rotation and faults", () => {
  let fake: FakeHubSpot;
  let base: string;
  beforeEach(async () => {
    fake = createFakeHubSpot({ app: APP });
    base = await fake.listen();
  });
  afterEach(async () => {
    expect(fake.contract.violations()).toEqual([]);
    await fake.close();
  });

  const refresh = (refreshToken: string, signal?: AbortSignal) =>
    fetch(base + TOKEN, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', client_id: APP.clientId, client_secret: APP.clientSecret, refresh_token: refreshToken }),
      ...(signal === undefined ? {} : { signal }),
    });
  const refreshed = async (refreshToken: string) => {
    const response = await refresh(refreshToken);
    expect(response.status).toBe(200);
    return tokenAnswer.parse(await response.json());
  };
  const refusal = async (refreshToken: string) => {
    const response = await refresh(refreshToken);
    return { status: response.status, body: await response.json() };
  };

  it('keeps the refresh token by default: the same one comes back and keeps working', async () => {
    const { refreshToken } = fake.tokens.issue(northwind.portalId, admin.id);
    expect(fake.switches.rotateRefreshTokens).toBe(false);
    expect((await refreshed(refreshToken)).refresh_token).toBe(refreshToken);
    expect((await refreshed(refreshToken)).refresh_token).toBe(refreshToken);
    expect(fake.tokens.liveRefreshTokens(northwind.portalId)).toEqual([refreshToken]);
  });

  it('rotates strictly when switched on: each refresh answers a new refresh token and refuses the old one with invalid_grant', async () => {
    fake.switches.rotateRefreshTokens = true;
    const { refreshToken: first } = fake.tokens.issue(northwind.portalId, admin.id);
    const second = (await refreshed(first)).refresh_token;
    expect(second).not.toBe(first);
    expect(fake.tokens.liveRefreshTokens(northwind.portalId)).toEqual([second]);
    expect(await refusal(first)).toMatchObject({ status: 400, body: { status: 'BAD_REFRESH_TOKEN', error: 'invalid_grant' } });
    const third = await refreshed(second);
    expect(third.refresh_token).not.toBe(second);
    // The new access token is a working one.
    const owners = await fetch(`${base}/crm/v3/owners`, { headers: { authorization: `Bearer ${third.access_token}` } });
    expect(owners.status).toBe(200);
  });

  it('answers a queued 5xx before doing anything: the refresh token is not used up', async () => {
    fake.switches.rotateRefreshTokens = true;
    const { refreshToken } = fake.tokens.issue(northwind.portalId, admin.id);
    fake.switches.tokenFaultNext(1, { status: 503 });
    expect(await refusal(refreshToken)).toMatchObject({ status: 503, body: { category: 'INTERNAL_ERROR' } });
    expect(fake.tokens.liveRefreshTokens(northwind.portalId)).toEqual([refreshToken]);
    expect((await refreshed(refreshToken)).refresh_token).not.toBe(refreshToken);
  });

  it('loses the answer after carrying the grant out: the connection is reset, and under rotation the old token is dead', async () => {
    fake.switches.rotateRefreshTokens = true;
    const { refreshToken } = fake.tokens.issue(northwind.portalId, admin.id);
    fake.switches.tokenFaultNext(1, 'answer-lost');
    await expect(refresh(refreshToken)).rejects.toThrow('fetch failed');
    const live = fake.tokens.liveRefreshTokens(northwind.portalId);
    expect(live).toHaveLength(1);
    expect(live[0]).not.toBe(refreshToken);
    expect(await refusal(refreshToken)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(fake.calls.all().map((call) => call.status)).toEqual([0, 400]);
  });

  it('hangs without doing anything until the client gives up, then answers the next request', async () => {
    fake.switches.rotateRefreshTokens = true;
    const { refreshToken } = fake.tokens.issue(northwind.portalId, admin.id);
    fake.switches.tokenFaultNext(1, 'hang');
    await expect(refresh(refreshToken, AbortSignal.timeout(200))).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(fake.tokens.liveRefreshTokens(northwind.portalId)).toEqual([refreshToken]);
    expect((await refreshed(refreshToken)).refresh_token).not.toBe(refreshToken);
  });

  it('holds a processed answer back for tokenAnswerDelayMs: the rotation is already in force meanwhile', async () => {
    fake.switches.rotateRefreshTokens = true;
    fake.switches.tokenAnswerDelayMs = 300;
    const { refreshToken } = fake.tokens.issue(northwind.portalId, admin.id);
    const answer = refreshed(refreshToken);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(fake.tokens.liveRefreshTokens(northwind.portalId)).not.toContain(refreshToken);
    expect(fake.tokens.answersOnTheWay()).toBe(1);
    const { refresh_token: next } = await answer;
    expect(fake.tokens.answersOnTheWay()).toBe(0);
    expect(fake.tokens.liveRefreshTokens(northwind.portalId)).toEqual([next]);
  });
});
