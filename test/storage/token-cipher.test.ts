import { createCipheriv, randomBytes } from 'node:crypto';
import { assert, describe, expect, it } from 'vitest';
import { TokenCipher, TokenDecryptionError } from '../../backend/src/store/index.js';

const PLAINTEXT = 'CNe-access-token-PLAINTEXT-4f1a';
const CONTEXT = 'access_token:10000001';

/** A value as TokenCipher wrote it before key ids existed: `v1.<iv>.<tag>.<ciphertext>`. */
function sealV1(key: Buffer, plaintext: string, context: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', ...[iv, cipher.getAuthTag(), ciphertext].map((part) => part.toString('base64url'))].join('.');
}

/** Flips one byte of one dot-separated part; editing a base64url character may only touch padding bits. */
function tamper(stored: string, part: 2 | 3 | 4): string {
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

  it('writes v2.<keyId>.<iv>.<tag>.<ciphertext> with a 12-byte IV and a 16-byte tag, fresh each time', () => {
    const first = cipher.encrypt(PLAINTEXT, CONTEXT);
    const second = cipher.encrypt(PLAINTEXT, CONTEXT);
    expect(first).toMatch(/^v2\.[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]+$/);
    const [, keyId, iv, tag] = first.split('.');
    expect(Buffer.from(iv ?? '', 'base64url')).toHaveLength(12);
    expect(Buffer.from(tag ?? '', 'base64url')).toHaveLength(16);
    expect(second).not.toBe(first);
    expect(second.split('.')[1]).toBe(keyId);
    expect(second.split('.')[2]).not.toBe(iv);
  });

  it('opens values written before key ids existed (v1), with any listed key, and calls them not current', () => {
    const old = randomBytes(32);
    const stored = sealV1(old, PLAINTEXT, CONTEXT);
    expect(new TokenCipher(old).decrypt(stored, CONTEXT)).toBe(PLAINTEXT);
    expect(new TokenCipher([randomBytes(32), old]).decrypt(stored, CONTEXT)).toBe(PLAINTEXT);
    expect(new TokenCipher(old).isCurrent(stored)).toBe(false);
    expect(() => new TokenCipher(randomBytes(32)).decrypt(stored, CONTEXT)).toThrow(TokenDecryptionError);
  });

  it('rotates: old key -> [new, old] -> [new], sealing with the newest and opening with any listed', () => {
    const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];
    const before = new TokenCipher(oldKey);
    const sealedOld = before.encrypt(PLAINTEXT, CONTEXT);
    expect(before.isCurrent(sealedOld)).toBe(true);

    const rotating = new TokenCipher([newKey, oldKey]);
    expect(rotating.decrypt(sealedOld, CONTEXT)).toBe(PLAINTEXT);
    expect(rotating.isCurrent(sealedOld)).toBe(false);
    const sealedNew = rotating.encrypt(PLAINTEXT, CONTEXT);
    expect(rotating.isCurrent(sealedNew)).toBe(true);
    // Another instance still on the old key alone cannot open what the rotating one sealed: the procedure's order matters.
    expect(() => before.decrypt(sealedNew, CONTEXT)).toThrow(TokenDecryptionError);

    const after = new TokenCipher(newKey);
    expect(after.decrypt(sealedNew, CONTEXT)).toBe(PLAINTEXT);
    expect(() => after.decrypt(sealedOld, CONTEXT)).toThrow(TokenDecryptionError);
  });

  it('tries only the key its key id names, and refuses an id no listed key has', () => {
    const [a, b] = [randomBytes(32), randomBytes(32)];
    const stored = new TokenCipher(a).encrypt(PLAINTEXT, CONTEXT);
    expect(new TokenCipher([b, a]).decrypt(stored, CONTEXT)).toBe(PLAINTEXT);
    const [, , ...rest] = stored.split('.');
    const otherId = new TokenCipher(b).encrypt('', CONTEXT).split('.')[1];
    // Sealed with a, labelled b: b is the only key tried, and it fails.
    expect(() => new TokenCipher([b, a]).decrypt(['v2', otherId, ...rest].join('.'), CONTEXT)).toThrow(TokenDecryptionError);
  });

  it('refuses no key at all, and the same key twice', () => {
    expect(() => new TokenCipher([])).toThrow('at least one key');
    expect(() => new TokenCipher([key, Buffer.from(key)])).toThrow('the same key twice');
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
    for (const part of [2, 3, 4] as const) {
      expect(() => cipher.decrypt(tamper(stored, part), CONTEXT)).toThrow(TokenDecryptionError);
    }
  });

  it('refuses malformed or unknown-version values', () => {
    const [, id, iv, tag, body] = cipher.encrypt(PLAINTEXT, CONTEXT).split('.');
    const malformed = [
      '',
      PLAINTEXT,
      `v3.${id}.${iv}.${tag}.${body}`,
      `v2.${iv}.${tag}.${body}`,
      `v2.${id}.${iv}.${tag}.${body}.extra`,
      `v2.${id}.${iv}.${tag?.slice(0, 12)}.${body}`,
      `v2.${id}.${iv?.slice(0, 8)}.${tag}.${body}`,
      `v1.${iv}.${tag}`,
      `v1.${iv}.${tag}.${body}.extra`,
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
