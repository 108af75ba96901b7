/**
 * Load benchmark: HubSpot-signed GET /api/v1/me against the backend (embedded SQLite) and the local HubSpot,
 * the way many card renders would hit it. Measures throughput, latency percentiles and the backend's memory,
 * and checks them against targets. Not part of `npm test`: run `npm run bench`.
 *
 * Targets (2-core machine): p99 under 50 ms and at least 500 requests/s with a warm viewer cache, heap growth
 * under 64 MiB over the run.
 */
import autocannon from 'autocannon';
import { loadSeed } from '../test/hubspot-fake/index.js';
import { startHarness, TEST_APP } from '../test/support/harness.js';
import { signedRequest } from '../test/support/signing.js';

const DURATION_SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);

const harness = await startHarness();
// The benchmark measures Viewer Guard, not the fake's rate limiter, which would otherwise answer 429.
harness.fake.switches.enforceRateLimit = false;
const account = loadSeed().accounts[0];
const admin = account?.users.find((user) => user.superAdmin);
if (account === undefined || admin === undefined) throw new Error('the seed needs an account with a Super Admin');
await harness.installDirect(account.portalId, admin.id);

const users = account.users.filter((user) => !user.deactivated);
const requests = users.map((user) => {
  const request = signedRequest({
    clientSecret: TEST_APP.clientSecret,
    publicBaseUrl: harness.backendUrl,
    method: 'GET',
    path: `/api/v1/me?portalId=${account.portalId}&userId=${user.id}`,
    // Signatures stay valid for 5 minutes, longer than the run.
    timestamp: Date.now(),
  });
  return { method: 'GET' as const, path: request.url, headers: request.headers };
});

global.gc?.();
const heapBefore = process.memoryUsage().heapUsed;
const result = await autocannon({
  url: harness.backendUrl,
  connections: CONNECTIONS,
  duration: DURATION_SECONDS,
  requests,
});
global.gc?.();
const heapGrowthMiB = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
await harness.close();

const report = {
  requestsPerSecond: Math.round(result.requests.average),
  latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
  non2xx: result.non2xx,
  errors: result.errors,
  heapGrowthMiB: Number(heapGrowthMiB.toFixed(1)),
  hubspotCalls: harness.fake.calls.all().length,
};
console.log(JSON.stringify(report, null, 2));

const failures = [
  report.latencyMs.p99 > 50 && `p99 ${report.latencyMs.p99} ms > 50 ms`,
  report.requestsPerSecond < 500 && `${report.requestsPerSecond} req/s < 500`,
  report.non2xx > 0 && `${report.non2xx} non-2xx answers`,
  report.heapGrowthMiB > 64 && `heap grew ${report.heapGrowthMiB} MiB`,
].filter(Boolean);
if (failures.length > 0) {
  console.error(`targets missed: ${failures.join('; ')}`);
  process.exit(1);
}
console.log('all targets met');
