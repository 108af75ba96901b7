import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM for tokens at rest: a random 12-byte IV per encryption, a 16-byte auth tag, and a context string
 * (e.g. "access_token:10000001") as additional authenticated data, so a ciphertext copied to another row or
 * column does not decrypt.
 *
 * Several keys, newest first (TOKEN_ENCRYPTION_KEYS), so the key can be rotated without losing an install: tokens are
 * written with the newest key as `v2.<keyId>.<iv>.<tag>.<ciphertext>` (base64url), and read with whichever listed key
 * the key id names. Values written before key ids existed, `v1.<iv>.<tag>.<ciphertext>`, are tried with every key.
 * `isCurrent` says which values should be written again with the newest key.
 */
const V1 = 'v1';
const V2 = 'v2';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class TokenDecryptionError extends Error {
  constructor() {
    // Deliberately says nothing about the key or the data.
    super('A stored token could not be decrypted: none of the configured TOKEN_ENCRYPTION_KEYS opens it, or the stored value was altered.');
    this.name = 'TokenDecryptionError';
  }
}

interface Key {
  id: string;
  secret: Buffer;
}

/**
 * Names a key without revealing it: the first 6 bytes of a domain-separated SHA-256 of a 32-byte random key say nothing
 * usable about the key, and two different keys colliding only costs one failed attempt before the others are tried.
 */
function keyId(secret: Buffer): string {
  return createHash('sha256').update('viewer-guard token key id\0').update(secret).digest().subarray(0, 6).toString('base64url');
}

export class TokenCipher {
  readonly #keys: readonly Key[];

  /** `keys`: one key, or every key still in use, newest first; the newest encrypts. */
  constructor(keys: Buffer | readonly Buffer[]) {
    const list = Buffer.isBuffer(keys) ? [keys] : keys;
    if (list.length === 0) throw new Error('TokenCipher needs at least one key');
    for (const key of list) {
      if (key.length !== KEY_BYTES) throw new Error(`TokenCipher needs a ${KEY_BYTES}-byte key, got ${key.length} bytes`);
    }
    this.#keys = list.map((key) => ({ id: keyId(key), secret: Buffer.from(key) }));
    if (new Set(this.#keys.map((key) => key.id)).size !== this.#keys.length) throw new Error('TokenCipher was given the same key twice');
  }

  encrypt(plaintext: string, context: string): string {
    const [newest] = this.#keys as [Key, ...Key[]];
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', newest.secret, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [V2, newest.id, ...[iv, cipher.getAuthTag(), ciphertext].map((part) => part.toString('base64url'))].join('.');
  }

  decrypt(stored: string, context: string): string {
    const parsed = parse(stored);
    if (parsed === undefined) throw new TokenDecryptionError();
    const candidates = parsed.keyId === undefined ? this.#keys : this.#keys.filter((key) => key.id === parsed.keyId);
    for (const key of candidates) {
      const plaintext = open(key.secret, parsed, context);
      if (plaintext !== undefined) return plaintext;
    }
    throw new TokenDecryptionError();
  }

  /** Written with the newest key in the newest format: nothing to rewrite. Reads only the header, decrypts nothing. */
  isCurrent(stored: string): boolean {
    const [newest] = this.#keys as [Key, ...Key[]];
    return parse(stored)?.keyId === newest.id;
  }
}

interface Sealed {
  keyId: string | undefined;
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
}

function parse(stored: string): Sealed | undefined {
  const parts = stored.split('.');
  const [version] = parts;
  const sealed = version === V1 && parts.length === 4 ? parts.slice(1) : version === V2 && parts.length === 5 ? parts.slice(2) : undefined;
  if (sealed === undefined) return undefined;
  const [iv, tag, ciphertext] = sealed.map((part) => Buffer.from(part, 'base64url')) as [Buffer, Buffer, Buffer];
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) return undefined;
  return { keyId: version === V2 ? parts[1] : undefined, iv, tag, ciphertext };
}

function open(secret: Buffer, sealed: Sealed, context: string): string | undefined {
  try {
    const decipher = createDecipheriv('aes-256-gcm', secret, sealed.iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(sealed.tag);
    return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
