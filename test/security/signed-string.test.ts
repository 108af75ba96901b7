import { describe, expect, it } from 'vitest';
import { TEST_APP } from '../support/harness.js';
import {
  ana,
  attack,
  bob,
  contoso,
  forge,
  json,
  mirroredPolicy,
  northwind,
  refusal,
  send,
  sideEffects,
  signV3,
  useStage,
  withIdentity,
  type Forged,
  type RequestSpec,
  type SignatureSpec,
  type Stage,
} from './support.js';

/**
 * Every part of the string HubSpot signs (method, base URL, path, query, body, timestamp) and the secret, changed
 * one at a time between signing and sending: each must be 401 SIGNATURE_INVALID and change nothing.
 */

const P = northwind.portalId;

/** Requests Bob may legitimately make (the controls prove it), so only the tampering can explain a refusal. */
const bases = {
  read: { method: 'GET', path: `/api/v1/records/tickets/5002/access?portalId=${P}&userId=${bob.id}&appId=${TEST_APP.appId}&userEmail=${bob.email}` },
  note: { method: 'POST', path: withIdentity('/api/v1/tickets/5002/notes', P, bob.id), ...json({ body: 'Signed note' }) },
  list: { method: 'GET', path: withIdentity('/api/v1/contacts/6002/tickets', P, bob.id) },
  create: { method: 'POST', path: withIdentity('/api/v1/contacts/6002/tickets', P, bob.id), ...json({ subject: 'Signed subject', priority: 'LOW' }) },
} satisfies Record<string, RequestSpec>;
type BaseName = keyof typeof bases;

/** Signed over `base` as HubSpot would, then sent with `change` applied. */
const sentAs = (stage: Stage, base: RequestSpec, change: Partial<RequestSpec>): Forged =>
  forge(stage, { ...base, ...change }, { method: base.method, path: base.path, body: base.body ?? '' });
/** Sent as `base`, but the signature covers `signAs` instead. */
const signedAs = (stage: Stage, base: RequestSpec, signAs: SignatureSpec): Forged => forge(stage, base, signAs);

const portOf = (url: string) => Number(new URL(url).port);
const replaceOnce = (text: string, from: string, to: string) => {
  if (!text.includes(from)) throw new Error(`"${from}" is not in "${text}"`);
  return text.replace(from, to);
};

interface Tamper {
  name: string;
  on: readonly BaseName[];
  forged: (stage: Stage, base: RequestSpec) => Forged;
}

const both = ['read', 'note'] as const;
const bodies = ['note', 'create'] as const;

