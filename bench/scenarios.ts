import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { DEADLINES } from '../backend/src/hubspot/deadline.js';
import { createPolicyStore, openDatabase } from '../backend/src/store/index.js';
import { PERMISSION_CACHE_BYTES } from '../backend/src/usecases/access-source.js';
import { createLocalChangeFeed } from '../backend/src/instances/change-feed.js';
import type { GeneratedWorld } from '../test/hubspot-fake/seed-generator.js';
import type { DatabaseTarget } from '../test/storage/databases.js';
import { mirrorPolicy } from '../test/support/mirror-policy.js';
import type { BackendProtocol, BackendUsage } from './backend-process.js';
import type { FakeProtocol } from './fake-process.js';
import { difference, median, type CallSummary } from './instruments.js';
import { atLeast, atMost, below, type Figure, type Target } from './report.js';
import { startChild, type Child } from './support/rpc.js';
import { cardGet, failuresOf, loadRound, p50, plainGet, send, sendAll, total, type Outcome, type PreparedRequest } from './support/load.js';

/** How much of each scenario a run does: the default run, or BENCH_QUICK=1 for development. */
export interface Plan {
  /** Warm record views counted for calls and queries per view. */
  warmViews: number;
  /** Rounds per side (signed view, bare route) and seconds per round, at HubSpot latency 0 and 80 ms (0 rounds: not run). */
  rounds: { latency0: number; latency80: number; seconds: number };
  /** Sequential card views (and as many bare ones, alternating) for the p50 at 80 ms. */
  p50Samples: number;
  /** Views at token expiry. */
  expiryViews: number;
  /** Distinct records viewed before each of the two heap readings. */
  heapRecords: number;
  /** First reads of the stored policy, for its parse time. */
  policyReads: number;
}

/** One world (generated seed) served by one local HubSpot process, on one database. */
export interface Lab {
  world: GeneratedWorld;
  worldLabel: string;
  fake: Child<FakeProtocol>;
  fakeUrl: string;
  database: DatabaseTarget;
  logDir: string;
  plan: Plan;
}

/** hubspot.fetch runs at most 20 requests at once per account (HubSpot's limit): the load every scenario stays within. */
export const CONNECTIONS = 20;
/** HubSpot's round trip as a card sees it from a nearby region: the latency variant. */
export const HUBSPOT_LATENCY_MS = 80;
/** Views spread over this many viewers and tickets: enough that nothing is one hot key, few enough to be warm. */
const MAX_VIEWERS = 20;
const WARM_TICKETS = 100;
/** Where the permission cache's heap is judged: its former entry cap, a busy account's day. */
const HEAP_PROJECTION_RECORDS = 50_000;
const MiB = 2 ** 20;

const fmt = (value: number, digits = 2) => value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const perView = (counts: Record<string, number>, views: number) =>
  Object.fromEntries(
    Object.entries(counts)
      .sort(([, a], [, b]) => b - a)
      .map(([key, value]) => [key, Number((value / views).toFixed(3))]),
  );
const breakdown = (counts: Record<string, number>) =>
  Object.entries(counts)
    .map(([key, value]) => `${key} ${fmt(value)}`)
    .join(', ');
