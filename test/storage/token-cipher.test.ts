import { randomBytes } from 'node:crypto';
import { assert, describe, expect, it } from 'vitest';
import { TokenCipher, TokenDecryptionError } from '../../backend/src/store/index.js';

const PLAINTEXT = 'CNe-access-token-PLAINTEXT-4f1a';
const CONTEXT = 'access_token:10000001';

/** Flips one byte of one dot-separated part; editing a base64url character may only touch padding bits. */
function tamper(stored: string, part: 1 | 2 | 3): string {
  const parts = stored.split('.');
  const bytes = Buffer.from(parts[part] ?? '', 'base64url');
  bytes[0] = (bytes[0] ?? 0) ^ 0x01;
  parts[part] = bytes.toString('base64url');
  return parts.join('.');
}

describe('TokenCipher', () => {
  const key = randomBytes(32);
  const cipher = new TokenCipher(key);

  it('round-trips any text, including empty and non-ASCII', () => {
    for (const text of [PLAINTEXT, '', 'tökén ✓ 🔑', 'x'.repeat(4096)]) {
      expect(cipher.decrypt(cipher.encrypt(text, CONTEXT), CONTEXT)).toBe(text);
    }
  });

  it('writes v1.<iv>.<tag>.<ciphertext> with a 12-byte IV and a 16-byte tag, fresh each time', () => {
    const first = cipher.encrypt(PLAINTEXT, CONTEXT);
    const second = cipher.encrypt(PLAINTEXT, CONTEXT);
    expect(first).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]+$/);
    const [, iv, tag] = first.split('.');
    expect(Buffer.from(iv ?? '', 'base64url')).toHaveLength(12);
    expect(Buffer.from(tag ?? '', 'base64url')).toHaveLength(16);
    expect(second).not.toBe(first);
    expect(second.split('.')[1]).not.toBe(iv);
  });

  it('accepts only a 32-byte key', () => {
    for (const length of [0, 16, 31, 33, 64]) {
      expect(() => new TokenCipher(Buffer.alloc(length))).toThrow(`needs a 32-byte key, got ${length} bytes`);
    }
  });

  it('keeps its own copy of the key', () => {
    const mutable = Buffer.from(key);
    const own = new TokenCipher(mutable);
    const stored = own.encrypt(PLAINTEXT, CONTEXT);
    mutable.fill(0);
    expect(own.decrypt(stored, CONTEXT)).toBe(PLAINTEXT);
  });

  it('refuses another key', () => {
    const stored = cipher.encrypt(PLAINTEXT, CONTEXT);
    expect(() => new TokenCipher(randomBytes(32)).decrypt(stored, CONTEXT)).toThrow(TokenDecryptionError);
  });

  it('refuses a ciphertext moved to another row or column (the context is authenticated)', () => {
    const stored = cipher.encrypt(PLAINTEXT, CONTEXT);
    for (const other of ['access_token:10000002', 'refresh_token:10000001', '', 'access_token:10000001 ']) {
      expect(() => cipher.decrypt(stored, other)).toThrow(TokenDecryptionError);
    }
  });

  it('refuses a tampered IV, tag or ciphertext', () => {
    const stored = cipher.encrypt(PLAINTEXT, CONTEXT);
    for (const part of [1, 2, 3] as const) {
      expect(() => cipher.decrypt(tamper(stored, part), CONTEXT)).toThrow(TokenDecryptionError);
    }
  });

  it('refuses malformed or unknown-version values', () => {
    const [, iv, tag, body] = cipher.encrypt(PLAINTEXT, CONTEXT).split('.');
    const malformed = [
      '',
      PLAINTEXT,
      `v2.${iv}.${tag}.${body}`,
      `v1.${iv}.${tag}`,
      `v1.${iv}.${tag}.${body}.extra`,
      `v1.${iv}.${tag?.slice(0, 12)}.${body}`,
      `v1.${iv?.slice(0, 8)}.${tag}.${body}`,
    ];
    for (const stored of malformed) expect(() => cipher.decrypt(stored, CONTEXT), stored).toThrow(TokenDecryptionError);
  });

  it('never puts the key or the plaintext in its error', () => {
    const stored = cipher.encrypt(PLAINTEXT, CONTEXT);
    let error: unknown;
    try {
      new TokenCipher(randomBytes(32)).decrypt(stored, CONTEXT);
    } catch (caught) {
      error = caught;
    }
    assert(error instanceof TokenDecryptionError);
    expect(error.cause).toBeUndefined();
    const everything = [String(error), error.stack, JSON.stringify(error)].join('\n');
    for (const secret of [PLAINTEXT, key.toString('hex'), key.toString('base64'), key.toString('base64url')]) {
      expect(everything).not.toContain(secret);
    }
  });
});
