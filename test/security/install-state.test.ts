import { describe, expect, it } from 'vitest';
import { ana, attack, northwind, refusal, useStage, type Answer, type Stage } from './support.js';

/**
 * The OAuth state of /oauth/install: bound to the browser's cookie, signed, short-lived and single-use (issue 8,
 * finding 10). A callback whose state fails any of that must not install: it is refused before the code is ever
 * exchanged with HubSpot. The install is driven over HTTP against the local HubSpot, as a browser would.
 */

const P = northwind.portalId;
const TOKEN_ROUTE = '/oauth/2026-03/token';
const STATE_TTL_MS = 10 * 60_000;

interface Started {
  /** `name=value` of the state cookie. */
  cookie: string;
  state: string;
  authorizeUrl: URL;
}

async function startInstall(stage: Stage): Promise<Started> {
  const response = await fetch(`${stage.h.backendUrl}/oauth/install`, { redirect: 'manual' });
  const location = response.headers.get('location');
  const cookie = (response.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  if (response.status !== 302 || location === null || cookie === '')
    throw new Error(`/oauth/install answered ${response.status} without a redirect and a cookie`);
  const authorizeUrl = new URL(location);
  return { cookie, state: authorizeUrl.searchParams.get('state') ?? '', authorizeUrl };
}

/** Ana approves on HubSpot's consent screen; HubSpot sends her back with a fresh code and the given state. */
async function consent(started: Started, state = started.state): Promise<URL> {
  const form = new URLSearchParams(started.authorizeUrl.searchParams);
  form.set('state', state);
  form.set('userId', String(ana.id));
  form.set('decision', 'allow');
  const response = await fetch(new URL('/oauth/authorize', started.authorizeUrl), { method: 'POST', body: form, redirect: 'manual' });
  const location = response.headers.get('location');
  if (response.status !== 302 || location === null) throw new Error(`HubSpot's consent answered ${response.status}: ${await response.text()}`);
  return new URL(location);
}

async function callback(url: URL, cookie: string | undefined): Promise<Answer> {
  const response = await fetch(url, { headers: cookie === undefined ? {} : { cookie }, redirect: 'manual' });
  return { status: response.status, body: await response.text() };
}

const withParams = (url: URL, change: (params: URLSearchParams) => void): URL => {
  const next = new URL(url);
  change(next.searchParams);
  return next;
};

/** Nothing installed, and HubSpot never asked to exchange a code. */
const installEffects = (stage: Stage) => async () => ({
  installation: (await stage.h.installations.get(P))?.installedAt.toISOString() ?? 'none',
  exchanges: stage.h.fake.calls.count('POST', TOKEN_ROUTE),
});

/** Each case builds the callback it sends: from a started install, HubSpot's redirect back, and the harness. */
const cases: Record<string, (stage: Stage, started: Started, back: URL) => Promise<Answer>> = {
  'a forged state (one character appended)': (_s, started, back) =>
    callback(
      withParams(back, (params) => params.set('state', `${started.state}x`)),
      started.cookie,
    ),
  'a state whose expiry was pushed back': (_s, started, back) => {
    const [nonce, expiresAt, mac] = started.state.split('.');
    return callback(
      withParams(back, (params) => params.set('state', `${nonce}.${Number(expiresAt) + STATE_TTL_MS}.${mac}`)),
      started.cookie,
    );
  },
  'no state': (_s, started, back) =>
    callback(
      withParams(back, (params) => params.delete('state')),
      started.cookie,
    ),
  'an empty state': (_s, started, back) =>
    callback(
      withParams(back, (params) => params.set('state', '')),
      started.cookie,
    ),
  'the state twice (forged first)': (_s, started, back) =>
    callback(
      withParams(back, (params) => {
        params.set('state', 'forged');
        params.append('state', started.state);
      }),
      started.cookie,
    ),
  'no cookie (the link opened in another browser)': (_s, _started, back) => callback(back, undefined),
  "another browser's cookie (from its own /oauth/install)": async (stage, _started, back) => callback(back, (await startInstall(stage)).cookie),
  "another install's state with this browser's cookie": async (stage, started, back) => {
    const other = await startInstall(stage);
    return callback(
      withParams(back, (params) => params.set('state', other.state)),
      started.cookie,
    );
  },
  "the cookie twice, the attacker's first": async (stage, started, back) => callback(back, `${(await startInstall(stage)).cookie}; ${started.cookie}`),
  'an expired state (10 minutes and 1 s later)': (stage, started, back) => {
    stage.clock.step(STATE_TTL_MS + 1_000);
    return callback(back, started.cookie);
  },
};

describe('OAuth state on the install callback', () => {
  // One harness per case: a callback that wrongly installs must not decide the next case.
  for (const [name, attempt] of Object.entries(cases)) {
    describe(name, () => {
      const stage = useStage({ installs: [] });
      attack(`${name}: not installed`, async () => {
        const started = await startInstall(stage);
        const back = await consent(started);
        return { send: () => attempt(stage, started, back), expect: refusal(400), unchanged: installEffects(stage) };
      });
    });
  }

  describe('a state used twice', () => {
    const stage = useStage({ installs: [] });
    it('control: the first callback installs', async () => {
      const started = await startInstall(stage);
      const answer = await callback(await consent(started), started.cookie);
      expect(answer.status, answer.body).toBe(200);
      expect((await stage.h.installations.get(P))?.status).toBe('active');
    });

    attack('the same state and cookie again, with a fresh code from HubSpot: not exchanged', async () => {
      const started = await startInstall(stage);
      const first = await callback(await consent(started), started.cookie);
      if (first.status !== 200) throw new Error(`the first callback answered ${first.status}: ${first.body}`);
      const again = await consent(started);
      return { send: () => callback(again, started.cookie), expect: refusal(400), unchanged: installEffects(stage) };
    });

    attack('the same callback replayed: not exchanged', async () => {
      const started = await startInstall(stage);
      const back = await consent(started);
      const first = await callback(back, started.cookie);
      if (first.status !== 200) throw new Error(`the first callback answered ${first.status}: ${first.body}`);
      return { send: () => callback(back, started.cookie), expect: refusal(400), unchanged: installEffects(stage) };
    });
  });
});
