import { describe, expect, it } from 'vitest';
import { TEST_APP } from '../support/harness.js';
import {
  ana,
  attack,
  bob,
  contoso,
  forge,
  gina,
  json,
  northwind,
  refusal,
  send,
  sideEffects,
  useStage,
  zoe,
  type Outcome,
  type RequestSpec,
  type Stage,
} from './support.js';

/**
 * Who is asking comes from the signed query only (CONTRACT.md, step 2), and the signature is checked against
 * PUBLIC_BASE_URL only, whatever Host or X-Forwarded-* say. Every request here is correctly signed.
 */

const P = northwind.portalId;
const B = bob.id;
const UNSAFE = '9007199254740993';

const routes = {
  read: (query: string): RequestSpec => ({ method: 'GET', path: `/api/v1/records/tickets/5002/access${query === '' ? '' : `?${query}`}` }),
  note: (query: string): RequestSpec => ({
    method: 'POST',
    path: `/api/v1/tickets/5002/notes${query === '' ? '' : `?${query}`}`,
    ...json({ body: 'Identity probe' }),
  }),
};

const MISSING = refusal(401, 'IDENTITY_MISSING');
/** HubSpot's own names are absent: in production only they identify the viewer (README "How a request is trusted"). */
const NOT_SENT = refusal(401, 'HUBSPOT_IDENTITY_MISSING');
const CONFLICT = refusal(401, 'IDENTITY_CONFLICT');
const APP_MISMATCH = refusal(401, 'APP_MISMATCH');

const queries: Array<{ name: string; query: string; expect: Outcome }> = [
  { name: 'no portalId', query: `userId=${B}`, expect: NOT_SENT },
  { name: 'no userId', query: `portalId=${P}`, expect: NOT_SENT },
  { name: 'no query at all', query: '', expect: NOT_SENT },
  { name: 'empty portalId', query: `portalId=&userId=${B}`, expect: MISSING },
  { name: 'empty userId', query: `portalId=${P}&userId=`, expect: MISSING },
  { name: 'userId only under another name', query: `portalId=${P}&user_id=${B}`, expect: NOT_SENT },
  { name: 'userId as an array parameter', query: `portalId=${P}&userId[]=${B}`, expect: NOT_SENT },
  { name: 'two portalIds', query: `portalId=${P}&userId=${B}&portalId=${contoso.portalId}`, expect: CONFLICT },
  { name: 'two userIds, the admin second', query: `portalId=${P}&userId=${B}&userId=${ana.id}`, expect: CONFLICT },
  { name: 'two userIds, the admin first', query: `portalId=${P}&userId=${ana.id}&userId=${B}`, expect: CONFLICT },
  { name: 'two userIds, the second empty', query: `portalId=${P}&userId=${B}&userId=`, expect: CONFLICT },
  { name: 'two appIds', query: `portalId=${P}&userId=${B}&appId=${TEST_APP.appId}&appId=${TEST_APP.appId + 1}`, expect: CONFLICT },
  { name: 'two userEmails', query: `portalId=${P}&userId=${B}&userEmail=${bob.email}&userEmail=${ana.email}`, expect: CONFLICT },
  { name: 'userId an unsafe integer (2^53 + 1)', query: `portalId=${P}&userId=${UNSAFE}`, expect: MISSING },
  { name: 'userId 2^53 (not a safe integer)', query: `portalId=${P}&userId=9007199254740992`, expect: MISSING },
  { name: 'portalId an unsafe integer', query: `portalId=${UNSAFE}&userId=${B}`, expect: MISSING },
  { name: 'userId with 16 nines', query: `portalId=${P}&userId=${'9'.repeat(16)}`, expect: MISSING },
  { name: 'userId with 25 digits', query: `portalId=${P}&userId=${'1'.repeat(25)}`, expect: MISSING },
  { name: 'userId zero', query: `portalId=${P}&userId=0`, expect: MISSING },
  { name: 'portalId zero', query: `portalId=0&userId=${B}`, expect: MISSING },
  { name: 'userId negative', query: `portalId=${P}&userId=-${B}`, expect: MISSING },
  { name: 'userId with a leading zero', query: `portalId=${P}&userId=0${B}`, expect: MISSING },
  { name: 'portalId with a leading zero', query: `portalId=0${P}&userId=${B}`, expect: MISSING },
  { name: 'userId in hex', query: `portalId=${P}&userId=0x${B.toString(16)}`, expect: MISSING },
  { name: 'userId as a float', query: `portalId=${P}&userId=${B}.0`, expect: MISSING },
  { name: 'userId in exponent notation', query: `portalId=${P}&userId=${B / 1000}e3`, expect: MISSING },
  { name: 'userId with a leading space', query: `portalId=${P}&userId=%20${B}`, expect: MISSING },
  { name: 'userId with a trailing space', query: `portalId=${P}&userId=${B}%20`, expect: MISSING },
  { name: 'userId with a leading + (a space in a query)', query: `portalId=${P}&userId=+${B}`, expect: MISSING },
  { name: 'userId with an encoded plus sign', query: `portalId=${P}&userId=%2B${B}`, expect: MISSING },
  { name: 'userId with a tab', query: `portalId=${P}&userId=${B}%09`, expect: MISSING },
  { name: 'userId with a NUL byte', query: `portalId=${P}&userId=${B}%00`, expect: MISSING },
  { name: 'userId followed by letters', query: `portalId=${P}&userId=${B}abc`, expect: MISSING },
  { name: 'userId in full-width digits', query: `portalId=${P}&userId=${encodeURIComponent('２００２')}`, expect: MISSING },
  { name: 'userId in Arabic-Indic digits', query: `portalId=${P}&userId=${encodeURIComponent('٢٠٠٢')}`, expect: MISSING },
  { name: 'another app', query: `portalId=${P}&userId=${B}&appId=${TEST_APP.appId + 1}`, expect: APP_MISMATCH },
  { name: 'appId not a number', query: `portalId=${P}&userId=${B}&appId=viewer-guard`, expect: APP_MISMATCH },
  { name: 'appId with a leading zero', query: `portalId=${P}&userId=${B}&appId=0${TEST_APP.appId}`, expect: APP_MISMATCH },
  { name: 'appId an unsafe integer', query: `portalId=${P}&userId=${B}&appId=${UNSAFE}`, expect: APP_MISMATCH },
];

