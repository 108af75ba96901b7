import { createHmac } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { OBJECT_TYPE_NAMES, RECORD_CARD_TYPES, type ObjectType as BackendObjectType } from '../../backend/src/access/model.js';
import type { PolicyDocument } from '../../backend/src/access/policy.js';
import { createLocalChangeFeed } from '../../backend/src/instances/change-feed.js';
import { createCalibrationRunStore, createPolicyStore } from '../../backend/src/store/index.js';
import type { SeedAccount, SeedUser } from '../hubspot-fake/index.js';
import { formatAttackTally, saveAttackTally, type AttackTally } from '../support/attack-tally.js';
import { startHarness, TEST_APP, type Harness } from '../support/harness.js';
import { mirrorPolicy } from '../support/mirror-policy.js';
import { ana, bob, carla, contoso, farid, gina, northwind, seed, yan, zoe } from '../support/people.js';
import { hubspotSignature } from '../support/signing.js';

/**
 * Shared pieces of the attack suite: who is who in the seed, a harness per describe on a clock that jumps past
 * HubSpot's rate window before every case, requests signed over exactly chosen parts (so one part can be
 * tampered with), and `attack()`, which runs one case, judges the answer and counts it.
 */

// Who is who in the seed (support/people.ts), as every suite here names them.
export { ana, bob, carla, contoso, farid, gina, northwind, yan, zoe };

export type ObjectType = BackendObjectType;

/** What a refused answer must never show about a record: its subject (or name) and its owner's name. */
/**
 * What a refusal in the viewer's own account may not show: the record's contents (its subject or name). The owner's
 * name may appear there, as the refusal's explanation ("This one is owned by Ana Silva", DESIGN.md).
 */
export function recordContents(account: SeedAccount, objectType: ObjectType, id: string): string[] {
  return recordWords(account, objectType, id).slice(0, 1);
}

/** A record's contents and its owner's name: nothing of another account's record may appear in any answer. */
export function recordWords(account: SeedAccount, objectType: ObjectType, id: string): string[] {
  const record = account[objectType].find((candidate) => candidate.id === id);
  if (record === undefined) throw new Error(`seed.json has no ${objectType} ${id} in ${account.name}`);
  const owner = account.owners.find((candidate) => String(candidate.id) === record.properties.hubspot_owner_id);
  return [titleOf(objectType, record.properties), owner === undefined ? undefined : `${owner.firstName} ${owner.lastName}`].filter(
    (word): word is string => typeof word === 'string' && word.trim() !== '',
  );
}

/** What HubSpot shows as a record's name: a ticket's subject, a contact's full name, a deal's or a company's name. */
function titleOf(objectType: ObjectType, properties: Record<string, string | null>): string | undefined {
  const names: Record<ObjectType, readonly string[]> = { tickets: ['subject'], contacts: ['firstname', 'lastname'], deals: ['dealname'], companies: ['name'] };
  const title = names[objectType].map((name) => properties[name] ?? '').join(' ');
  return title.trim() === '' ? undefined : title;
}

/** Every record's name in an account: an absurd id must not resolve to any of them. */
export function allRecordWords(account: SeedAccount): string[] {
  return OBJECT_TYPE_NAMES.flatMap((objectType) => account[objectType].map((record) => titleOf(objectType, record.properties) ?? '')).filter(
    (word) => word !== '',
  );
}

export function ownerIdOf(account: SeedAccount, user: SeedUser): number {
  const owner = account.owners.find((candidate) => candidate.userId === user.id);
  if (owner === undefined) throw new Error(`seed.json: ${user.firstName} is not an owner`);
  return owner.id;
}

/** Both HubSpot's burst window and our scheduler's are 10 s; each case starts in a fresh one. */
const RATE_WINDOW_MS = 10_000;
const LIFTED_RATE_LIMIT = 100_000;

/**
 * Real time plus a skew that jumps past the rate window before every case: hundreds of cases against one account
 * would otherwise be paced at 11 HubSpot calls a second. Time only moves forward, as the caches expect.
 */