const tampers: Record<string, Tamper[]> = {
  method: [
    { name: 'signed as GET, sent as POST to the same path', on: ['list'], forged: (s, b) => sentAs(s, b, { method: 'POST' }) },
    { name: 'signed as POST, sent as GET with the same bytes', on: ['create'], forged: (s, b) => sentAs(s, b, { method: 'GET' }) },
    { name: 'signed as PUT, sent as POST', on: ['create'], forged: (s, b) => signedAs(s, b, { method: 'PUT' }) },
    { name: 'signed with the method in lower case', on: ['read'], forged: (s, b) => signedAs(s, b, { method: 'get' }) },
  ],
  'base URL': [
    { name: 'signed for https instead of http', on: both, forged: (s, b) => signedAs(s, b, { baseUrl: s.h.backendUrl.replace('http:', 'https:') }) },
    {
      name: 'signed for localhost instead of 127.0.0.1',
      on: both,
      forged: (s, b) => signedAs(s, b, { baseUrl: s.h.backendUrl.replace('127.0.0.1', 'localhost') }),
    },
    { name: 'signed for another port', on: both, forged: (s, b) => signedAs(s, b, { baseUrl: `http://127.0.0.1:${portOf(s.h.backendUrl) + 1}` }) },
    { name: 'signed without the port', on: both, forged: (s, b) => signedAs(s, b, { baseUrl: 'http://127.0.0.1' }) },
    { name: 'signed with a trailing slash on the base URL', on: both, forged: (s, b) => signedAs(s, b, { baseUrl: `${s.h.backendUrl}/` }) },
    { name: 'signed under a path prefix', on: both, forged: (s, b) => signedAs(s, b, { baseUrl: `${s.h.backendUrl}/proxy` }) },
    {
      name: 'signed with user info in the base URL',
      on: both,
      forged: (s, b) => signedAs(s, b, { baseUrl: s.h.backendUrl.replace('http://', 'http://hubspot@') }),
    },
    { name: 'signed for another host', on: both, forged: (s, b) => signedAs(s, b, { baseUrl: 'https://evil.example' }) },
  ],
  path: [
    { name: 'signed for another record, sent for this one', on: both, forged: (s, b) => signedAs(s, b, { path: replaceOnce(b.path, '/5002/', '/5001/') }) },
    { name: 'sent for another record than signed', on: both, forged: (s, b) => sentAs(s, b, { path: replaceOnce(b.path, '/5002/', '/5001/') }) },
    {
      name: 'sent with a digit percent-encoded (same route once decoded)',
      on: both,
      forged: (s, b) => sentAs(s, b, { path: replaceOnce(b.path, '/5002/', '/500%32/') }),
    },
    { name: 'signed with a digit percent-encoded', on: both, forged: (s, b) => signedAs(s, b, { path: replaceOnce(b.path, '/5002/', '/500%32/') }) },
    { name: 'signed with a trailing slash on the path', on: both, forged: (s, b) => signedAs(s, b, { path: b.path.replace('?', '/?') }) },
    { name: 'signed with the path in upper case', on: both, forged: (s, b) => signedAs(s, b, { path: replaceOnce(b.path, '/api/v1/', '/API/V1/') }) },
    { name: 'signed with a doubled slash', on: both, forged: (s, b) => signedAs(s, b, { path: replaceOnce(b.path, '/api/v1/', '/api//v1/') }) },
    { name: 'signed with a dot segment', on: both, forged: (s, b) => signedAs(s, b, { path: replaceOnce(b.path, '/api/v1/', '/api/v1/./') }) },
    {
      name: 'sent to another object type than signed',
      on: ['read'],
      forged: (s, b) => sentAs(s, b, { path: replaceOnce(b.path, '/records/tickets/', '/records/contacts/') }),
    },
    {
      name: 'sent to another route than signed (stage instead of notes)',
      on: ['note'],
      forged: (s, b) => sentAs(s, b, { path: replaceOnce(b.path, '/notes', '/stage') }),
    },
  ],
  query: [
    {
      name: 'userId changed to the Super Admin',
      on: both,
      forged: (s, b) => sentAs(s, b, { path: replaceOnce(b.path, `userId=${bob.id}`, `userId=${ana.id}`) }),
    },
    {
      name: 'portalId changed to another account',
      on: both,
      forged: (s, b) => sentAs(s, b, { path: replaceOnce(b.path, `portalId=${P}`, `portalId=${contoso.portalId}`) }),
    },
    {
      name: 'portalId and userId swapped in order',
      on: both,
      forged: (s, b) => sentAs(s, b, { path: replaceOnce(b.path, `portalId=${P}&userId=${bob.id}`, `userId=${bob.id}&portalId=${P}`) }),
    },
    { name: 'a second userId appended', on: both, forged: (s, b) => sentAs(s, b, { path: `${b.path}&userId=${ana.id}` }) },
    { name: 'a harmless parameter appended', on: both, forged: (s, b) => sentAs(s, b, { path: `${b.path}&utm=1` }) },
    { name: 'the last parameter removed', on: both, forged: (s, b) => sentAs(s, b, { path: b.path.slice(0, b.path.lastIndexOf('&')) }) },
    { name: 'a parameter name in another case', on: both, forged: (s, b) => sentAs(s, b, { path: replaceOnce(b.path, 'userId=', 'UserId=') }) },
    {
      name: 'the userId value percent-encoded (same value once decoded)',
      on: both,
      forged: (s, b) => sentAs(s, b, { path: replaceOnce(b.path, `userId=${bob.id}`, `userId=${String(bob.id).replace(/\d/g, (digit) => `%3${digit}`)}`) }),
    },
    { name: 'parameters separated by ; instead of &', on: both, forged: (s, b) => sentAs(s, b, { path: replaceOnce(b.path, `&userId=`, ';userId=') }) },
    { name: 'the query string dropped', on: both, forged: (s, b) => sentAs(s, b, { path: b.path.slice(0, b.path.indexOf('?')) }) },
  ],
  body: [
    { name: 'one byte flipped', on: bodies, forged: (s, b) => sentAs(s, b, { body: replaceOnce(b.body ?? '', 'Signed', 'Signef') }) },
    { name: 'a trailing newline added', on: bodies, forged: (s, b) => sentAs(s, b, { body: `${b.body}\n` }) },
    { name: 'a leading space added', on: bodies, forged: (s, b) => sentAs(s, b, { body: ` ${b.body}` }) },
    { name: 'a space after a colon', on: bodies, forged: (s, b) => sentAs(s, b, { body: (b.body ?? '').replace('":', '": ') }) },
    {
      name: 'JSON keys reordered (same object)',
      on: ['create'],
      forged: (s, b) => sentAs(s, b, { body: JSON.stringify({ priority: 'LOW', subject: 'Signed subject' }) }),
    },
    {
      name: 'a letter sent as a \\u escape (same string)',
      on: bodies,
      forged: (s, b) => sentAs(s, b, { body: replaceOnce(b.body ?? '', 'Signed', 'Sign\\u0065d') }),
    },
    {
      name: 'a duplicate key appended',
      on: bodies,
      forged: (s, b) => sentAs(s, b, { body: (b.body ?? '').replace(/}$/, ',"body":"Unsigned","subject":"Unsigned"}') }),
    },
    { name: 'the last byte cut off', on: bodies, forged: (s, b) => sentAs(s, b, { body: (b.body ?? '').slice(0, -1) }) },
    { name: 'the body dropped', on: bodies, forged: (s, b) => sentAs(s, b, { body: '' }) },
    { name: 'signed over an empty body, sent with one', on: bodies, forged: (s, b) => signedAs(s, b, { body: '' }) },
  ],
  timestamp: [
    { name: 'timestamp header 1 ms later than signed', on: both, forged: (s, b) => tamperTimestamp(s, b, (signed) => String(signed + 1)) },
    { name: 'timestamp header 1 ms earlier than signed', on: both, forged: (s, b) => tamperTimestamp(s, b, (signed) => String(signed - 1)) },
    { name: 'timestamp header a minute earlier than signed', on: both, forged: (s, b) => tamperTimestamp(s, b, (signed) => String(signed - 60_000)) },
    { name: 'timestamp header with a leading zero', on: both, forged: (s, b) => tamperTimestamp(s, b, (signed) => `0${signed}`) },
  ],
  secret: [
    { name: 'signed with another secret', on: both, forged: (s, b) => signedAs(s, b, { secret: 'another-secret' }) },
    { name: 'signed with the client id as secret', on: both, forged: (s, b) => signedAs(s, b, { secret: TEST_APP.clientId }) },
    { name: 'signed with the secret and a trailing newline', on: both, forged: (s, b) => signedAs(s, b, { secret: `${TEST_APP.clientSecret}\n` }) },
    { name: 'signed with the secret in upper case', on: both, forged: (s, b) => signedAs(s, b, { secret: TEST_APP.clientSecret.toUpperCase() }) },
    { name: 'signed with an empty secret', on: both, forged: (s, b) => signedAs(s, b, { secret: '' }) },
  ],
};

