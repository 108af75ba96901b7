import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { attackSummary } from './attack-tally.js';
import { browserSkipReason, chromiumAvailable } from './browser.js';

/**
 * Says up front which suites this run leaves out and how to include them, so a green run is never misread; and
 * prints the attack suite's count after vitest's summary, as the run's last line.
 */
export default function setup(project: TestProject): () => void {
  if (process.env.TEST_DATABASE_URL === undefined) {
    console.log('\nnote: PostgreSQL suite skipped: set TEST_DATABASE_URL=postgres://... to run it (npm run test:postgres); SQLite runs always.');
  }
  if (!chromiumAvailable) console.log(`note: ${browserSkipReason}`);

  const attackTallyDir = mkdtempSync(join(tmpdir(), 'viewer-guard-attacks-'));
  project.provide('attackTallyDir', attackTallyDir);
  return () => {
    const summary = attackSummary(attackTallyDir);
    rmSync(attackTallyDir, { recursive: true, force: true });
    if (summary !== undefined) console.log(`\n${summary}`);
  };
}
