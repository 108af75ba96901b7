import { describe, expect, it } from 'vitest';
import { createStateCodec, STATE_TTL_MS } from '../../backend/src/oauth/state.js';

describe('OAuth state', () => {
  let now = 1_000_000;
  const codec = createStateCodec('app-secret', () => now);

  it('accepts its own state with the matching cookie nonce', () => {
    const { state, nonce } = codec.issue();
    expect(codec.verify(state, nonce)).toBe('ok');
  });

  it('refuses a state from another browser, a forged MAC, another secret, and missing parts', () => {
    const first = codec.issue();
    const second = codec.issue();
    expect(codec.verify(first.state, second.nonce)).toBe('forged');
    const [nonce, expiresAt] = first.state.split('.');
    expect(codec.verify(`${nonce}.${Number(expiresAt) + 1000}.${first.state.split('.')[2]}`, first.nonce)).toBe('forged');
    expect(createStateCodec('other-secret', () => now).verify(first.state, first.nonce)).toBe('forged');
    expect(codec.verify('garbage', first.nonce)).toBe('forged');
    expect(codec.verify(undefined, first.nonce)).toBe('missing');
    expect(codec.verify(first.state, undefined)).toBe('missing');
  });

  it('expires after ten minutes', () => {
    const { state, nonce } = codec.issue();
    now += STATE_TTL_MS + 1;
    expect(codec.verify(state, nonce)).toBe('expired');
  });
});