export class SteppingClock {
  #skew = 0;
  readonly now = (): number => Date.now() + this.#skew;
  step(ms: number): void {
    this.#skew += ms;
  }
}

export interface Stage {
  readonly h: Harness;
  readonly clock: SteppingClock;
}

export interface StageOptions {
  env?: Record<string, string>;
  /** Accounts installed directly, by their Super Admin; both seeded accounts unless told otherwise. */
  installs?: readonly SeedAccount[];
  /** A policy stored for Northwind before the first request, straight into the store (as if saved long ago). */
  policy?: PolicyDocument;
  /** Reinstall after any case that left an account uninstalled (a disconnect that should have been refused). */
  reinstall?: boolean;
  /** Build the app as runtime.ts does behind a proxy. */
  trustProxy?: boolean;
}

/** One harness for the enclosing describe; cases that change state get a describe (and a harness) of their own. */
export function useStage(options: StageOptions = {}): Stage {
  let harness: Harness | undefined;
  const clock = new SteppingClock();
  const installs = options.installs ?? [northwind, contoso];
  const install = async (started: Harness, account: SeedAccount) => {
    const installer = account.users.find((user) => user.superAdmin && !user.deactivated);
    if (installer === undefined) throw new Error(`seed.json: ${account.name} has no active Super Admin`);
    await started.installDirect(account.portalId, installer.id);
  };
  beforeAll(async () => {
    harness = await startHarness({
      now: clock.now,
      // The clock's steps empty HubSpot's windows at the local HubSpot and in this process's pacing, but not in the shared
      // budget of several instances (PostgreSQL's, on real time): the limits are lifted too, so a thousand attacks in a
      // few seconds are judged on what they prove, not paced.
      liftRateLimits: LIFTED_RATE_LIMIT,
      ...(options.env === undefined ? {} : { env: options.env }),
      ...(options.trustProxy === undefined ? {} : { trustProxy: options.trustProxy }),
    });
    for (const account of installs) await install(harness, account);
    // Announced to nobody: the backend has cached no policy before its first request.
    if (options.policy !== undefined)
      await createPolicyStore(harness.database.db, createLocalChangeFeed()).save(northwind.portalId, options.policy, ana.id, new Date(clock.now()));
  });
  beforeEach(() => clock.step(RATE_WINDOW_MS + 1_000));
  if (options.reinstall === true) {
    afterEach(async () => {
      for (const account of installs) {
        if (harness !== undefined && (await harness.installations.get(account.portalId))?.status !== 'active') await install(harness, account);
      }
    });
  }
  afterAll(async () => harness?.close());
  return {
    get h() {
      if (harness === undefined) throw new Error('the harness is used before beforeAll started it');
      return harness;
    },
    clock,
  };
}

/** The seeded levels as an admin would mirror them, for ACCESS_SOURCE=policy. */
export const mirroredPolicy = mirrorPolicy(northwind);

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A request as sent: `path` is the raw path and query, `body` the raw bytes. */
export interface RequestSpec {
  method: Method;
  path: string;
  body?: string;
  /** Sent as given; no content type is added for a body without one. */
  contentType?: string;
  /** Extra headers, applied after the signature headers (so they can replace them). */
  headers?: Record<string, string | string[]>;
}

/** What the signature covers, where it differs from what is sent; `timestamp` is also the header sent. */
export interface SignatureSpec {
  secret?: string;
  method?: string;
  baseUrl?: string;
  path?: string;
  body?: string;
  timestamp?: number | string;
}

export interface Forged {
  method: Method;
  url: string;
  headers: Record<string, string | string[]>;
  payload?: string;
}

export const SIGNATURE = 'x-hubspot-signature-v3';
export const TIMESTAMP = 'x-hubspot-request-timestamp';

/**
 * HubSpot's v3 signature. Numeric timestamps go through HubSpot's own helper; a garbled timestamp (which the
 * helper's type does not take) is signed with the documented formula, base64(HMAC-SHA256(secret, method + uri +
 * body + timestamp)), so only the backend's timestamp check can refuse it. A control case checks both agree.
 */
