import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

/**
 * The attack suite (test/security/) counts its cases in each test file's worker and reports them here, so the
 * count is printed once, after vitest's own summary, by the global setup's teardown: the last line of the run.
 */

declare module 'vitest' {
  export interface ProvidedContext {
    /** A directory made for this run where each attack file drops its tally; absent under a config without our global setup. */
    attackTallyDir?: string;
  }
}

const tallySchema = z.object({ tried: z.number().int().min(0), accepted: z.number().int().min(0), unverified: z.number().int().min(0) });
export type AttackTally = z.infer<typeof tallySchema>;

/** Called by a test file's afterAll: one file per test file, so parallel workers never write the same file. */
export function saveAttackTally(dir: string, tally: AttackTally): void {
  writeFileSync(join(dir, `${randomUUID()}.json`), JSON.stringify(tally));
}

/** The closing line, or undefined when no attack file ran in this run. */
export function attackSummary(dir: string): string | undefined {
  const tallies = readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .map((file) => tallySchema.parse(JSON.parse(readFileSync(join(dir, file), 'utf8'))));
  if (tallies.length === 0) return undefined;
  const total = tallies.reduce((sum, tally) => ({
    tried: sum.tried + tally.tried,
    accepted: sum.accepted + tally.accepted,
    unverified: sum.unverified + tally.unverified,
  }));
  return formatAttackTally(total);
}

export function formatAttackTally(tally: AttackTally): string {
  const unverified = tally.unverified === 0 ? '' : `, ${tally.unverified} unverified (the case failed before the backend answered)`;
  return `${tally.tried} attacks tried, ${tally.accepted} accepted${unverified}`;
}