/** Signed for the attacker's base URL, with headers claiming the request came in under that URL. */
const hosts: Array<{ name: string; baseUrl: (stage: Stage) => string; headers: (stage: Stage) => Record<string, string> }> = [
  { name: 'X-Forwarded-Host naming the signed host', baseUrl: () => 'https://evil.example', headers: () => ({ 'x-forwarded-host': 'evil.example' }) },
  {
    name: 'X-Forwarded-Host and -Proto naming the signed host',
    baseUrl: () => 'https://evil.example',
    headers: () => ({ 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' }),
  },
  { name: 'a matching Host header', baseUrl: () => 'http://evil.example', headers: () => ({ host: 'evil.example' }) },
  { name: 'a matching Host header with a port', baseUrl: () => 'http://evil.example:8443', headers: () => ({ host: 'evil.example:8443' }) },
  {
    name: 'a matching Host header and X-Forwarded-Proto',
    baseUrl: () => 'https://evil.example',
    headers: () => ({ host: 'evil.example', 'x-forwarded-proto': 'https' }),
  },
  {
    name: 'matching Host, X-Forwarded-Host, -Proto and -Port',
    baseUrl: () => 'https://evil.example:8443',
    headers: () => ({ host: 'evil.example:8443', 'x-forwarded-host': 'evil.example:8443', 'x-forwarded-proto': 'https', 'x-forwarded-port': '8443' }),
  },
  {
    name: 'a matching Host and Forwarded (RFC 7239) header',
    baseUrl: () => 'https://evil.example',
    headers: () => ({ host: 'evil.example', forwarded: 'for=203.0.113.7;host=evil.example;proto=https' }),
  },
  {
    name: 'X-Forwarded-Proto https for our own host',
    baseUrl: (stage) => stage.h.backendUrl.replace('http:', 'https:'),
    headers: () => ({ 'x-forwarded-proto': 'https' }),
  },
  {
    name: 'a matching Host header naming our own server as localhost',
    baseUrl: (stage) => stage.h.backendUrl.replace('127.0.0.1', 'localhost'),
    headers: (stage) => ({ host: new URL(stage.h.backendUrl.replace('127.0.0.1', 'localhost')).host }),
  },
  {
    name: 'matching X-Original-Host and X-Host',
    baseUrl: () => 'http://evil.example',
    headers: () => ({ host: 'evil.example', 'x-original-host': 'evil.example', 'x-host': 'evil.example' }),
  },
];

describe('identity from the signed query, and the base URL the signature covers', () => {
  const stage = useStage();
  const identity = `portalId=${P}&userId=${B}`;

  for (const [name, route] of Object.entries(routes)) {
    it(`control: ${name} with a plain signed identity is accepted`, async () => {
      const response = await send(stage, forge(stage, route(identity)));
      expect(response.statusCode, response.body).toBe(200);
    });
  }

  it('control: a repeated identity with the same value is accepted (the card and HubSpot both append it)', async () => {
    const response = await send(stage, forge(stage, routes.read(`${identity}&${identity}&appId=${TEST_APP.appId}&userEmail=${bob.email}`)));
    expect(response.statusCode, response.body).toBe(200);
  });

  describe('identity', () => {
    for (const { name, query, expect: outcome } of queries) {
      for (const [routeName, route] of Object.entries(routes)) {
        attack(`${name} (${routeName})`, () => ({ send: () => send(stage, forge(stage, route(query))), expect: outcome, unchanged: sideEffects(stage) }));
      }
    }
    attack('identity in the body only (note)', () => ({
      send: () => send(stage, forge(stage, { ...routes.note(''), ...json({ body: 'Identity probe', portalId: P, userId: ana.id }) })),
      expect: NOT_SENT,
      unchanged: sideEffects(stage),
    }));
  });

  describe('users the signed identity names but the account does not have', () => {
    const strangers: Array<{ name: string; query: string; expect: Outcome; audited?: { userId: number } }> = [
      {
        name: "another account's Super Admin claiming this account",
        query: `portalId=${P}&userId=${zoe.id}`,
        expect: refusal(403, 'USER_NOT_IN_PORTAL'),
        audited: { userId: zoe.id },
      },
      { name: 'a deactivated user', query: `portalId=${P}&userId=${gina.id}`, expect: refusal(403, 'USER_NOT_IN_PORTAL'), audited: { userId: gina.id } },
      { name: 'a user id HubSpot does not know', query: `portalId=${P}&userId=1999`, expect: refusal(403, 'USER_NOT_IN_PORTAL'), audited: { userId: 1999 } },
      { name: 'an account that never installed the app', query: `portalId=10000099&userId=${B}`, expect: refusal(409, 'NOT_INSTALLED') },
    ];
    for (const stranger of strangers) {
      for (const [routeName, route] of Object.entries(routes)) {
        attack(`${stranger.name} (${routeName})`, () => ({
          send: () => send(stage, forge(stage, route(stranger.query))),
          expect: stranger.expect,
          unchanged: sideEffects(stage),
          ...(stranger.audited === undefined ? {} : { audited: { stage, portalId: P, userId: stranger.audited.userId, code: 'USER_NOT_IN_PORTAL' } }),
        }));
      }
    }
  });

  // runtime.ts builds the app with trustProxy: X-Forwarded-* is believed for the client's address, never for the signature.
  for (const trustProxy of [false, true]) {
    describe(`Host and X-Forwarded-* naming the host the signature was made for (${trustProxy ? 'behind a trusted proxy' : 'no proxy trusted'})`, () => {
      const target = trustProxy ? useStage({ trustProxy }) : stage;
      for (const host of hosts) {
        for (const [routeName, route] of Object.entries(routes)) {
          attack(`${host.name} (${routeName})`, () => ({
            send: () => send(target, forge(target, { ...route(identity), headers: host.headers(target) }, { baseUrl: host.baseUrl(target) })),
            expect: refusal(401, 'SIGNATURE_INVALID'),
            unchanged: sideEffects(target),
          }));
        }
      }
    });
  }
});