export function signV3(input: { secret: string; method: string; url: string; body: string; timestamp: number | string }): string {
  if (typeof input.timestamp === 'number') {
    const headers = hubspotSignature({ clientSecret: input.secret, method: input.method, url: input.url, body: input.body, timestamp: input.timestamp });
    return headers[SIGNATURE] ?? '';
  }
  return createHmac('sha256', input.secret)
    .update(input.method + input.url + input.body + input.timestamp)
    .digest('base64');
}

export function forge(stage: Stage, request: RequestSpec, signAs: SignatureSpec = {}): Forged {
  const timestamp = signAs.timestamp ?? stage.clock.now();
  const signature = signV3({
    secret: signAs.secret ?? TEST_APP.clientSecret,
    method: signAs.method ?? request.method,
    url: (signAs.baseUrl ?? stage.h.backendUrl) + (signAs.path ?? request.path),
    body: signAs.body ?? request.body ?? '',
    timestamp,
  });
  const bare = unsigned(request);
  return { ...bare, headers: { [SIGNATURE]: signature, [TIMESTAMP]: String(timestamp), ...bare.headers } };
}

/** The request with no signature headers at all. */
export function unsigned(request: RequestSpec): Forged {
  return {
    method: request.method,
    url: request.path,
    headers: { ...(request.contentType === undefined ? {} : { 'content-type': request.contentType }), ...request.headers },
    ...(request.body === undefined ? {} : { payload: request.body }),
  };
}

/** The same forged request with headers replaced (a value of undefined removes the header). */
export function withHeaders(
  forged: Forged,
  change: (headers: Readonly<Record<string, string | string[]>>) => Record<string, string | string[] | undefined>,
): Forged {
  const next = change(forged.headers);
  return { ...forged, headers: Object.fromEntries(Object.entries(next).filter((entry): entry is [string, string | string[]] => entry[1] !== undefined)) };
}

export function headerOf(forged: Forged, name: string): string {
  const value = forged.headers[name];
  if (typeof value !== 'string') throw new Error(`forged request has no single ${name} header`);
  return value;
}

/** `path` with the identity HubSpot appends to every hubspot.fetch() URL. */
export function withIdentity(path: string, portalId: number, userId: number | string): string {
  return `${path}${path.includes('?') ? '&' : '?'}portalId=${portalId}&userId=${userId}`;
}

export function json(value: unknown): { body: string; contentType: string } {
  return { body: JSON.stringify(value), contentType: 'application/json' };
}

export function send(stage: Stage, forged: Forged): Promise<LightMyRequestResponse> {
  return stage.h.app.inject(forged);
}

export interface Answer {
  status: number;
  body: string;
}

export interface Outcome {
  status: number;
  /** The error code in our JSON error shape; absent for HTML pages. */
  code?: string;
}

export const refusal = (status: number, code?: string): Outcome => (code === undefined ? { status } : { status, code });

export interface AttackCase {
  send: () => Promise<LightMyRequestResponse | Answer>;
  /** The refusal (or safe outcome) expected; several when the contract allows either. */
  expect: Outcome | readonly Outcome[];
  /** Read before and after: the attack must not change it (HubSpot writes, policy version, installation). */
  unchanged?: () => Promise<unknown>;
  /** Words the answer must not contain (a record's subject, its owner's name). */
  hidden?: readonly string[];
  /** The refusal that must be the newest refused entry of the audit log afterwards. */
  audited?: AuditExpectation;
}

export interface AuditExpectation {
  stage: Stage;
  portalId: number;
  userId: number;
  code: string;
  recordId?: string;
}

const tally: AttackTally = { tried: 0, accepted: 0, unverified: 0 };

// Registered when a test file imports this module: the file's tally is saved after all its cases ran.
afterAll(() => {
  if (tally.tried === 0) return;
  const dir = inject('attackTallyDir');
  // Without the project's global setup (another config), the count is at least printed by this file.
  if (dir === undefined) console.log(formatAttackTally(tally));
  else saveAttackTally(dir, tally);
});

