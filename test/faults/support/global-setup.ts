import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { faultSummary } from './tally.js';

/** Prints the fault suite's count after vitest's summary: the run's last line. */
export default function setup(project: TestProject): () => void {
  const faultTallyDir = mkdtempSync(join(tmpdir(), 'viewer-guard-faults-'));
  project.provide('faultTallyDir', faultTallyDir);
  return () => {
    const lines = faultSummary(faultTallyDir);
    rmSync(faultTallyDir, { recursive: true, force: true });
    console.log(`\n${lines.join('\n')}`);
  };
}
