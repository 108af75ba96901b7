import formbody from '@fastify/formbody';
import { setMaxListeners } from 'node:events';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { checkResponse, violationRegistry, type ContractViolation } from './contract.js';
import { errorBody, expiredAuthentication, internalError, invalidAuthentication, missingScopes, rateLimited, sendError } from './errors.js';
import { appInstallRoutes } from './routes/app-installs.js';
import { associationRoutes } from './routes/associations.js';
import { crmObjectRoutes } from './routes/crm-objects.js';
import { crmSearchRoutes } from './routes/crm-search.js';
import { crmWriteRoutes } from './routes/crm-writes.js';
import { permissionRoutes } from './routes/permissions.js';
import { pipelineRoutes } from './routes/pipelines.js';
import { oauthRoutes } from './routes/oauth.js';
import { ownerRoutes } from './routes/owners.js';
import { settingsRoutes } from './routes/settings.js';
import { loadSeed, type Seed } from './seed.js';
import { FakeState, type AccessTokenRecord, type CallRecord, type TokenFault } from './state.js';
import { createWorld, type FakeWorld } from './world.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Scopes the bearer token needs (any one of them); absent on routes that take no bearer token. */
    scopes?: string[];
    /** HubSpot's HTML pages on app.hubspot.com: no API switches, limits or contract checks. */
    page?: boolean;
  }
  interface FastifyRequest {
    fakeAuth: AccessTokenRecord | null;
  }
}

export interface FakeHubSpotOptions {
  seed?: Seed;
  /** `scopes`: the app's uploaded requiredScopes and optionalScopes; when given, an install URL asking for others is refused. */
  app: { clientId: string; clientSecret: string; appId: number; redirectUris?: string[]; scopes?: { required: string[]; optional: string[] } };
  accessTokenTtlSeconds?: number;
  now?: () => number;
  validateContract?: boolean;
}