function errorCode(body: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    const code = z.object({ error: z.object({ code: z.string() }) }).safeParse(parsed);
    return code.success ? code.data.error.code : undefined;
  } catch {
    return undefined;
  }
}

function toAnswer(response: LightMyRequestResponse | Answer): Answer {
  return 'statusCode' in response ? { status: response.statusCode, body: response.body } : response;
}

/** Problems with an answer; none means the attack was refused as expected. */
function judge(attackCase: AttackCase, answer: Answer, before: unknown, after: unknown): string[] {
  const expected: readonly Outcome[] = 'status' in attackCase.expect ? [attackCase.expect] : attackCase.expect;
  const code = errorCode(answer.body);
  const problems: string[] = [];
  if (!expected.some((outcome) => outcome.status === answer.status && (outcome.code === undefined || outcome.code === code))) {
    problems.push(
      `answered ${answer.status} ${code ?? ''}, expected ${expected.map((outcome) => `${outcome.status} ${outcome.code ?? ''}`.trim()).join(' or ')}`,
    );
  }
  for (const word of [...(attackCase.hidden ?? []), TEST_APP.clientSecret]) {
    if (answer.body.includes(word)) problems.push(`the answer contains "${word}"`);
  }
  if (JSON.stringify(before) !== JSON.stringify(after)) problems.push(`state changed: ${JSON.stringify(before)} -> ${JSON.stringify(after)}`);
  return problems;
}

const auditPageSchema = z.object({ entries: z.array(z.object({ id: z.string(), decisionCode: z.string().nullable(), recordId: z.string().nullable() })) });
type AuditRow = z.infer<typeof auditPageSchema>['entries'][number];

/** The user's newest refused entry, read as the account's Super Admin through the admin API (CONTRACT.md). */
async function newestRefusal(expected: AuditExpectation): Promise<AuditRow | undefined> {
  const admin = seed.accounts.find((account) => account.portalId === expected.portalId)?.users.find((user) => user.superAdmin && !user.deactivated);
  if (admin === undefined) throw new Error(`seed.json: no Super Admin can read the audit log of ${expected.portalId}`);
  const path = withIdentity(`/api/v1/admin/audit?outcome=refused&user=${expected.userId}&limit=1`, expected.portalId, admin.id);
  const response = await send(expected.stage, forge(expected.stage, { method: 'GET', path }));
  if (response.statusCode !== 200) throw new Error(`reading the audit log answered ${response.statusCode}: ${response.body}`);
  return auditPageSchema.parse(response.json()).entries[0];
}

function auditProblems(expected: AuditExpectation, before: AuditRow | undefined, after: AuditRow | undefined): string[] {
  const what = `${expected.code}${expected.recordId === undefined ? '' : ` for record ${expected.recordId}`}`;
  if (after === undefined || after.id === before?.id) return [`no refusal was audited (expected ${what})`];
  if (after.decisionCode !== expected.code || (expected.recordId !== undefined && after.recordId !== expected.recordId)) {
    return [`the newest audited refusal is ${after.decisionCode} for record ${after.recordId}, expected ${what}`];
  }
  return [];
}

/** One attack, its own test: counted as tried, and as accepted when the answer is not the expected refusal. */
export function attack(name: string, build: () => AttackCase | Promise<AttackCase>): void {
  it(name, async () => {
    tally.tried += 1;
    let attackCase: AttackCase;
    let answer: Answer;
    let problems: string[];
    try {
      attackCase = await build();
      const before = await attackCase.unchanged?.();
      const auditBefore = attackCase.audited === undefined ? undefined : await newestRefusal(attackCase.audited);
      answer = toAnswer(await attackCase.send());
      problems = judge(attackCase, answer, before, await attackCase.unchanged?.());
      if (attackCase.audited !== undefined) problems.push(...auditProblems(attackCase.audited, auditBefore, await newestRefusal(attackCase.audited)));
    } catch (error) {
      tally.unverified += 1;
      throw error;
    }
    if (problems.length > 0) tally.accepted += 1;
    expect(problems, `${problems.join('; ')}\n  answer: ${answer.status} ${answer.body.slice(0, 600)}`).toEqual([]);
  });
}

