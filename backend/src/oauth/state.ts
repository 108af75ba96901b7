import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The OAuth `state`: a random nonce, its expiry and an HMAC over both. The nonce also goes into an httpOnly
 * cookie, so a callback only succeeds in the browser that started the install (no login CSRF), and nobody can
 * mint a state without the app secret. The HMAC and the cookie are checked first, so a forged or foreign state is
 * refused without a database read; a state that passes them is then consumed from the server-side record of
 * issued nonces, so it works once (a replayed callback URL, a reload, two racing callbacks: one wins).
 */
export const STATE_TTL_MS = 10 * 60 * 1000;

/** Why a callback's state was refused; each has its own explanation on the install page. */
export type StateProblem = 'missing' | 'forged' | 'other-browser' | 'expired' | 'used';

export type StateVerdict = { ok: true; nonce: string } | { ok: false; problem: Exclude<StateProblem, 'used'> };

export interface StateCodec {
  issue(): { state: string; nonce: string; expiresAt: number };
  /** The stateless checks only: a state that passes them may still have been used. */
  verify(state: string | undefined, cookieNonce: string | undefined): StateVerdict;
}

/** Which issued nonces are still unused; store/oauth-states.ts implements it over the database. */
export interface NonceRecord {
  save(nonce: string, expiresAt: Date, now: Date): Promise<void>;
  /** True for exactly one call per saved, unexpired nonce. */
  consume(nonce: string, now: Date): Promise<boolean>;
}

export interface OAuthStates {
  issue(): Promise<{ state: string; nonce: string }>;
  /** 'ok' at most once per issued state. */
  redeem(state: string | undefined, cookieNonce: string | undefined): Promise<'ok' | StateProblem>;
}

export function createStateCodec(appSecret: string, now: () => number): StateCodec {
  // A key of its own, derived from the app secret, so an HMAC made here can never pass as a HubSpot signature.
  const key = createHmac('sha256', appSecret).update('viewer-guard/oauth-state/v1').digest();
  const mac = (payload: string) => createHmac('sha256', key).update(payload).digest('base64url');

  return {
    issue() {
      const nonce = randomBytes(16).toString('base64url');
      const expiresAt = now() + STATE_TTL_MS;
      const payload = `${nonce}.${expiresAt}`;
      return { state: `${payload}.${mac(payload)}`, nonce, expiresAt };
    },
    verify(state, cookieNonce) {
      if (state === undefined || state === '' || cookieNonce === undefined || cookieNonce === '') return { ok: false, problem: 'missing' };
      const parts = state.split('.');
      if (parts.length !== 3) return { ok: false, problem: 'forged' };
      const [nonce, expiresAt, tag] = parts as [string, string, string];
      if (!equal(tag, mac(`${nonce}.${expiresAt}`))) return { ok: false, problem: 'forged' };
      // Genuine, but the cookie names another install: started in another browser, or superseded by a newer
      // install in another tab of this one (each install replaces the cookie).
      if (!equal(nonce, cookieNonce)) return { ok: false, problem: 'other-browser' };
      return Number(expiresAt) > now() ? { ok: true, nonce } : { ok: false, problem: 'expired' };
    },
  };
}

export function createOAuthStates(appSecret: string, record: NonceRecord, now: () => number): OAuthStates {
  const codec = createStateCodec(appSecret, now);
  return {
    async issue() {
      const { state, nonce, expiresAt } = codec.issue();
      await record.save(nonce, new Date(expiresAt), new Date(now()));
      return { state, nonce };
    },
    async redeem(state, cookieNonce) {
      const verdict = codec.verify(state, cookieNonce);
      if (!verdict.ok) return verdict.problem;
      // A genuine, unexpired state whose nonce is no longer recorded was consumed before.
      return (await record.consume(verdict.nonce, new Date(now()))) ? 'ok' : 'used';
    },
  };
}

function equal(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
