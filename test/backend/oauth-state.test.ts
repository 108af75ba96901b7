import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createOAuthStates, createStateCodec, STATE_TTL_MS, type NonceRecord } from '../../backend/src/oauth/state.js';
import { createOAuthStateStore, openDatabase, type StoreDatabase } from '../../backend/src/store/index.js';

describe('OAuth state codec (the stateless checks)', () => {
  let now = 1_000_000;
  const codec = createStateCodec('app-secret', () => now);

  it('accepts its own state with the matching cookie nonce', () => {
    const { state, nonce } = codec.issue();
    expect(codec.verify(state, nonce)).toEqual({ ok: true, nonce });
  });

  it('tells a forged state, a state from another browser and missing parts apart', () => {
    const first = codec.issue();
    const second = codec.issue();
    const problem = (state: string | undefined, cookie: string | undefined) => {
      const verdict = codec.verify(state, cookie);
      return verdict.ok ? 'ok' : verdict.problem;
    };
    expect(problem(first.state, second.nonce)).toBe('other-browser');
    const [nonce, expiresAt, tag] = first.state.split('.');
    expect(problem(`${nonce}.${Number(expiresAt) + 1000}.${tag}`, first.nonce)).toBe('forged');
    expect(problem(`${second.nonce}.${expiresAt}.${tag}`, second.nonce)).toBe('forged');
    const otherSecret = createStateCodec('other-secret', () => now).verify(first.state, first.nonce);
    expect(otherSecret).toEqual({ ok: false, problem: 'forged' });
    expect(problem('garbage', first.nonce)).toBe('forged');
    expect(problem(undefined, first.nonce)).toBe('missing');
    expect(problem(first.state, undefined)).toBe('missing');
    expect(problem(first.state, '')).toBe('missing');
  });

  it('expires after ten minutes', () => {
    const { state, nonce } = codec.issue();
    now += STATE_TTL_MS + 1;
    expect(codec.verify(state, nonce)).toEqual({ ok: false, problem: 'expired' });
  });
});

describe('OAuth states (codec and stored nonces)', () => {
  let now: number;
  let database: StoreDatabase;
  let reads: number;
  let states: ReturnType<typeof createOAuthStates>;

  beforeEach(async () => {
    now = Date.parse('2026-11-01T10:00:00Z');
    database = await openDatabase('sqlite::memory:');
    const store = createOAuthStateStore(database.db);
    reads = 0;
    // Counts every database call, so the refusals that need none can be shown to make none.
    const counted: NonceRecord = {
      save: (...args) => store.save(...args),
      consume: (...args) => {
        reads += 1;
        return store.consume(...args);
      },
    };
    states = createOAuthStates('app-secret', counted, () => now);
  });
  afterEach(async () => database.close());

  it('redeems a state once; a replay is "used"', async () => {
    const { state, nonce } = await states.issue();
    expect(await states.redeem(state, nonce)).toBe('ok');
    expect(await states.redeem(state, nonce)).toBe('used');
  });

  it('lets one of two racing callbacks win', async () => {
    const { state, nonce } = await states.issue();
    expect((await Promise.all([states.redeem(state, nonce), states.redeem(state, nonce)])).sort()).toEqual(['ok', 'used']);
  });

  it('refuses forged, foreign, missing and expired states without reading the database, and leaves them redeemable', async () => {
    const { state, nonce } = await states.issue();
    const other = await states.issue();
    expect(await states.redeem(`${state}x`, nonce)).toBe('forged');
    expect(await states.redeem(createStateCodec('other-secret', () => now).issue().state, nonce)).toBe('forged');
    expect(await states.redeem(state, other.nonce)).toBe('other-browser');
    expect(await states.redeem(state, undefined)).toBe('missing');
    expect(await states.redeem(undefined, nonce)).toBe('missing');
    expect(reads).toBe(0);
    // None of those refusals spent the genuine state.
    expect(await states.redeem(state, nonce)).toBe('ok');

    now += STATE_TTL_MS;
    expect(await states.redeem(other.state, other.nonce)).toBe('expired');
    expect(reads).toBe(1);
  });

  it('keeps only nonce hashes, and purges expired ones as new states are issued', async () => {
    const first = await states.issue();
    now += STATE_TTL_MS + 1;
    await states.issue();
    const rows = await database.db.selectFrom('oauth_states').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(first.nonce);
  });
});