export interface FakeHubSpot {
  readonly app: FastifyInstance;
  listen(port?: number): Promise<string>;
  readonly url: string;
  close(): Promise<void>;
  readonly calls: { count(method: string, route: string): number; all(): CallRecord[]; reset(): void };
  readonly switches: {
    latencyMs: number;
    /** The next `count` API calls (only those whose path starts with `pathPrefix`, when given) answer `status`. */
    failNext(count: number, status?: number, pathPrefix?: string): void;
    /** Forgets the failures failNext, timeoutNext, resetNext, resetAfterNext and rateLimitNext queued and that no call has met yet. */
    clearFailures(): void;
    /**
     * The next `count` API calls under `pathPrefix` answer 200 with `body`: a shape HubSpot might send but the fake does
     * not, to prove the backend refuses to guess. Exempt from the contract check, since the test chose it.
     */
    answerNext(count: number, body: unknown, pathPrefix: string): void;
    /**
     * The next `count` API calls (the token endpoint included; only those under `pathPrefix`, when given) hang: no
     * answer until the fake closes or, with `forMs`, answered as usual after that long (HubSpot slow, not dead).
     */
    timeoutNext(count: number, options?: { pathPrefix?: string; forMs?: number }): void;
    /** The next `count` API calls (under `pathPrefix`, when given) get no answer: their connection is reset (TCP RST) after `afterMs`. */
    resetNext(count: number, options?: { pathPrefix?: string; afterMs?: number }): void;
    /** The next `count` API calls (under `pathPrefix`, when given) answer 429, with Retry-After when `retryAfterSeconds` is given. */
    /**
     * The next `count` API calls under `pathPrefix` are carried out (a create makes its record), then their connection
     * is reset before the answer leaves: the caller cannot tell whether HubSpot acted.
     */
    resetAfterNext(count: number, pathPrefix: string): void;
    rateLimitNext(count: number, options?: { retryAfterSeconds?: number; pathPrefix?: string }): void;
    enforceRateLimit: boolean;
    /** Tokens introspect as user-level installs (HubSpot's per-user app model, platform 2026.09). */
    userLevelInstalls: boolean;
    /**
     * Strict refresh-token rotation: each refresh answers with a new refresh token and refuses the old one from then on
     * with invalid_grant. HubSpot's docs neither promise nor rule this out, so the backend must survive it; off by default.
     */
    rotateRefreshTokens: boolean;
    /** The token endpoint's next `count` requests meet `fault` (TokenFault in state.ts: hang, a 5xx, or answer-lost). */
    tokenFaultNext(count: number, fault: TokenFault): void;
    /** How long a token answer spends on the way after the grant was carried out (a rotation is already in force meanwhile). */
    tokenAnswerDelayMs: number;
    /** The account limits HubSpot enforces (RATE_LIMITS by default); a test may give an account other numbers. */
    rateLimits: Record<RateLimitLane, { max: number; windowMs: number }>;
  };
  readonly tokens: {
    issue(portalId: number, userId: number, scopes?: string[]): { accessToken: string; refreshToken: string };
    revokeInstall(portalId: number): void;
    expireAccessTokens(): void;
    /** The refresh tokens HubSpot would accept for this account now (under strict rotation, at most one). */
    liveRefreshTokens(portalId: number): string[];
    /** Token grants already carried out whose answer is still on its way (see switches.tokenAnswerDelayMs). */
    answersOnTheWay(): number;
  };
  readonly contract: { violations(): ContractViolation[] };
  /** What the local HubSpot holds (records, notes, tokens), for tests that check what a write really left behind. */
  readonly state: FakeState;
  /**
   * What people change in HubSpot's own UI while the backend runs (details in world.ts), visible in the very next
   * API answer; not recorded in `calls`, which holds API requests only:
   * - reassign(portalId, 'tickets' | 'contacts', recordId, ownerId | null): a record's owner changes (null = unassigned);
   * - deactivateUser(portalId, userId): the Users API answers 404 and drops them; their owner becomes archived;
   * - setTeams(portalId, userId, { primary, secondary }): the user's teams, hence their owner's teams and team access;
   * - setPermissions(portalId, userId, objectType, { view?, edit?, delete?, communicate? }): their permission set.
   */
  readonly world: FakeWorld;
}

/** What route plugins get: the options and the shared state. */
export interface FakeContext {
  options: FakeHubSpotOptions;
  state: FakeState;
}

export type RateLimitLane = 'general' | 'search';

/**
 * HubSpot's limits for marketplace apps, per installing account ("API usage guidelines and limits",
 * developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines): "110 requests every 10 seconds. This
 * excludes the CRM Search API", whose endpoints "are rate limited to five requests per second per account" (CRM
 * search guide, developers.hubspot.com/docs/api-reference/latest/crm/search-the-crm). Both are modelled as rolling
 * windows; whether HubSpot's search second is rolling or fixed is not documented, and rolling is the stricter.
 */
export const RATE_LIMITS: Readonly<Record<RateLimitLane, { max: number; windowMs: number }>> = {
  general: { max: 110, windowMs: 10_000 },
  search: { max: 5, windowMs: 1_000 },
};

/** HubSpot's CRM search endpoints: POST /crm/v3/objects/{objectType}/search and /crm/objects/2026-03/{objectType}/search. */
const isSearch = (request: FastifyRequest) => request.method === 'POST' && /^\/crm\/.+\/search$/.test(request.routeOptions.url ?? '');

