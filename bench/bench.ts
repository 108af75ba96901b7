/** The benchmark itself (what it measures and how: bench/run.ts, which `npm run bench` starts and which loads this). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { WorldSize } from '../test/hubspot-fake/seed-generator.js';
import { generateWorld } from '../test/hubspot-fake/seed-generator.js';
import { databaseTargets } from '../test/storage/databases.js';
import type { FakeProtocol } from './fake-process.js';
import { machine, metOf, table, writeResults, type Figure, type Skipped } from './report.js';
import { hotPathScenarios, scaleScenarios, type Lab, type Plan } from './scenarios.js';
import { startChild } from './support/rpc.js';

const QUICK = process.env.BENCH_QUICK === '1';
const SEED = Number(process.env.BENCH_SEED ?? 1);
const RESULTS = new URL('./results/latest.json', import.meta.url);

/**
 * HubSpot's general limit (110 per 10 s per account) is raised in the local HubSpot, and announced in its headers, so
 * the backend paces from it: the figures are about the backend's own cost, not the account's budget. The search limit
 * stays HubSpot's 5 per second: the list scenarios are about living within it.
 */
const GENERAL_BUDGET = 1_000_000;

const DEFAULT_PLAN: Plan = {
  warmViews: 200,
  rounds: { latency0: 4, latency80: 2, seconds: 4 },
  p50Samples: 40,
  expiryViews: 500,
  heapRecords: 300,
  policyReads: 20,
};
const QUICK_PLAN: Plan = {
  warmViews: 40,
  rounds: { latency0: 2, latency80: 2, seconds: 1 },
  p50Samples: 8,
  expiryViews: 100,
  heapRecords: 50,
  policyReads: 5,
};

const SMALL: WorldSize = { users: 10, tickets: 100, seed: SEED };
const MEDIUM: WorldSize = { users: 100, tickets: 10_000, seed: SEED };
const LARGE: WorldSize = { users: 1_000, tickets: 100_000, seed: SEED };

const worldLabel = (size: WorldSize) => `${size.users.toLocaleString('en-US')} users / ${size.tickets.toLocaleString('en-US')} tickets`;
const progress = (message: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);

const startedAt = new Date();
const host = machine();
const plan = QUICK ? QUICK_PLAN : DEFAULT_PLAN;
const figures: Figure[] = [];
const skipped: Skipped[] = [];
// The storage suites' targets: SQLite in a temporary file, PostgreSQL in a schema of its own, dropped afterwards.
const databases = databaseTargets.filter((target) => !target.skip);
if (databases.every((target) => target.name !== 'postgres')) {
  skipped.push({ figure: 'every figure', variant: 'postgres', reason: 'set BENCH_DATABASE_URL (or TEST_DATABASE_URL) to postgres://...' });
}
const logDir = mkdtempSync(path.join(tmpdir(), 'viewer-guard-bench-'));

for (const size of QUICK ? [LARGE] : [SMALL, MEDIUM, LARGE]) {
  const largest = size === LARGE;
  progress(`world ${worldLabel(size)} (seed ${size.seed}): starting the local HubSpot`);
  const fake = startChild<FakeProtocol>(new URL('./fake-process.ts', import.meta.url), 'local HubSpot');
  try {
    const { url: fakeUrl } = await fake.call('start', { size });
    await fake.call('configure', { generalBudget: GENERAL_BUDGET, latencyMs: 0 });
    const world = generateWorld(size);
    // The smaller worlds show how the hot path scales with the account; the rest of the table is the largest world's.
    for (const database of largest ? databases : databases.filter((target) => target.name === 'sqlite')) {
      const lab: Lab = {
        world,
        worldLabel: worldLabel(size),
        fake,
        fakeUrl,
        database,
        logDir,
        plan: largest ? plan : { ...plan, rounds: { ...plan.rounds, latency0: Math.min(2, plan.rounds.latency0), latency80: 0 } },
      };
      figures.push(...(await hotPathScenarios(lab, { cardP50: largest })));
      if (!largest) continue;
      // SQLite is embedded in one process (README: DATABASE_URL); several processes share PostgreSQL.
      const processes = database.name === 'postgres' ? 2 : 1;
      if (processes === 1) {
        skipped.push({
          figure: `${plan.expiryViews} views at token expiry, 2 processes`,
          variant: database.name,
          reason: 'SQLite serves one process; measured with 1 here, with 2 on PostgreSQL',
        });
      }
      figures.push(...(await scaleScenarios(lab, { processes, heapAndPolicy: database.name === 'sqlite' })));
    }
  } finally {
    await fake.stop();
  }
}

console.log(`\nViewer Guard benchmark, ${QUICK ? 'BENCH_QUICK=1 (indicative only)' : 'default run'}, ${startedAt.toISOString()}`);
console.log(
  `${host.cpuModel}, ${host.cores} cores, ${host.memoryGiB} GiB, Node ${process.version}, load average at start ${host.loadAverageAtStart.join(' ')}\n`,
);
console.log(table(figures, skipped));
writeResults(RESULTS, { startedAt, machine: host, quick: QUICK, figures, skipped });
const missed = figures.filter((figure) => metOf(figure) === false);
const broken = figures.filter((figure) => figure.value === null);
if (broken.length > 0) console.log(`\n${broken.length} figures could not be measured; the backends' logs are kept in ${logDir}`);
else rmSync(logDir, { recursive: true, force: true });
console.log(
  `\nwrote ${path.relative(process.cwd(), new URL(RESULTS).pathname)}; ${missed.length} of ${figures.filter((figure) => figure.target !== null).length} targets missed`,
);
process.exitCode = missed.length > 0 ? 1 : 0;
