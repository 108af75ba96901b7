import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadSeed } from '../hubspot-fake/index.js';
import { startHarness, TEST_APP, type Harness } from '../support/harness.js';

/**
 * Whose word names the viewer (README "How a request is trusted"): in production only the names HubSpot appends; the
 * card's own names only with ALLOW_CARD_IDENTITY outside production; both agreeing when both are there; the app id
 * matching HUBSPOT_APP_ID. The settings page status tells which source the account's latest requests used.
 */
const seed = loadSeed();
const account = seed.accounts[0]!;
const admin = account.users.find((user) => user.superAdmin && !user.deactivated)!;
const PRODUCTION = { NODE_ENV: 'production', TOKEN_ENCRYPTION_KEY: 'ab'.repeat(32) };

let h: Harness;
afterEach(async () => h.close());

async function start(env: Record<string, string>, logger?: FastifyBaseLogger) {
  h = await startHarness({ env, ...(logger === undefined ? {} : { logger }) });
  await h.installDirect(account.portalId, admin.id);
}
const asCard = (path: string, portalId = account.portalId, userId = admin.id) => `${path}?vgPortalId=${portalId}&vgUserId=${userId}`;

describe('identity in production', () => {
  it("accepts HubSpot's names, and refuses a request without them, saying what HubSpot did not send", async () => {
    await start(PRODUCTION);
    expect((await h.signed({ path: '/api/v1/me', portalId: account.portalId, userId: admin.id })).statusCode).toBe(200);

    const refused = await h.signedExactly({ path: asCard('/api/v1/me') });
    expect(refused.statusCode).toBe(401);
    expect(refused.json().error).toMatchObject({
      code: 'HUBSPOT_IDENTITY_MISSING',
      message: 'HubSpot did not add portalId and userId to this request, so nothing HubSpot vouches for says who is asking.',
      fix: expect.stringContaining('ALLOW_CARD_IDENTITY=true'),
    });
    const partial = await h.signedExactly({ path: `/api/v1/me?portalId=${account.portalId}&appId=${TEST_APP.appId}` });
    expect(partial.json().error.message).toBe('HubSpot did not add userId to this request, so nothing HubSpot vouches for says who is asking.');
  });

  it('refuses the card and HubSpot naming different users, and a request signed for another app', async () => {
    await start(PRODUCTION);
    const other = account.users.find((user) => user.id !== admin.id && !user.deactivated)!;
    const conflict = await h.signedExactly({ path: `${asCard('/api/v1/me', account.portalId, other.id)}&portalId=${account.portalId}&userId=${admin.id}` });
    expect(conflict.statusCode).toBe(401);
    expect(conflict.json().error.code).toBe('IDENTITY_CONFLICT');

    const otherApp = await h.signedExactly({ path: `/api/v1/me?portalId=${account.portalId}&userId=${admin.id}&appId=${TEST_APP.appId + 1}` });
    expect(otherApp.statusCode).toBe(401);
    expect(otherApp.json().error.code).toBe('APP_MISMATCH');
  });

  it("shows in the settings status that HubSpot named the viewer on the account's latest requests", async () => {
    await start(PRODUCTION);
    await h.signed({ path: '/api/v1/me', portalId: account.portalId, userId: admin.id });
    const status = await h.signed({ path: '/api/v1/admin/status', portalId: account.portalId, userId: admin.id });
    expect(status.statusCode).toBe(200);
    expect(status.json().identitySource).toEqual({ hubspot: 2, card: 0, since: expect.any(String) });
  });
});

describe('identity in development', () => {
  it("refuses the card's names without ALLOW_CARD_IDENTITY", async () => {
    await start({});
    const refused = await h.signedExactly({ path: asCard('/api/v1/me') });
    expect(refused.statusCode).toBe(401);
    expect(refused.json().error.code).toBe('HUBSPOT_IDENTITY_MISSING');
  });

  it("accepts the card's names with ALLOW_CARD_IDENTITY, logs each such request without the ids, and counts it as the card's", async () => {
    const warnings: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line) as Record<string, unknown>) });
    await start({ ALLOW_CARD_IDENTITY: 'true' }, logger);

    const me = await h.signedExactly({ path: asCard('/api/v1/me') });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ portalId: account.portalId, userId: admin.id });
    const cardWarnings = () => warnings.filter((line) => line.identitySource === 'card');
    expect(cardWarnings()).toHaveLength(1);
    const { reqId: _reqId, time: _time, pid: _pid, hostname: _hostname, ...logged } = cardWarnings()[0]!;
    expect(logged).toEqual({ level: 40, identitySource: 'card', msg: 'viewer identity taken from the card (ALLOW_CARD_IDENTITY=true), not from HubSpot' });

    // HubSpot's names still win when they are there, and must agree with the card's.
    expect((await h.signed({ path: asCard('/api/v1/me'), portalId: account.portalId, userId: admin.id })).statusCode).toBe(200);
    expect(cardWarnings()).toHaveLength(1);
    const conflict = await h.signed({ path: asCard('/api/v1/me', account.portalId, admin.id + 1), portalId: account.portalId, userId: admin.id });
    expect(conflict.json().error.code).toBe('IDENTITY_CONFLICT');

    const status = await h.signedExactly({ path: asCard('/api/v1/admin/status') });
    expect(status.json().identitySource).toEqual({ hubspot: 1, card: 2, since: expect.any(String) });
  });
});
