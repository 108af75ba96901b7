import { describe, expect, it } from 'vitest';
import {
  attack,
  bob,
  forge,
  headerOf,
  json,
  northwind,
  refusal,
  send,
  sideEffects,
  SIGNATURE,
  TIMESTAMP,
  useStage,
  withHeaders,
  withIdentity,
  type Forged,
  type Outcome,
  type RequestSpec,
  type Stage,
} from './support.js';

/**
 * The signature and timestamp headers in every form but the one HubSpot sends: one canonical 44-character base64
 * value, a millisecond timestamp no older than 5 minutes and no more than 1 minute ahead (CONTRACT.md).
 */

const P = northwind.portalId;
const bases = {
  read: { method: 'GET', path: withIdentity('/api/v1/records/tickets/5002/access', P, bob.id) },
  note: { method: 'POST', path: withIdentity('/api/v1/tickets/5002/notes', P, bob.id), ...json({ body: 'Header probe' }) },
} satisfies Record<string, RequestSpec>;

const INVALID = refusal(401, 'SIGNATURE_INVALID');
const MISSING = refusal(401, 'SIGNATURE_MISSING');
const EXPIRED = refusal(401, 'SIGNATURE_EXPIRED');

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * The same request signed at successive milliseconds until `rewrite` changes the signature (base64url only differs
 * from base64 when the signature holds + or /), then sent with the rewritten header.
 */
function rewritten(stage: Stage, base: RequestSpec, rewrite: (signature: string) => string | string[] | undefined): Forged {
  const start = stage.clock.now();
  for (let offset = 0; offset < 200; offset += 1) {
    const forged = forge(stage, base, { timestamp: start - offset });
    const signature = headerOf(forged, SIGNATURE);
    const value = rewrite(signature);
    if (value !== signature) return withHeaders(forged, (headers) => ({ ...headers, [SIGNATURE]: value }));
  }
  throw new Error('no timestamp in 200 ms gave a signature this rewrite changes');
}

/** The last character of a 32-byte base64 digest carries 2 unused bits: setting one decodes to the same bytes. */
function nonCanonical(signature: string): string {
  const last = signature.at(-2) ?? '';
  return `${signature.slice(0, -2)}${BASE64[BASE64.indexOf(last) ^ 1] ?? ''}=`;
}

const hex = (signature: string) => Buffer.from(signature, 'base64').toString('hex');

const headerForms: Array<{ name: string; expect: Outcome | Outcome[]; forged: (stage: Stage, base: RequestSpec) => Forged }> = [
  { name: 'signature header missing', expect: MISSING, forged: (s, b) => rewritten(s, b, () => undefined) },
  { name: 'signature header empty', expect: MISSING, forged: (s, b) => rewritten(s, b, () => '') },
  {
    name: 'signature header sent twice (Node joins them as "a, a")',
    expect: INVALID,
    forged: (s, b) => rewritten(s, b, (signature) => [signature, signature]),
  },
  {
    name: 'signature header sent twice, joined without a space',
    expect: INVALID,
    forged: (s, b) => rewritten(s, b, (signature) => `${signature},${signature}`),
  },
  { name: 'the valid signature followed by garbage as a second value', expect: INVALID, forged: (s, b) => rewritten(s, b, (signature) => [signature, 'AAAA']) },
  { name: 'garbage followed by the valid signature as a second value', expect: INVALID, forged: (s, b) => rewritten(s, b, (signature) => ['AAAA', signature]) },
  { name: 'padded with garbage after "="', expect: INVALID, forged: (s, b) => rewritten(s, b, (signature) => `${signature}garbage`) },
  { name: 'an extra "=" of padding', expect: INVALID, forged: (s, b) => rewritten(s, b, (signature) => `${signature}=`) },
  { name: 'base64url alphabet', expect: INVALID, forged: (s, b) => rewritten(s, b, (signature) => signature.replaceAll('+', '-').replaceAll('/', '_')) },
  { name: 'unpadded (43 characters)', expect: INVALID, forged: (s, b) => rewritten(s, b, (signature) => signature.replace(/=$/, '')) },
  {
    name: 'base64url and unpadded',
    expect: INVALID,
    forged: (s, b) => rewritten(s, b, (signature) => signature.replaceAll('+', '-').replaceAll('/', '_').replace(/=$/, '')),
  },
  { name: 'lower-case hex of the digest', expect: INVALID, forged: (s, b) => rewritten(s, b, hex) },
  { name: 'upper-case hex of the digest', expect: INVALID, forged: (s, b) => rewritten(s, b, (signature) => hex(signature).toUpperCase()) },
  { name: '45 characters (one prepended)', expect: INVALID, forged: (s, b) => rewritten(s, b, (signature) => `A${signature}`) },
  { name: '43 characters (one dropped before the padding)', expect: INVALID, forged: (s, b) => rewritten(s, b, (signature) => `${signature.slice(0, -2)}=`) },
  { name: 'non-canonical base64 (unused bits set, same bytes)', expect: INVALID, forged: (s, b) => rewritten(s, b, nonCanonical) },
  { name: 'a space inside the value', expect: INVALID, forged: (s, b) => rewritten(s, b, (signature) => `${signature.slice(0, 20)} ${signature.slice(20)}`) },
  { name: 'a "sha256=" prefix', expect: INVALID, forged: (s, b) => rewritten(s, b, (signature) => `sha256=${signature}`) },
  {
    name: "a valid signature, but for another request (Bob's GET /me)",
    expect: INVALID,
    forged: (s, b) => rewritten(s, b, () => headerOf(forge(s, { method: 'GET', path: withIdentity('/api/v1/me', P, bob.id) }), SIGNATURE)),
  },
  {
    name: 'only the v1 signature header (hex of secret + body)',
    expect: MISSING,
    forged: (s, b) => {
      const forged = forge(s, b);
      return withHeaders(forged, (headers) => ({ ...headers, [SIGNATURE]: undefined, 'x-hubspot-signature': hex(headerOf(forged, SIGNATURE)) }));
    },
  },
  {
    name: 'the signature in the query string instead of a header',
    expect: MISSING,
    forged: (s, b) => withHeaders(forge(s, { ...b, path: `${b.path}&signature=x` }), (headers) => ({ ...headers, [SIGNATURE]: undefined })),
  },
];

