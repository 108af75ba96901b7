import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { decodeKey } from './config.js';

/**
 * Outside production, a missing TOKEN_ENCRYPTION_KEY gets a local key kept next to the SQLite file, so
 * `npm run demo` works with no set-up while tokens are still never stored in clear. Production refuses to
 * start without a real key (config.ts), because a key on the same disk as the data protects little.
 */
export async function loadOrCreateDevKey(dataDir: string): Promise<{ key: Buffer; file: string; created: boolean }> {
  const file = path.resolve(dataDir, 'dev-token-encryption.key');
  try {
    const key = decodeKey(await readFile(file, 'utf8'));
    if (key === undefined) throw new Error(`${file} does not hold a 32-byte hex key; delete it to generate a new one`);
    return { key, file, created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(path.dirname(file), { recursive: true });
  const key = randomBytes(32);
  await writeFile(file, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  return { key, file, created: true };
}
