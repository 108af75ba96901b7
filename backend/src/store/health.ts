import type { Kysely } from 'kysely';
import type { InstallationStore } from './installations.js';
import type { Tables } from './schema.js';

/**
 * Installs whose tokens readiness tries to open: the most recently updated, so one old install nobody can open (its
 * account's Super Admin must reinstall) does not hold every instance out of service, while a key that opens none of
 * them (a key changed, or another instance resealed with a key this one lacks) does.
 */
const READINESS_TOKEN_SAMPLE = 5;

/** Thrown when installs exist and none of those checked opens with the configured keys. */
export class TokenKeyMismatchError extends Error {
  constructor(readonly checked: number) {
    super(
      `The configured TOKEN_ENCRYPTION_KEYS open none of the ${checked === 1 ? 'stored install' : `${checked} stored installs checked`}: the tokens were sealed with another key.`,
    );
    this.name = 'TokenKeyMismatchError';
  }
}

/**
 * What serving needs, checked for /readyz: the database takes a write (one upsert of the heartbeat row, so a database
 * that answers reads but is read-only, full, or a SQLite file that was replaced fails here), and the configured keys
 * open stored tokens. Throws the database's own error, or TokenKeyMismatchError.
 */
export async function checkReadiness(db: Kysely<Tables>, installations: InstallationStore, now: Date): Promise<void> {
  await db
    .insertInto('heartbeat')
    .values({ id: 1, checked_at: now.getTime() })
    .onConflict((conflict) => conflict.column('id').doUpdateSet({ checked_at: now.getTime() }))
    .execute();
  const tokens = await installations.checkTokens({ reseal: false, limit: READINESS_TOKEN_SAMPLE });
  if (tokens.checked > 0 && tokens.unreadable === tokens.checked) throw new TokenKeyMismatchError(tokens.checked);
}
