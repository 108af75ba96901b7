import { type Kysely, sql } from 'kysely';
import type { Tables } from './schema.js';

export async function pingDatabase(db: Kysely<Tables>): Promise<void> {
  await sql`select 1`.execute(db);
}
