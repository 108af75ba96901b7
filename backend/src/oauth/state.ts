import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The OAuth `state`: a random nonce, its expiry and an HMAC over both. The nonce also goes into an httpOnly
 * cookie, so a callback only succeeds in the browser that started the install (no login CSRF), and nobody can
 * mint a state without the app secret. No server-side storage is needed.
 */
export const STATE_TTL_MS = 10 * 60 * 1000;

export type StateCheck = 'ok' | 'missing' | 'forged' | 'expired';

export interface StateCodec {
  issue(): { state: string; nonce: string };
  verify(state: string | undefined, cookieNonce: string | undefined): StateCheck;
}

export function createStateCodec(appSecret: string, now: () => number): StateCodec {
  // A key of its own, derived from the app secret, so an HMAC made here can never pass as a HubSpot signature.
  const key = createHmac('sha256', appSecret).update('viewer-guard/oauth-state/v1').digest();
  const mac = (payload: string) => createHmac('sha256', key).update(payload).digest('base64url');

  return {
    issue() {
      const nonce = randomBytes(16).toString('base64url');
      const payload = `${nonce}.${now() + STATE_TTL_MS}`;
      return { state: `${payload}.${mac(payload)}`, nonce };
    },
    verify(state, cookieNonce) {
      if (state === undefined || state === '' || cookieNonce === undefined || cookieNonce === '') return 'missing';
      const parts = state.split('.');
      if (parts.length !== 3) return 'forged';
      const [nonce, expiresAt, tag] = parts as [string, string, string];
      if (!equal(tag, mac(`${nonce}.${expiresAt}`)) || !equal(nonce, cookieNonce)) return 'forged';
      return Number(expiresAt) > now() ? 'ok' : 'expired';
    },
  };
}

function equal(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