/** A call to the local HubSpot that changes something there (searches and token calls only read). */
function isHubSpotWrite(call: { method: string; route: string }): boolean {
  return call.method !== 'GET' && !call.route.endsWith('/search') && !call.route.startsWith('/oauth/');
}

/** What a refused write must leave as it was: HubSpot untouched, the policy and the installation unchanged. */
export function sideEffects(stage: Stage, portalId = northwind.portalId): () => Promise<unknown> {
  return async () => ({
    hubspotWrites: stage.h.fake.calls.all().filter(isHubSpotWrite).length,
    policyVersion: (await createPolicyStore(stage.h.database.db, createLocalChangeFeed()).current(portalId))?.version ?? 0,
    calibrationRun: (await createCalibrationRunStore(stage.h.database.db).latest(portalId))?.id ?? 'none',
    installation: (await stage.h.installations.get(portalId))?.status ?? 'none',
    // A polluted prototype would show in this very process: app.inject() runs the backend here.
    objectPrototype: Object.keys(Object.prototype),
  });
}

export interface RouteEntry {
  method: string;
  url: string;
  auth: 'public' | 'viewer' | 'admin' | 'operator';
  write: string | undefined;
}

/**
 * Every guard the suites know how to attack (operator-routes.test.ts: the bearer token; the others: the signature,
 * the admin guard). A route with a guard not listed here makes the whole table unreadable, so every derived suite
 * fails until one attacks it: fail closed.
 */
const routeTableSchema = z.array(
  z.object({ method: z.string(), url: z.string(), auth: z.enum(['public', 'viewer', 'admin', 'operator']), write: z.string().optional() }),
);

/**
 * The registered routes (CONTRACT.md: `app.routeTable`), read from a throw-away app, so a route added later is
 * attacked without anyone remembering to list it here. A string explains why the table could not be read.
 */
export async function registeredRoutes(): Promise<readonly RouteEntry[] | string> {
  const harness = await startHarness();
  try {
    const parsed = routeTableSchema.safeParse(harness.app.routeTable);
    if (!parsed.success) return `app.routeTable does not have the shape in CONTRACT.md: ${parsed.error.message}`;
    return parsed.data.map((route) => ({ ...route, write: route.write }));
  } finally {
    await harness.close();
  }
}

/** Runs `define` with the selected routes, or defines one failing test that says why there are none. */
export function forRoutes(
  table: readonly RouteEntry[] | string,
  what: string,
  select: (route: RouteEntry) => boolean,
  define: (routes: readonly RouteEntry[]) => void,
): void {
  const routes = typeof table === 'string' ? [] : table.filter(select);
  if (routes.length > 0) {
    define(routes);
    return;
  }
  const reason = typeof table === 'string' ? table : `app.routeTable lists no ${what}: the cases derived from it would test nothing`;
  it(`derives the ${what} from app.routeTable`, () => {
    throw new Error(reason);
  });
}

export const routeName = (route: RouteEntry): string => `${route.method} ${route.url}`;

/** A route's path for one record: `:objectType` and `:id` filled in; any other parameter needs a rule here. */
export interface RouteTarget {
  route: RouteEntry;
  /** The kind of record `:id` names, or undefined when the route names no record. */
  objectType: ObjectType | undefined;
  path: (id: string) => string;
  name: string;
}

export function targetsOf(route: RouteEntry): RouteTarget[] {
  const unknown = (route.url.match(/:[A-Za-z]+/g) ?? []).filter((param) => param !== ':id' && param !== ':objectType');
  if (unknown.length > 0) throw new Error(`${routeName(route)}: test/security/support.ts has no rule for ${unknown.join(', ')}`);
  if (route.url.includes(':objectType')) {
    const objectTypes = OBJECT_TYPES_OF[routeName(route)];
    if (objectTypes === undefined) throw new Error(`${routeName(route)}: test/security/support.ts has no object types for it in OBJECT_TYPES_OF`);
    return objectTypes.map((objectType) => {
      const url = route.url.replace(':objectType', objectType);
      return { route, objectType, path: (id: string) => url.replace(':id', id), name: `${route.method} ${url}` };
    });
  }
  if (!route.url.includes(':id')) return [{ route, objectType: undefined, path: () => route.url, name: routeName(route) }];
  const objectType = /\/contacts\/:id/.test(route.url) ? 'contacts' : /\/tickets\/:id/.test(route.url) ? 'tickets' : undefined;
  if (objectType === undefined) throw new Error(`${routeName(route)}: test/security/support.ts cannot tell which object :id names`);
  return [{ route, objectType, path: (id: string) => route.url.replace(':id', id), name: routeName(route) }];
}