export function createFakeHubSpot(options: FakeHubSpotOptions): FakeHubSpot {
  const now = options.now ?? Date.now;
  // A copy: writes through the API change the fake's world, never the caller's seed object.
  const state = new FakeState(structuredClone(options.seed ?? loadSeed()), now, options.accessTokenTtlSeconds ?? 1800);
  const context: FakeContext = { options, state };
  const violations: ContractViolation[] = [];
  const closing = new AbortController();
  // Each hung call waits for it.
  setMaxListeners(0, closing.signal);
  const pending = {
    fail: [] as Array<{ status: number; pathPrefix: string }>,
    answers: [] as Array<{ body: unknown; pathPrefix: string }>,
    hangs: [] as Array<{ pathPrefix: string; forMs: number | undefined }>,
    resets: [] as Array<{ pathPrefix: string; afterMs: number }>,
    rateLimits: [] as Array<{ retryAfterSeconds: number | undefined; pathPrefix: string }>,
    resetsAfter: [] as string[],
  };
  const scripted = new WeakSet<FastifyRequest>();
  const switches = {
    latencyMs: 0,
    enforceRateLimit: true,
    rateLimits: structuredClone(RATE_LIMITS),
    clearFailures: () => {
      pending.fail.length = 0;
      pending.hangs.length = 0;
      pending.resets.length = 0;
      pending.resetsAfter.length = 0;
      pending.rateLimits.length = 0;
    },
    failNext: (count: number, status = 500, pathPrefix = '/') => {
      for (let i = 0; i < count; i += 1) pending.fail.push({ status, pathPrefix });
    },
    answerNext: (count: number, body: unknown, pathPrefix: string) => {
      for (let i = 0; i < count; i += 1) pending.answers.push({ body, pathPrefix });
    },
    timeoutNext: (count: number, { pathPrefix = '/', forMs }: { pathPrefix?: string; forMs?: number } = {}) => {
      for (let i = 0; i < count; i += 1) pending.hangs.push({ pathPrefix, forMs });
    },
    resetNext: (count: number, { pathPrefix = '/', afterMs = 0 }: { pathPrefix?: string; afterMs?: number } = {}) => {
      for (let i = 0; i < count; i += 1) pending.resets.push({ pathPrefix, afterMs });
    },
    rateLimitNext: (count: number, { retryAfterSeconds, pathPrefix = '/' }: { retryAfterSeconds?: number; pathPrefix?: string } = {}) => {
      for (let i = 0; i < count; i += 1) pending.rateLimits.push({ retryAfterSeconds, pathPrefix });
    },
    resetAfterNext: (count: number, pathPrefix: string) => {
      for (let i = 0; i < count; i += 1) pending.resetsAfter.push(pathPrefix);
    },
    get userLevelInstalls() {
      return state.userLevelInstalls;
    },
    set userLevelInstalls(value: boolean) {
      state.userLevelInstalls = value;
    },
    get rotateRefreshTokens() {
      return state.rotateRefreshTokens;
    },
    set rotateRefreshTokens(value: boolean) {
      state.rotateRefreshTokens = value;
    },
    tokenFaultNext: (count: number, fault: TokenFault) => {
      for (let i = 0; i < count; i += 1) state.tokenFaults.push(fault);
    },
    get tokenAnswerDelayMs() {
      return state.tokenAnswerDelayMs;
    },
    set tokenAnswerDelayMs(value: number) {
      state.tokenAnswerDelayMs = value;
    },
  };
  let url = '';

  // The SDK calls some collections with a trailing slash (/crm/v3/owners/); HubSpot accepts both forms.
  const app = Fastify({ forceCloseConnections: true, routerOptions: { ignoreTrailingSlash: true } });
  app.decorateRequest('fakeAuth', null);
  // Whatever goes wrong inside the fake still answers in HubSpot's error shape, so the contract check stays meaningful.
  app.setErrorHandler((error: FastifyError, _request, reply) => {
    const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    return sendError(reply, status, status === 500 ? internalError() : errorBody('VALIDATION_ERROR', error.message));
  });
  void app.register(formbody);
  // HubSpot accepts an empty body sent as application/json (the SDK does that on DELETE); Fastify would refuse it.
  const parseJson = app.getDefaultJsonParser('error', 'ignore');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    // The default parser answers through `done`; its type also admits the promise-returning parser form.
    if (body === '') done(null, undefined);
    else void parseJson(request, body.toString(), done);
  });

  const isApi = (request: FastifyRequest) => request.routeOptions.url !== undefined && request.routeOptions.config.page !== true;

  /**
   * The headers "included in the response of each API request" (usage guidelines): the -Daily ones are "not included
   * in the response to API requests authorized using OAuth", and "Responses from the search API endpoints will not
   * include any of the rate limit headers".
   */
  function rateLimitHeaders(request: FastifyRequest, reply: FastifyReply, remaining: number) {
    if (isSearch(request)) return;
    const limit = switches.rateLimits.general;
    reply.header('X-HubSpot-RateLimit-Interval-Milliseconds', String(limit.windowMs));
    reply.header('X-HubSpot-RateLimit-Max', String(limit.max));
    reply.header('X-HubSpot-RateLimit-Remaining', String(Math.max(0, remaining)));
  }

  /** The first switch queued for this request's path, taken off its queue. */
  function take<T extends { pathPrefix: string }>(queue: T[], request: FastifyRequest): T | undefined {
    const index = queue.findIndex((entry) => request.url.startsWith(entry.pathPrefix));
    return index === -1 ? undefined : queue.splice(index, 1)[0];
  }

  /** Waits `ms` (forever when undefined) or until the fake closes; true when it closed. */
  const pause = (ms: number | undefined) =>
    new Promise<boolean>((resolve) => {
      if (closing.signal.aborted) {
        resolve(true);
        return;
      }
      const onClose = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer =
        ms === undefined
          ? undefined
          : setTimeout(() => {
              closing.signal.removeEventListener('abort', onClose);
              resolve(false);
            }, ms);
      closing.signal.addEventListener('abort', onClose, { once: true });
    });

  app.addHook('onRequest', async (request, reply) => {
    if (!isApi(request)) return;
    const hang = take(pending.hangs, request);
    if (hang !== undefined && (await pause(hang.forMs))) {
      // Never answered: the connection is dropped when the fake closes.
      reply.raw.destroy();
      return reply;
    }
    const reset = take(pending.resets, request);
    if (reset !== undefined) {
      await pause(reset.afterMs);
      request.raw.socket.resetAndDestroy();
      return reply;
    }
    if (switches.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, switches.latencyMs));
    const failure = take(pending.fail, request);
    if (failure !== undefined) return sendError(reply, failure.status, internalError());
    const answer = pending.answers.findIndex((entry) => request.url.startsWith(entry.pathPrefix));
    if (answer !== -1) {
      const [entry] = pending.answers.splice(answer, 1);
      scripted.add(request);
      return reply
        .status(200)
        .header('content-type', 'application/json;charset=utf-8')
        .send(JSON.stringify(entry?.body ?? null));
    }
    const limited = take(pending.rateLimits, request);
    if (limited !== undefined) {
      rateLimitHeaders(request, reply, 0);
      if (limited.retryAfterSeconds !== undefined) reply.header('Retry-After', String(limited.retryAfterSeconds));
      return sendError(reply, 429, rateLimited(isSearch(request) ? 'search' : 'general'));
    }
    return undefined;
  });

  app.addHook('preHandler', async (request, reply) => {
    const required = request.routeOptions.config.scopes;
    if (required === undefined) return undefined;
    const header = request.headers.authorization ?? '';
    const token = /^Bearer (.+)$/i.exec(header)?.[1];
    const record = token === undefined ? undefined : state.accessTokens.get(token);
    if (record === undefined) return sendError(reply, 401, invalidAuthentication());
    if (record.expiresAt <= now()) return sendError(reply, 401, expiredAuthentication());
    if (required.length > 0 && !required.some((scope) => record.scopes.includes(scope))) return sendError(reply, 403, missingScopes(required));
    request.fakeAuth = record;

    // Each request counts against its own limit only: the 10-second one "excludes the CRM Search API".
    const lane: RateLimitLane = isSearch(request) ? 'search' : 'general';
    const limit = switches.rateLimits[lane];
    const windows = state.rateWindows[lane];
    const window = (windows.get(record.portalId) ?? []).filter((at) => at > now() - limit.windowMs);
    windows.set(record.portalId, window);
    if (switches.enforceRateLimit && window.length >= limit.max) {
      rateLimitHeaders(request, reply, 0);
      return sendError(reply, 429, rateLimited(lane));
    }
    window.push(now());
    rateLimitHeaders(request, reply, limit.max - window.length);
    return undefined;
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const reset = isApi(request) ? pending.resetsAfter.findIndex((pathPrefix) => request.url.startsWith(pathPrefix)) : -1;
    if (reset !== -1) {
      pending.resetsAfter.splice(reset, 1);
      reply.raw.destroy();
    }
    return payload;
  });

  app.addHook('onSend', async (request, reply, payload) => {
    if (options.validateContract === false || !isApi(request) || scripted.has(request)) return payload;
    const contentType = String(reply.getHeader('content-type') ?? '');
    const body =
      typeof payload === 'string' && contentType.includes('json')
        ? (JSON.parse(payload) as unknown)
        : payload === null || payload === undefined || payload === ''
          ? null
          : payload;
    const violation = await checkResponse({ method: request.method, url: request.url, status: reply.statusCode, body });
    if (violation !== undefined) {
      violations.push(violation);
      violationRegistry.push(violation);
    }
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    state.calls.push({
      method: request.method,
      route: request.routeOptions.url ?? request.url.split('?')[0] ?? request.url,
      status: reply.statusCode,
      ...(request.fakeAuth === null ? {} : { portalId: request.fakeAuth.portalId }),
      at: now(),
    });
  });

  void app.register(oauthRoutes, { context });
  void app.register(settingsRoutes, { context });
  void app.register(ownerRoutes, { context });
  void app.register(crmObjectRoutes, { context });
  void app.register(crmSearchRoutes, { context });
  void app.register(crmWriteRoutes, { context });
  void app.register(associationRoutes, { context });
  void app.register(pipelineRoutes, { context });
  void app.register(permissionRoutes, { context });
  void app.register(appInstallRoutes, { context });

  return {
    app,
    get url() {
      return url;
    },
    async listen(port = 0) {
      await app.listen({ port, host: '127.0.0.1' });
      const address = app.server.address();
      url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : port}`;
      return url;
    },
    async close() {
      closing.abort();
      await app.close();
    },
    calls: {
      count: (method, route) => state.calls.filter((call) => call.method === method && call.route === route).length,
      all: () => [...state.calls],
      reset: () => {
        state.calls.length = 0;
      },
    },
    switches,
    tokens: {
      issue: (portalId, userId, scopes) =>
        state.issueTokens(
          portalId,
          userId,
          scopes ?? [
            'oauth',
            'tickets',
            'crm.objects.contacts.read',
            'crm.objects.contacts.write',
            'crm.objects.deals.read',
            'crm.objects.deals.write',
            'crm.objects.companies.read',
            'crm.objects.companies.write',
            'crm.objects.owners.read',
            'settings.users.read',
            'settings.users.teams.read',
          ],
        ),
      revokeInstall: (portalId) => state.revokeInstall(portalId),
      expireAccessTokens: () => {
        for (const record of state.accessTokens.values()) record.expiresAt = Math.min(record.expiresAt, now());
      },
      answersOnTheWay: () => state.tokenAnswersOnTheWay,
      liveRefreshTokens: (portalId) => [...state.refreshTokens].flatMap(([token, record]) => (record.portalId === portalId ? [token] : [])),
    },
    contract: { violations: () => [...violations] },
    state,
    world: createWorld(state),
  };
}