/** Signed at `now`, sent with another timestamp header. */
function tamperTimestamp(stage: Stage, base: RequestSpec, header: (signed: number) => string): Forged {
  const signed = stage.clock.now();
  const forged = forge(stage, base, { timestamp: signed });
  return { ...forged, headers: { ...forged.headers, 'x-hubspot-request-timestamp': header(signed) } };
}

describe('tampering with the signed string', () => {
  // Creating a ticket is decided by the admin's levels (HubSpot cannot be asked about a record that does not exist yet).
  const stage = useStage({ policy: mirroredPolicy });

  for (const [name, base] of Object.entries(bases)) {
    it(`control: ${name} as signed is accepted`, async () => {
      const response = await send(stage, forge(stage, base));
      expect(response.statusCode, response.body).toBe(200);
    });
  }

  it("control: signV3 agrees with HubSpot's helper for a numeric timestamp", () => {
    const input = { secret: TEST_APP.clientSecret, method: 'POST', url: `${stage.h.backendUrl}/x`, body: '{}' };
    const timestamp = stage.clock.now();
    expect(signV3({ ...input, timestamp: String(timestamp) })).toBe(signV3({ ...input, timestamp }));
  });

  it('control: a value HubSpot signs decoded (%2F) and the card sends encoded is the same request', async () => {
    const path = withIdentity('/api/v1/records/tickets/5002/access?next=a%2Fb', P, bob.id);
    const response = await send(stage, forge(stage, { method: 'GET', path }, { path: path.replace('%2F', '/') }));
    expect(response.statusCode, response.body).toBe(200);
  });

  for (const [category, list] of Object.entries(tampers)) {
    describe(category, () => {
      for (const tamper of list) {
        for (const baseName of tamper.on) {
          attack(`${tamper.name} (${baseName})`, () => ({
            send: () => send(stage, tamper.forged(stage, bases[baseName])),
            expect: refusal(401, 'SIGNATURE_INVALID'),
            unchanged: sideEffects(stage),
          }));
        }
      }
    });
  }
});
