/**
 * What each cache of the backend holds per entry in a 1,000-user account (the bench's generated world), measured on
 * V8's heap beside the size the cache counts against its bound (lib/byte-size.ts):
 *
 *   node --expose-gc --import tsx bench/cache-sizes.ts
 *
 * Each cache is filled through its real code (createTtlCache, lru-cache, the permission compactor) and the heap read
 * after forced collections, before and after. Not part of `npm test` or `npm run bench`; figures in notes/metrics.md.
 */
import { policyShapeSchema } from '../backend/src/access/policy.js';
import type { OwnerRecord, PermittedActions } from '../backend/src/hubspot/crm.js';
import { BoundedCache, createCacheRegistry, type CacheStats } from '../backend/src/lib/bounded-cache.js';
import { approximateBytes } from '../backend/src/lib/byte-size.js';
import { createTtlCache } from '../backend/src/lib/ttl-cache.js';
import { compactAnswerBytes, createAnswerCompactor } from '../backend/src/usecases/permitted-users.js';
import type { Viewer } from '../backend/src/viewer/directory.js';
import { recordAccess } from '../test/hubspot-fake/permissions.js';
import { generateWorld } from '../test/hubspot-fake/seed-generator.js';
import { mirrorPolicy } from '../test/support/mirror-policy.js';

const collect = (globalThis as { gc?: () => void }).gc;
if (collect === undefined) throw new Error('run with node --expose-gc --import tsx bench/cache-sizes.ts');
const gc = collect;

function heap(): number {
  for (let i = 0; i < 4; i += 1) gc();
  return process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
}

const MiB = 1024 * 1024;
function missing(what: string): never {
  throw new Error(`${what} is missing`);
}
const world = generateWorld({ users: 1_000, tickets: 5_000, seed: 1 });
const account = world.seed.accounts.find((candidate) => candidate.portalId === world.portalId) ?? missing('the generated account');
const P = world.portalId;
const rows: Array<{ cache: string; entries: number; heapPerEntry: number; countedPerEntry: number }> = [];

/** Fills a cache through `fill`, and reads the heap it took and what its registry counted. */
async function measure(cache: string, entries: number, fill: (registry: ReturnType<typeof createCacheRegistry>) => Promise<unknown>): Promise<void> {
  const registry = createCacheRegistry();
  const before = heap();
  const keep = await fill(registry);
  const after = heap();
  const stats = registry.stats().find((candidate) => candidate.name === cache) as CacheStats;
  rows.push({ cache, entries, heapPerEntry: (after - before) / entries, countedPerEntry: stats.bytes / stats.entries });
  if (keep === undefined) throw new Error('keep the cache alive until measured');
}

// HubSpot's permission answers: the old form (per user, a Set of actions) beside the compact one, per record.
const actionsFor = ['view', 'edit', 'delete'];
const RECORDS = 5_000;
const tickets = account.tickets.slice(0, RECORDS);
function answerFor(ticket: (typeof tickets)[number]): PermittedActions {
  const may = recordAccess(account, 'tickets', ticket);
  return new Map(actionsFor.map((action) => [action, account.users.filter((user) => may(user, action)).map((user) => user.id)]));
}
const answers = tickets.map(answerFor);
const permittedPerRecord = answers.reduce((sum, answer) => sum + (answer.get('view')?.length ?? 0), 0) / RECORDS;

{
  const before = heap();
  const old = answers.map((answer) => {
    const byUser = new Map<number, Set<string>>();
    for (const [action, ids] of answer) for (const id of ids) byUser.set(id, (byUser.get(id) ?? new Set()).add(action));
    return byUser;
  });
  const after = heap();
  rows.push({
    cache: 'permissions, before (Map of Sets)',
    entries: RECORDS,
    heapPerEntry: (after - before) / RECORDS,
    countedPerEntry: approximateBytes(old[0]),
  });
}

