/**
 * `npm run bench`: the performance issue's table, measured. The local HubSpot serves generated worlds (10 / 100 / 1,000
 * users, 100 / 10,000 / 100,000 tickets) from a process of its own; each backend is the real composition root in a
 * process of its own, with a bare Fastify route beside it making the one HubSpot call a record view needs. Variants:
 * SQLite always, PostgreSQL when BENCH_DATABASE_URL (or TEST_DATABASE_URL) is set (a schema of its own, dropped
 * afterwards); HubSpot answering at once and in 80 ms.
 *
 * Prints the table (figure | variant | now | target | met?), writes bench/results/latest.json, and exits 1 when a
 * target is missed. BENCH_QUICK=1 runs every scenario briefly (about a minute) for development; its figures are
 * indicative only. BENCH_SEED picks the generated worlds (default 1). Not part of `npm test`.
 */

// test/storage/databases.ts (the storage suites' SQLite and PostgreSQL targets, which the benchmark uses) reads
// TEST_DATABASE_URL as it loads: the benchmark's own variable is put there before anything loads it.
if (process.env.BENCH_DATABASE_URL !== undefined) process.env.TEST_DATABASE_URL = process.env.BENCH_DATABASE_URL;
await import('./bench.js');