/** The local HubSpot's routes by what they are, for the table; latest.json keeps the routes themselves. */
const CALL_NAMES: Array<[RegExp, string]> = [
  [/^GET \/crm\/(v3\/objects|objects\/2026-03)\/tickets\/:ticketId$/, 'ticket'],
  [/^GET \/crm\/(v3\/objects|objects\/2026-03)\/contacts\/:contactId$/, 'contact'],
  [/^POST \/crm\/(v3\/objects|objects\/2026-03)\/tickets\/search$/, 'ticket search'],
  [/^GET \/crm\/(v3\/pipelines|pipelines\/2026-03)\//, 'pipeline'],
  [/^GET \/resource-permissions\//, 'permissions'],
  [/^GET \/crm\/(v3\/owners|owners\/2026-03)/, 'owners'],
  [/^GET \/crm\/v4\/objects\/.*\/associations\//, 'associations'],
  [/^GET \/settings\/.*\/teams$/, 'teams'],
  [/^GET \/settings\//, 'users'],
  [/^POST \/oauth\/.*\/token$/, 'token'],
];
const callName = (route: string) => CALL_NAMES.find(([pattern]) => pattern.test(route))?.[1] ?? route;
function shortRoutes(byRoute: Record<string, number>): Record<string, number> {
  const named: Record<string, number> = {};
  for (const [route, count] of Object.entries(byRoute)) named[callName(route)] = (named[callName(route)] ?? 0) + count;
  return named;
}

const failedFigure = (figure: Omit<Figure, 'value' | 'now' | 'details'>, error: unknown): Figure => ({
  ...figure,
  value: null,
  now: `failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
  details: { error: error instanceof Error ? (error.stack ?? error.message) : String(error) },
});

interface Backend {
  child: Child<BackendProtocol>;
  url: string;
  bareUrl: string;
  usage(): Promise<BackendUsage>;
}

let backendsStarted = 0;

async function startBackend(lab: Lab, options: { databaseUrl: string; tokenKey: string; accessSource: 'auto' | 'policy' }): Promise<Backend> {
  backendsStarted += 1;
  const child = startChild<BackendProtocol>(new URL('./backend-process.ts', import.meta.url), `backend ${backendsStarted}`);
  try {
    const { url, bareUrl } = await child.call('start', {
      fakeUrl: lab.fakeUrl,
      databaseUrl: options.databaseUrl,
      tokenKey: options.tokenKey,
      accessSource: options.accessSource,
      logFile: path.join(lab.logDir, `backend-${backendsStarted}.log`),
    });
    return { child, url, bareUrl, usage: () => child.call('usage', {}) };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

/**
 * `processes` backends on one fresh database, the generated account installed by its Super Admin with the admin's
 * mirrored policy saved (one rule per user: the 1,000-user document of the issue), the bare route given the install
 * token. `use` runs with them; everything is stopped and the database dropped afterwards.
 */
async function withBackends<T>(lab: Lab, accessSource: 'auto' | 'policy', processes: number, use: (backends: Backend[]) => Promise<T>): Promise<T> {
  const database = await lab.database.create();
  const tokenKey = randomBytes(32).toString('base64');
  const backends: Backend[] = [];
  try {
    for (let index = 0; index < processes; index += 1) backends.push(await startBackend(lab, { databaseUrl: database.url, tokenKey, accessSource }));
    const first = backends[0] as Backend;
    const { portalId, people } = lab.world;
    const tokens = await lab.fake.call('issueTokens', { portalId, userId: people.installer });
    await first.child.call('install', { portalId, userId: people.installer, ...tokens });
    await first.child.call('savePolicy', { portalId, document: mirrorPolicy(account(lab)), changedByUserId: people.installer });
    for (const backend of backends) await backend.child.call('setBareToken', { token: tokens.accessToken });
    return await use(backends);
  } finally {
    for (const backend of backends) await backend.child.stop();
    await database.cleanup();
  }
}

const account = (lab: Lab) => {
  const only = lab.world.seed.accounts[0];
  if (only === undefined) throw new Error('the generated world has no account');
  return only;
};

/** Active users who see every ticket without being Super Admins (no shortcut past HubSpot's permissions), and the first tickets. */
function warmSet(lab: Lab): { viewers: number[]; tickets: string[] } {
  const { users, tickets } = account(lab);
  const viewers = users
    .filter((user) => !user.deactivated && !user.superAdmin && user.permissions.tickets.view === 'everything')
    .slice(0, MAX_VIEWERS)
    .map((user) => user.id);
  return { viewers, tickets: tickets.slice(0, WARM_TICKETS).map((ticket) => ticket.id) };
}

/** View k is viewer k mod V looking at ticket k mod T: every viewer and ticket recurs, in changing pairs. */
function recordViews(lab: Lab, backend: Backend, from: number, count: number): PreparedRequest[] {
  const { viewers, tickets } = warmSet(lab);
  return Array.from({ length: count }, (_, offset) => {
    const k = from + offset;
    const userId = viewers[k % viewers.length] as number;
    return cardGet(backend.url, `/api/v1/records/tickets/${tickets[k % tickets.length]}/access`, { portalId: lab.world.portalId, userId });
  });
}

/** Every viewer and every ticket of the warm set seen once: viewer profiles, owners, teams, pipeline, HubSpot's answers cached. */
async function warmUp(lab: Lab, backend: Backend): Promise<number> {
  const { viewers, tickets } = warmSet(lab);
  const count = Math.max(viewers.length, tickets.length);
  const { outcomes } = await sendAll(recordViews(lab, backend, 0, count), CONNECTIONS);
  requireOk('warm-up views', outcomes);
  return count;
}

function requireOk(what: string, outcomes: readonly Outcome[]) {
  const failures = failuresOf(outcomes);
  if (total(failures) > 0) throw new Error(`${what}: ${total(failures)} of ${outcomes.length} failed (${JSON.stringify(failures)})`);
}

const variantOf = (lab: Lab, ...more: string[]) => [lab.database.name, lab.worldLabel, ...more].join(', ');

/** HubSpot calls and database queries per warm record view, counted at the local HubSpot and by the Kysely plugin. */
async function warmCounts(lab: Lab, backend: Backend, accessSource: 'auto' | 'policy'): Promise<Figure[]> {
  await lab.fake.call('configure', { latencyMs: 0 });
  const from = await warmUp(lab, backend);
  await lab.fake.call('calls', { reset: true });
  const before = await backend.usage();
  const { outcomes } = await sendAll(recordViews(lab, backend, from, lab.plan.warmViews), 4);
  const calls = await lab.fake.call('calls', { reset: true });
  const after = await backend.usage();
  requireOk('warm views', outcomes);
  const views = outcomes.length;
  const queries = difference(after.queries.byStatement, before.queries.byStatement);
  const queryTotal = (after.queries.total - before.queries.total) / views;
  const policyReads = (after.queries.policyDocumentsRead - before.queries.policyDocumentsRead) / views;
  const variant = variantOf(lab, `ACCESS_SOURCE=${accessSource}`);
  const figures: Figure[] = [
    {
      id: 'hubspot-calls-per-warm-view',
      figure: 'HubSpot calls per warm record view',
      variant,
      value: calls.total / views,
      now: `${fmt(calls.total / views)} (${breakdown(perView(shortRoutes(calls.byRoute), views))})`,
      target: atMost(1.05),
      details: { views, callsByRoute: perView(calls.byRoute, views), hubspotFailures: calls.failures },
    },
    {
      id: 'db-queries-per-warm-view',
      figure: 'database queries per warm record view',
      variant,
      value: queryTotal,
      now: `${fmt(queryTotal)} (${breakdown(perView(queries, views))})`,
      target: atMost(1),
      details: { views, queriesByStatement: perView(queries, views), policyDocumentsReadPerView: policyReads },
    },
  ];
  if (account(lab).users.length >= 1_000) {
    figures.push({
      id: 'policy-parses-per-warm-view',
      figure: `policy document (${account(lab).users.length.toLocaleString('en-US')} users) parsed per warm view`,
      variant,
      value: policyReads,
      now: `${fmt(policyReads)} documents read and parsed per view`,
      // "Parsed once per saved version": a warm view parses none.
      target: { text: '0 per warm view (once per saved version)', met: (value) => value === 0 },
      details: { views },
    });
  }
  return figures;
}

/**
 * Alternating rounds in one run, the same load against the signed record view and against the bare route in the same
 * process: req/s (2xx only) and the process's CPU per request, each side's median over its rounds.
 */
async function throughput(lab: Lab, backend: Backend, latencyMs: number, rounds: number): Promise<Figure> {
  await lab.fake.call('configure', { latencyMs });
  const from = await warmUp(lab, backend);
  const { tickets } = warmSet(lab);
  const signed = recordViews(lab, backend, from, tickets.length * 4);
  const bare = tickets.map((id) => plainGet(backend.bareUrl, `/bare/tickets/${id}`));
  const sides = {
    signed: [] as Array<{ okPerSecond: number; cpuMs: number; notOk: number }>,
    bare: [] as Array<{ okPerSecond: number; cpuMs: number; notOk: number }>,
  };
  for (let round = 0; round < rounds; round += 1) {
    // ABBA: whatever drifts during the run (the machine is shared) weighs on both sides alike.
    const order = round % 2 === 0 ? (['signed', 'bare'] as const) : (['bare', 'signed'] as const);
    for (const side of order) {
      const before = await backend.usage();
      const result = await loadRound(side === 'signed' ? signed : bare, CONNECTIONS, lab.plan.rounds.seconds);
      const after = await backend.usage();
      sides[side].push({ okPerSecond: result.okPerSecond, cpuMs: (after.cpuMicros - before.cpuMicros) / 1000 / Math.max(1, result.ok), notOk: result.notOk });
    }
  }
  await lab.fake.call('calls', { reset: true });
  const summary = (side: keyof typeof sides) => ({
    okPerSecond: median(sides[side].map((entry) => entry.okPerSecond)),
    cpuMs: median(sides[side].map((entry) => entry.cpuMs)),
    notOk: sides[side].reduce((sum, entry) => sum + entry.notOk, 0),
  });
  const [a, b] = [summary('signed'), summary('bare')];
  const ratio = a.okPerSecond / b.okPerSecond;
  const failed = a.notOk + b.notOk > 0 ? `; ${a.notOk} signed and ${b.notOk} bare answers not 2xx` : '';
  return {
    id: `ab-ratio-latency-${latencyMs}`,
    figure: 'signed record view / bare route, req/s',
    variant: variantOf(lab, `HubSpot ${latencyMs} ms`, `${CONNECTIONS} connections`),
    value: ratio,
    now: `${fmt(ratio)} (${fmt(a.okPerSecond, 0)} vs ${fmt(b.okPerSecond, 0)} req/s; ${fmt(a.cpuMs)} vs ${fmt(b.cpuMs)} CPU ms per request${failed})`,
    target: atLeast(0.8),
    details: { rounds: sides, secondsPerRound: lab.plan.rounds.seconds, signed: a, bare: b },
  };
}

/** Warm card views one at a time with HubSpot answering in 80 ms, alternating with the bare route. */
async function cardP50(lab: Lab, backend: Backend): Promise<Figure> {
  await lab.fake.call('configure', { latencyMs: HUBSPOT_LATENCY_MS });
  const from = await warmUp(lab, backend);
  const signed = recordViews(lab, backend, from, lab.plan.p50Samples);
  const { tickets } = warmSet(lab);
  const outcomes = { signed: [] as Outcome[], bare: [] as Outcome[] };
  for (const [index, request] of signed.entries()) {
    outcomes.signed.push(await send(request));
    outcomes.bare.push(await send(plainGet(backend.bareUrl, `/bare/tickets/${tickets[index % tickets.length]}`)));
  }
  requireOk('card views at 80 ms', outcomes.signed);
  const [a, b] = [p50(outcomes.signed), p50(outcomes.bare)];
  const limit = Math.round(b + 5);
  const target: Target = { text: `<= 1 HubSpot round trip + 5 ms (bare route p50 ${fmt(b, 0)} + 5 = ${limit} ms)`, met: (value) => value <= limit };
  return {
    id: 'card-view-p50-latency-80',
    figure: `card view p50 with HubSpot at ${HUBSPOT_LATENCY_MS} ms`,
    variant: variantOf(lab, 'ACCESS_SOURCE=auto'),
    value: a,
    now: `${fmt(a, 0)} ms vs ${fmt(b, 0)} ms bare`,
    target,
    details: {
      samples: signed.length,
      signedMs: outcomes.signed.map((outcome) => Math.round(outcome.ms)),
      bareMs: outcomes.bare.map((outcome) => Math.round(outcome.ms)),
    },
  };
}

/** Users who see the big contact (contacts: everything) without being Super Admins, the team-level agent first. */
function listViewers(lab: Lab): number[] {
  const { users } = account(lab);
  const others = users
    .filter((user) => !user.deactivated && !user.superAdmin && user.permissions.contacts.view === 'everything' && user.id !== lab.world.people.teamAgent)
    .map((user) => user.id);
  return [lab.world.people.teamAgent, ...others];
}

const listView = (lab: Lab, backend: Backend, userId: number) =>
  cardGet(backend.url, `/api/v1/contacts/${lab.world.bigContactId}/tickets`, { portalId: lab.world.portalId, userId });

/** Each viewer's profile, the owners, teams and pipeline loaded: a record view per viewer (its verdict does not matter). */
async function warmViewers(lab: Lab, backend: Backend, userIds: readonly number[]) {
  const ticket = account(lab).tickets[0]?.id ?? '';
  await sendAll(
    userIds.map((userId) => cardGet(backend.url, `/api/v1/records/tickets/${ticket}/access`, { portalId: lab.world.portalId, userId })),
    4,
  );
}

/** One list view of the contact with 1,000 tickets by a warm viewer who sees their teams' tickets only. */
async function oneListView(lab: Lab, backend: Backend): Promise<Figure[]> {
  await lab.fake.call('configure', { latencyMs: HUBSPOT_LATENCY_MS });
  const viewer = lab.world.people.teamAgent;
  await warmViewers(lab, backend, [viewer]);
  await lab.fake.call('calls', { reset: true });
  const outcome = await send(listView(lab, backend, viewer));
  const calls = await lab.fake.call('calls', { reset: true });
  const variant = variantOf(lab, `HubSpot ${HUBSPOT_LATENCY_MS} ms`, 'ACCESS_SOURCE=auto', 'team-level viewer');
  const failed = outcome.status === 200 ? '' : ` (answered ${outcome.code})`;
  const label = `contact with ${lab.world.bigContactTickets.toLocaleString('en-US')} tickets, one list view`;
  return [
    {
      id: 'list-view-calls',
      figure: `${label}: HubSpot calls`,
      variant,
      value: outcome.status === 200 ? calls.total : null,
      now: `${calls.total} (${breakdown(shortRoutes(calls.byRoute)).replaceAll('.00', '')})${failed}`,
      target: atMost(3),
      details: { callsByRoute: calls.byRoute, hubspotFailures: calls.failures, status: outcome.status, code: outcome.code },
    },
    {
      id: 'list-view-time',
      figure: `${label}: time`,
      variant,
      value: outcome.status === 200 ? outcome.ms : null,
      now: `${fmt(outcome.ms / 1000)} s${failed}`,
      target: below(1000, ' ms'),
      details: { ms: Math.round(outcome.ms) },
    },
  ];
}

/** Five viewers open the big contact's card at the same moment; HubSpot's search allows 5 per second per account. */
async function fiveListViews(lab: Lab, backend: Backend): Promise<Figure> {
  await lab.fake.call('configure', { latencyMs: HUBSPOT_LATENCY_MS });
  const viewers = listViewers(lab).slice(0, 5);
  await warmViewers(lab, backend, viewers);
  await lab.fake.call('calls', { reset: true });
  const { outcomes, wallMs } = await sendAll(
    viewers.map((userId) => listView(lab, backend, userId)),
    viewers.length,
  );
  const calls = await lab.fake.call('calls', { reset: true });
  const failures = failuresOf(outcomes);
  const failed = total(failures) > 0 ? `; ${total(failures)} of ${outcomes.length} failed (${JSON.stringify(failures)})` : '';
  return {
    id: 'five-list-views-wall',
    figure: `${viewers.length} list views at once (HubSpot search 5/s)`,
    variant: variantOf(lab, `HubSpot ${HUBSPOT_LATENCY_MS} ms`, 'ACCESS_SOURCE=auto'),
    value: total(failures) === 0 ? wallMs : null,
    now: `${fmt(wallMs / 1000)} s wall${failed}`,
    target: below(2000, ' ms, none failing'),
    details: {
      perViewMs: outcomes.map((outcome) => Math.round(outcome.ms)),
      failures,
      calls: calls.total,
      callsByRoute: calls.byRoute,
      hubspotFailures: calls.failures,
    },
  };
}

const expiryLabel = (views: number, processes: number) => `${views} views at token expiry, ${processes} process${processes === 1 ? '' : 'es'}`;

/**
 * The install token expires (at the local HubSpot and in the store) while warm backends serve record views, at most
 * 20 in flight (hubspot.fetch's limit per account), spread over the processes: refreshes seen at HubSpot, and views
 * that did not answer 2xx.
 */
async function viewsAtTokenExpiry(lab: Lab, backends: Backend[]): Promise<Figure[]> {
  await lab.fake.call('configure', { latencyMs: HUBSPOT_LATENCY_MS });
  for (const backend of backends) await warmUp(lab, backend);
  await lab.fake.call('expireAccessTokens', {});
  await (backends[0] as Backend).child.call('expireStoredToken', { portalId: lab.world.portalId });
  await lab.fake.call('calls', { reset: true });
  const views = lab.plan.expiryViews;
  const perBackend = backends.map((backend) => recordViews(lab, backend, 0, views));
  const requests = Array.from({ length: views }, (_, k) => perBackend[k % backends.length]?.[k] as PreparedRequest);
  const { outcomes, wallMs } = await sendAll(requests, CONNECTIONS);
  const calls: CallSummary = await lab.fake.call('calls', { reset: true });
  const refreshes = Object.entries(calls.byRoute)
    .filter(([route]) => route.startsWith('POST /oauth/') && route.endsWith('/token'))
    .reduce((sum, [, count]) => sum + count, 0);
  const failures = failuresOf(outcomes);
  const label = expiryLabel(views, backends.length);
  const variant = variantOf(lab, `HubSpot ${HUBSPOT_LATENCY_MS} ms`, `${CONNECTIONS} in flight`);
  const details = { wallMs: Math.round(wallMs), failures, calls: calls.total, callsByRoute: calls.byRoute, hubspotFailures: calls.failures };
  return [
    {
      id: 'token-expiry-refreshes',
      figure: `${label}: refreshes at HubSpot`,
      variant,
      value: refreshes,
      now: String(refreshes),
      target: { text: '1', met: (value) => value === 1 },
      details,
    },
    {
      id: 'token-expiry-failures',
      figure: `${label}: views failed`,
      variant,
      value: total(failures),
      now: total(failures) === 0 ? '0' : `${total(failures)} (${breakdown(failures).replaceAll('.00', '')})`,
      target: atMost(0),
      details,
    },
  ];
}

/**
 * The heap HubSpot's per-record permission answers take in an account of this many users: the backend's heap after a
 * forced collection, before and after one viewer views `heapRecords` distinct records, twice; the second slope
 * projects the heap at HEAP_PROJECTION_RECORDS records, up to the caches' own bound in bytes (a bounded cache stops
 * growing there). Before the first reading, as many other records are viewed: compiling the view's code and growing
 * the cache's tables happen once, not per record. Each reading waits until the last request's deadline timer has
 * ended, so it holds what the caches keep, not the requests just answered.
 */
async function permissionCacheHeap(lab: Lab, backend: Backend): Promise<Figure> {
  await lab.fake.call('configure', { latencyMs: 0 });
  const { agent } = lab.world.people;
  const tickets = account(lab).tickets.map((ticket) => ticket.id);
  const count = lab.plan.heapRecords;
  if (tickets.length < count * 3 + 1) throw new Error(`the world has ${tickets.length} tickets; the heap reading needs ${count * 3 + 1}`);
  const heap = async () => {
    await delay(DEADLINES.card.budgetMs + 1_000);
    return backend.child.call('heap', {});
  };
  const view = (from: number) =>
    sendAll(
      tickets
        .slice(from, from + count)
        .map((id) => cardGet(backend.url, `/api/v1/records/tickets/${id}/access`, { portalId: lab.world.portalId, userId: agent })),
      8,
    );
  // One view first: the viewer, owners, teams and pipeline are then cached, and not counted as the records'.
  requireOk('first view', (await view(tickets.length - 1)).outcomes);
  requireOk('warm-up records', (await view(2 * count)).outcomes);
  const heap0 = await heap();
  requireOk('first records', (await view(0)).outcomes);
  const heap1 = await heap();
  requireOk('next records', (await view(count)).outcomes);
  const heap2 = await heap();
  await lab.fake.call('calls', { reset: true });
  const perRecord = (heap2 - heap0) / (2 * count);
  const slope = Math.max(0, (heap2 - heap1) / count);
  const bound = PERMISSION_CACHE_BYTES.answers + PERMISSION_CACHE_BYTES.users;
  const projected = (heap2 - heap0 + Math.min(slope * (HEAP_PROJECTION_RECORDS - 2 * count), bound)) / MiB;
  const users = account(lab).users.length.toLocaleString('en-US');
  return {
    id: 'permission-cache-heap',
    figure: `permission cache, account with ${users} users: heap after ${HEAP_PROJECTION_RECORDS.toLocaleString('en-US')} records viewed`,
    variant: variantOf(lab, 'ACCESS_SOURCE=auto', 'projected from 2 readings'),
    value: projected,
    now: `${fmt(projected, 0)} MiB (${fmt(perRecord / 1024, 1)} KiB per record over ${2 * count} records)`,
    target: atMost(64, ' MiB in total'),
    details: {
      heapBytes: [heap0, heap1, heap2],
      recordsPerReading: count,
      bytesPerRecord: Math.round(perRecord),
      slopeBytesPerRecord: Math.round(slope),
      cacheBoundBytes: bound,
    },
  };
}

/** The stored policy's size and the time a first read of it takes (the store reads the row and parses the document). */
async function policyDocument(lab: Lab): Promise<Figure> {
  const database = await lab.database.create();
  const opened = await openDatabase(database.url);
  try {
    const document = mirrorPolicy(account(lab));
    await createPolicyStore(opened.db, createLocalChangeFeed()).save(lab.world.portalId, document, lab.world.people.installer, new Date());
    const times: number[] = [];
    for (let read = 0; read < lab.plan.policyReads; read += 1) {
      // A store of its own each time: a first read, whatever a store may keep between reads.
      const store = createPolicyStore(opened.db, createLocalChangeFeed());
      const started = performance.now();
      await store.current(lab.world.portalId);
      times.push(performance.now() - started);
    }
    const bytes = Buffer.byteLength(JSON.stringify(document));
    return {
      id: 'policy-document-size-parse',
      figure: `policy document, ${account(lab).users.length.toLocaleString('en-US')} users: size and first read`,
      variant: variantOf(lab),
      value: median(times),
      now: `${fmt(bytes / 1000, 0)} KB; read and parsed in ${fmt(median(times))} ms (median of ${times.length})`,
      target: null,
      details: { bytes, readMs: times.map((ms) => Number(ms.toFixed(2))) },
    };
  } finally {
    await opened.close();
    await database.cleanup();
  }
}

const progress = (message: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);

/** Runs one scenario; a scenario that throws becomes failed rows (value null: a missed target), and the run goes on. */
async function attempt(rows: Array<Omit<Figure, 'value' | 'now' | 'details'>>, run: () => Promise<Figure[]>): Promise<Figure[]> {
  const started = performance.now();
  const name = `${rows[0]?.figure ?? 'scenario'} [${rows[0]?.variant ?? ''}]`;
  try {
    const figures = await run();
    progress(`${name}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return figures;
  } catch (error) {
    progress(`${name}: FAILED ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    return rows.map((entry) => failedFigure(entry, error));
  }
}

const row = (lab: Lab, id: string, figure: string, target: Target | null, ...variant: string[]) => ({
  id,
  figure,
  variant: variantOf(lab, ...variant),
  target,
});

/**
 * Calls and queries per warm view in both access sources and the A/B rounds (every world, every database); with
 * `cardP50`, the card's p50 at HubSpot's latency too, on the same warm backend. Each part fails on its own.
 */
export async function hotPathScenarios(lab: Lab, options: { cardP50: boolean }): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const accessSource of ['policy', 'auto'] as const) {
    const source = `ACCESS_SOURCE=${accessSource}`;
    const counted = [
      row(lab, 'hubspot-calls-per-warm-view', 'HubSpot calls per warm record view', atMost(1.05), source),
      row(lab, 'db-queries-per-warm-view', 'database queries per warm record view', atMost(1), source),
    ];
    const parts: Array<{ rows: typeof counted; run: (backend: Backend) => Promise<Figure[]> }> = [
      { rows: counted, run: (backend) => warmCounts(lab, backend, accessSource) },
    ];
    if (accessSource === 'auto') {
      for (const [latency, rounds] of [
        [0, lab.plan.rounds.latency0],
        [HUBSPOT_LATENCY_MS, lab.plan.rounds.latency80],
      ] as const) {
        if (rounds === 0) continue;
        parts.push({
          rows: [row(lab, `ab-ratio-latency-${latency}`, 'signed record view / bare route, req/s', atLeast(0.8), `HubSpot ${latency} ms`)],
          run: async (backend) => [await throughput(lab, backend, latency, rounds)],
        });
      }
      if (options.cardP50) {
        parts.push({
          rows: [row(lab, 'card-view-p50-latency-80', `card view p50 with HubSpot at ${HUBSPOT_LATENCY_MS} ms`, null, source)],
          run: async (backend) => [await cardP50(lab, backend)],
        });
      }
    }
    figures.push(
      ...(await attempt(
        parts.flatMap((part) => part.rows),
        () =>
          withBackends(lab, accessSource, 1, async ([backend]) => {
            const found: Figure[] = [];
            for (const part of parts) found.push(...(await attempt(part.rows, () => part.run(backend as Backend))));
            return found;
          }),
      )),
    );
  }
  return figures;
}

/** Lists, token expiry across processes, and (once) the permission cache's heap and the policy document: fresh backends each. */
export async function scaleScenarios(lab: Lab, options: { processes: number; heapAndPolicy: boolean }): Promise<Figure[]> {
  const figures: Figure[] = [];
  const list = row(lab, 'list-view-calls', `contact with ${lab.world.bigContactTickets.toLocaleString('en-US')} tickets, one list view`, atMost(3));
  figures.push(...(await attempt([list], () => withBackends(lab, 'auto', 1, async ([backend]) => oneListView(lab, backend as Backend)))));
  const five = row(lab, 'five-list-views-wall', '5 list views at once (HubSpot search 5/s)', below(2000, ' ms'));
  figures.push(...(await attempt([five], () => withBackends(lab, 'auto', 1, async ([backend]) => [await fiveListViews(lab, backend as Backend)]))));
  const expiry = row(lab, 'token-expiry-failures', expiryLabel(lab.plan.expiryViews, options.processes), atMost(0));
  figures.push(...(await attempt([expiry], () => withBackends(lab, 'auto', options.processes, (backends) => viewsAtTokenExpiry(lab, backends)))));
  if (options.heapAndPolicy) {
    const heap = row(lab, 'permission-cache-heap', 'permission cache: heap', atMost(64, ' MiB'));
    figures.push(...(await attempt([heap], () => withBackends(lab, 'auto', 1, async ([backend]) => [await permissionCacheHeap(lab, backend as Backend)]))));
    const policy = row(lab, 'policy-document-size-parse', 'policy document: size and first read', null);
    figures.push(...(await attempt([policy], async () => [await policyDocument(lab)])));
  }
  return figures;
}