/** Signed correctly over the timestamp text itself, so only the timestamp check can refuse it. */
const at = (stage: Stage, base: RequestSpec, timestamp: (now: number) => number | string) => forge(stage, base, { timestamp: timestamp(stage.clock.now()) });
const withTimestampHeader = (stage: Stage, base: RequestSpec, value: (now: number) => string | string[] | undefined) => {
  const now = stage.clock.now();
  return withHeaders(forge(stage, base, { timestamp: now }), (headers) => ({ ...headers, [TIMESTAMP]: value(now) }));
};

const MINUTE = 60_000;
const timestamps: Array<{ name: string; expect: Outcome | Outcome[]; forged: (stage: Stage, base: RequestSpec) => Forged }> = [
  { name: 'stale: 5 minutes and 1 ms old', expect: EXPIRED, forged: (s, b) => at(s, b, (now) => now - 5 * MINUTE - 1) },
  { name: 'stale: an hour old', expect: EXPIRED, forged: (s, b) => at(s, b, (now) => now - 60 * MINUTE) },
  { name: 'stale: the epoch', expect: [INVALID, EXPIRED], forged: (s, b) => at(s, b, () => 0) },
  { name: 'stale: seconds instead of milliseconds', expect: EXPIRED, forged: (s, b) => at(s, b, (now) => Math.floor(now / 1000)) },
  { name: 'future: 61 seconds ahead', expect: EXPIRED, forged: (s, b) => at(s, b, (now) => now + 61_000) },
  { name: 'future: a year ahead', expect: EXPIRED, forged: (s, b) => at(s, b, (now) => now + 365 * 24 * 60 * MINUTE) },
  { name: 'microseconds instead of milliseconds', expect: [INVALID, EXPIRED], forged: (s, b) => at(s, b, (now) => String(now * 1000)) },
  { name: 'huge (20 digits)', expect: [INVALID, EXPIRED], forged: (s, b) => at(s, b, () => '9'.repeat(20)) },
  { name: 'negative', expect: [INVALID, EXPIRED], forged: (s, b) => at(s, b, (now) => `-${now}`) },
  { name: 'letters', expect: INVALID, forged: (s, b) => at(s, b, () => 'yesterday') },
  { name: 'digits followed by letters', expect: INVALID, forged: (s, b) => at(s, b, (now) => `${now}abc`) },
  { name: 'a float', expect: INVALID, forged: (s, b) => at(s, b, (now) => `${now}.5`) },
  { name: 'exponent notation', expect: INVALID, forged: (s, b) => at(s, b, (now) => now.toExponential()) },
  { name: 'a plus sign', expect: INVALID, forged: (s, b) => at(s, b, (now) => `+${now}`) },
  { name: 'hexadecimal', expect: INVALID, forged: (s, b) => at(s, b, (now) => `0x${now.toString(16)}`) },
  { name: 'an ISO date', expect: INVALID, forged: (s, b) => at(s, b, (now) => new Date(now).toISOString()) },
  { name: 'empty', expect: MISSING, forged: (s, b) => withTimestampHeader(s, b, () => '') },
  { name: 'header missing', expect: MISSING, forged: (s, b) => withTimestampHeader(s, b, () => undefined) },
  { name: 'header sent twice with the signed value', expect: INVALID, forged: (s, b) => withTimestampHeader(s, b, (now) => [String(now), String(now)]) },
  { name: 'header sent twice, signed value second', expect: INVALID, forged: (s, b) => withTimestampHeader(s, b, (now) => [String(now - 1), String(now)]) },
];

describe('signature header forms and timestamps', () => {
  const stage = useStage();

  for (const [name, base] of Object.entries(bases)) {
    it(`control: ${name} with the canonical header and a fresh timestamp is accepted`, async () => {
      const response = await send(stage, forge(stage, base));
      expect(response.statusCode, response.body).toBe(200);
    });
  }

  it('control: a 4-minute-old and a 59-second-ahead signature are accepted', async () => {
    for (const offset of [-4 * MINUTE, 59_000]) {
      const response = await send(
        stage,
        at(stage, bases.read, (now) => now + offset),
      );
      expect(response.statusCode, `${offset}: ${response.body}`).toBe(200);
    }
  });

  for (const [category, list] of Object.entries({ 'signature header': headerForms, timestamp: timestamps })) {
    describe(category, () => {
      for (const form of list) {
        for (const [baseName, base] of Object.entries(bases)) {
          attack(`${form.name} (${baseName})`, () => ({
            send: () => send(stage, form.forged(stage, base)),
            expect: form.expect,
            unchanged: sideEffects(stage),
          }));
        }
      }
    });
  }
});
