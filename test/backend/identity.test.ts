import { describe, expect, it } from 'vitest';
import { readSignedIdentity, type IdentityRules } from '../../backend/src/hubspot/identity.js';
import { createIdentitySources, MAX_ACCOUNTS, RECENT_PER_ACCOUNT } from '../../backend/src/usecases/identity-sources.js';

const production: IdentityRules = { expectedAppId: 777, allowCardIdentity: false };
const development: IdentityRules = { expectedAppId: 777, allowCardIdentity: true };
const read = (query: string, rules: IdentityRules) => readSignedIdentity(`/api/v1/me?${query}`, rules);

describe('readSignedIdentity', () => {
  it("takes the viewer from HubSpot's names, with app and email when HubSpot sends them", () => {
    for (const rules of [production, development]) {
      expect(read('portalId=42&userId=7&appId=777&userEmail=ana%40example.com', rules)).toEqual({
        ok: true,
        identity: { portalId: 42, userId: 7, appId: 777, userEmail: 'ana@example.com', source: 'hubspot' },
      });
    }
  });

  it("refuses the card's names alone unless card identity is allowed, saying which of HubSpot's names are missing", () => {
    expect(read('vgPortalId=42&vgUserId=7', production)).toEqual({ ok: false, failure: 'HUBSPOT_IDENTITY_MISSING', missing: ['portalId', 'userId'] });
    expect(read('vgPortalId=42&vgUserId=7', development)).toEqual({
      ok: true,
      identity: { portalId: 42, userId: 7, appId: undefined, userEmail: undefined, source: 'card' },
    });
  });

  it("prefers HubSpot's names when both are present and agree", () => {
    expect(read('vgPortalId=42&vgUserId=7&portalId=42&userId=7', development)).toMatchObject({
      ok: true,
      identity: { portalId: 42, userId: 7, source: 'hubspot' },
    });
  });

  it("never completes a partial set of HubSpot's names with the card's", () => {
    expect(read('vgPortalId=42&vgUserId=7&portalId=42', development)).toEqual({ ok: false, failure: 'HUBSPOT_IDENTITY_MISSING', missing: ['userId'] });
  });

  it.each([
    ['the card naming another user than HubSpot', 'vgPortalId=42&vgUserId=8&portalId=42&userId=7', 'IDENTITY_CONFLICT'],
    ['the card naming another account than HubSpot', 'vgPortalId=43&vgUserId=7&portalId=42&userId=7', 'IDENTITY_CONFLICT'],
    ['a HubSpot name repeated with another value', 'portalId=42&userId=7&userId=8', 'IDENTITY_CONFLICT'],
    ['a card name repeated with another value', 'vgPortalId=42&vgUserId=7&vgUserId=8', 'IDENTITY_CONFLICT'],
    ['another app', 'portalId=42&userId=7&appId=778', 'APP_MISMATCH'],
    ['another app on a card-named request', 'vgPortalId=42&vgUserId=7&appId=778', 'APP_MISMATCH'],
    ['a malformed app id', 'portalId=42&userId=7&appId=x', 'APP_MISMATCH'],
    ['a malformed card user id', 'vgPortalId=42&vgUserId=007', 'IDENTITY_MISSING'],
    ['a card portal id without its user id', 'vgPortalId=42', 'IDENTITY_MISSING'],
    ['no names at all', '', 'IDENTITY_MISSING'],
  ])('in development, refuses %s', (_name, query, failure) => {
    expect(read(query, development)).toMatchObject({ ok: false, failure });
  });

  it("in production, refuses a request naming nobody as HubSpot's omission, and still checks conflicts and the app first", () => {
    expect(read('', production)).toEqual({ ok: false, failure: 'HUBSPOT_IDENTITY_MISSING', missing: ['portalId', 'userId'] });
    expect(read('vgPortalId=43&vgUserId=7&portalId=42&userId=7', production)).toMatchObject({ failure: 'IDENTITY_CONFLICT' });
    expect(read('portalId=42&userId=7&appId=778', production)).toMatchObject({ failure: 'APP_MISMATCH' });
  });

  it('checks the app only when HUBSPOT_APP_ID is configured, and accepts a request without appId', () => {
    expect(read('portalId=42&userId=7&appId=778', { expectedAppId: undefined, allowCardIdentity: false })).toMatchObject({
      ok: true,
      identity: { appId: 778 },
    });
    expect(read('portalId=42&userId=7', production)).toMatchObject({ ok: true, identity: { appId: undefined } });
  });
});

describe('identity sources of recent requests', () => {
  it("counts each account's latest requests by source, since the oldest one counted", () => {
    let clock = Date.parse('2026-11-22T09:00:00.000Z');
    const sources = createIdentitySources({ now: () => clock });
    expect(sources.summary(42)).toEqual({ hubspot: 0, card: 0, since: null });
    sources.record(42, 'hubspot');
    clock += 1000;
    sources.record(42, 'card');
    sources.record(43, 'hubspot');
    expect(sources.summary(42)).toEqual({ hubspot: 1, card: 1, since: '2026-11-22T09:00:00.000Z' });
    expect(sources.summary(43)).toEqual({ hubspot: 1, card: 0, since: '2026-11-22T09:00:01.000Z' });
  });

  it('keeps only the latest requests of each account, and forgets the account seen least recently past the limit', () => {
    let clock = 0;
    const sources = createIdentitySources({ now: () => clock });
    sources.record(1, 'card');
    for (let i = 0; i < RECENT_PER_ACCOUNT; i += 1) {
      clock += 1;
      sources.record(1, 'hubspot');
    }
    expect(sources.summary(1)).toEqual({ hubspot: RECENT_PER_ACCOUNT, card: 0, since: new Date(1).toISOString() });
    for (let portalId = 2; portalId <= MAX_ACCOUNTS; portalId += 1) sources.record(portalId, 'hubspot');
    sources.record(2, 'hubspot'); // seen again: account 3 is now the least recently seen after account 1
    sources.record(MAX_ACCOUNTS + 1, 'hubspot');
    expect(sources.summary(1)).toEqual({ hubspot: 0, card: 0, since: null });
    sources.record(MAX_ACCOUNTS + 2, 'hubspot');
    expect(sources.summary(2).hubspot).toBe(2);
    expect(sources.summary(3)).toEqual({ hubspot: 0, card: 0, since: null });
  });
});