/**
 * The object types each route with `:objectType` takes, keyed by route, as its params schema does (routes/schemas.ts):
 * a route not listed fails loudly rather than being attacked with types it refuses for being unknown.
 */
const OBJECT_TYPES_OF: Record<string, readonly ObjectType[]> = {
  'GET /api/v1/records/:objectType/:id/access': OBJECT_TYPE_NAMES,
  'POST /api/v1/records/:objectType/:id/assign-to-me': RECORD_CARD_TYPES,
  'POST /api/v1/records/:objectType/:id/notes': RECORD_CARD_TYPES,
};

/**
 * A valid input for every route that takes one, keyed by route: a route that changes something must be listed
 * (even with no input), so a new write route fails loudly here instead of being attacked with a wrong body.
 */
const VALID_INPUTS: Record<string, { body?: unknown; query?: string }> = {
  'POST /api/v1/tickets/:id/assign-to-me': {},
  'POST /api/v1/tickets/:id/stage': { body: { stageId: '3' } },
  'POST /api/v1/tickets/:id/notes': { body: { body: 'Probe note from the attack suite' } },
  'POST /api/v1/records/:objectType/:id/assign-to-me': {},
  'POST /api/v1/records/:objectType/:id/notes': { body: { body: 'Probe note from the attack suite' } },
  'POST /api/v1/contacts/:id/tickets': { body: { subject: 'Probe ticket from the attack suite', priority: 'LOW' } },
  'PUT /api/v1/admin/policy': { body: mirroredPolicy },
  'POST /api/v1/admin/explain': { body: { userId: bob.id, objectType: 'tickets', recordId: '5001', action: 'view' } },
  'POST /api/v1/admin/disconnect': {},
  'POST /api/v1/admin/calibration': {},
  'POST /api/v1/admin/calibration/adopt': { body: { runId: '3b241101-e2bb-4255-8caf-4136c566a962' } },
  'GET /api/v1/admin/audit': { query: 'limit=5&outcome=refused' },
  'GET /api/v1/admin/policy/history': { query: 'limit=5' },
};

export function validInput(route: RouteEntry): { body: string | undefined; query: string } {
  const input = VALID_INPUTS[routeName(route)];
  if (input === undefined && route.method !== 'GET')
    throw new Error(`test/security/support.ts has no valid input for ${routeName(route)}: add one to VALID_INPUTS`);
  return { body: input?.body === undefined ? undefined : JSON.stringify(input.body), query: input?.query ?? '' };
}

/** Well-formed JSON that no route's schema accepts, and a query no route's schema accepts. */
export const MALFORMED_INPUT = {
  body: JSON.stringify({ default: 'not a level map', userId: 'not a number', objectType: 42, stageId: 42, body: 42, subject: 42 }),
  query: 'limit=not-a-number&outcome=nope',
};

/** A request for `target` on record `id`, signed-identity parameters included, with a chosen input (valid unless told otherwise). */
export function routeRequest(
  target: RouteTarget,
  id: string,
  portalId: number,
  userId: number,
  input: { body: string | undefined; query: string } = validInput(target.route),
): RequestSpec {
  const path = target.path(id) + (input.query === '' ? '' : `?${input.query}`);
  return {
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).parse(target.route.method),
    path: withIdentity(path, portalId, userId),
    ...(input.body === undefined ? {} : { body: input.body, contentType: 'application/json' }),
  };
}