await measure('permissions', RECORDS, async (registry) => {
  const cache = createTtlCache<{ ownerId: number | null; answer: ReturnType<ReturnType<typeof createAnswerCompactor>['compact']> }>({
    name: 'permissions',
    ttlMs: 60_000,
    maxBytes: 1024 * MiB,
    sizeOf: (entry) => 40 + (entry.answer === undefined ? 0 : compactAnswerBytes(entry.answer)),
    now: Date.now,
    registry,
  });
  const compactor = createAnswerCompactor({ maxBytes: 64 * MiB, registry, forget: () => undefined });
  for (const [index, ticket] of tickets.entries()) {
    const answer = answers[index] ?? new Map();
    await cache.getOrLoad(`${P}:tickets:${ticket.id}`, async () => ({ ownerId: 1, answer: compactor.compact(P, answer) }));
  }
  return cache;
});

await measure('viewers', 5 * account.users.length, async (registry) => {
  const cache = createTtlCache<Viewer>({ name: 'viewers', ttlMs: 60_000, maxBytes: 1024 * MiB, now: Date.now, registry });
  for (let copy = 0; copy < 5; copy += 1)
    for (const user of account.users) {
      const teams = [user.primaryTeamId, ...user.secondaryTeamIds].filter((id): id is string => id !== undefined);
      await cache.getOrLoad(`${P + copy}:${user.id}`, async () => ({
        portalId: P,
        userId: user.id,
        email: user.email,
        firstName: user.firstName,
        lastName: user.lastName,
        superAdmin: user.superAdmin,
        roleIds: [...user.roleIds],
        ownerId: account.owners.find((owner) => owner.userId === user.id)?.id ?? null,
        teams: teams.map((id, index) => ({ id, name: `Team ${id}`, primary: index === 0 })),
      }));
    }
  return cache;
});

/** An owner's teams are its user's (the local HubSpot derives them the same way). */
function teamsOf(userId: number | undefined): string[] {
  const user = account.users.find((candidate) => candidate.id === userId);
  return user === undefined ? [] : [user.primaryTeamId, ...user.secondaryTeamIds].filter((id): id is string => id !== undefined);
}

const ACCOUNTS = 20;
await measure('owners', ACCOUNTS, async (registry) => {
  const cache = createTtlCache<OwnerRecord[]>({ name: 'owners', ttlMs: 60_000, maxBytes: 1024 * MiB, now: Date.now, registry });
  for (let copy = 0; copy < ACCOUNTS; copy += 1) {
    // As hubspot/crm.ts listOwners builds it from HubSpot's pages.
    await cache.getOrLoad(String(P + copy), async () => {
      const owners: OwnerRecord[] = [];
      for (const owner of account.owners) {
        const teams = teamsOf(owner.userId).map((id) => ({ id }));
        owners.push({
          id: Number(String(owner.id)),
          userId: owner.userId ?? null,
          name: [owner.firstName, owner.lastName].filter(Boolean).join(' '),
          email: owner.email,
          teamIds: teams.map((team) => team.id),
        });
      }
      return owners;
    });
  }
  return cache;
});

const policyJson = JSON.stringify(mirrorPolicy(account));
await measure('policies', ACCOUNTS, async (registry) => {
  const cache = new BoundedCache<number, { document: unknown; bytes: number }>({
    name: 'policies',
    maxBytes: 1024 * MiB,
    sizeOf: (entry) => 64 + entry.bytes,
    registry,
  });
  for (let copy = 0; copy < ACCOUNTS; copy += 1) {
    const document = policyShapeSchema.parse(JSON.parse(policyJson));
    cache.set(copy, { document, bytes: approximateBytes(document) });
  }
  return cache;
});

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
console.log(
  `1,000-user account (generated world, seed 1): ${permittedPerRecord.toFixed(0)} users may view a ticket on average; policy ${kib(policyJson.length)} of JSON\n`,
);
console.log('cache | entries measured | heap per entry | counted per entry | counted / heap');
for (const row of rows) {
  console.log(
    `${row.cache} | ${row.entries} | ${kib(row.heapPerEntry)} | ${kib(row.countedPerEntry)} | ${(row.countedPerEntry / row.heapPerEntry).toFixed(2)}`,
  );
}
