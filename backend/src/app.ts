import cors from '@fastify/cors';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { randomUUID } from 'node:crypto';
import type { Config } from './config.js';
import { createHubSpotApi } from './hubspot/api.js';
import { createDeadlines, type DeadlineSettings } from './hubspot/deadline.js';
import { createOAuthClient } from './hubspot/oauth.js';
import { connectInstances } from './instances/index.js';
import { createCacheRegistry } from './lib/bounded-cache.js';
import { clientErrorHandler, OneLinePerRequest } from './logging.js';
import { countingRefreshes, createMetrics } from './metrics/metrics.js';
import { createUsageTally } from './metrics/usage-tally.js';
import { HubSpotScheduler, type SchedulerOptions } from './hubspot/scheduler.js';
import { routeConfigPlugin, SIGNED_PREFIX } from './pipeline/route-config.js';
import { serverTimingPlugin } from './pipeline/server-timing.js';
import { signedApiPlugin } from './pipeline/signed-api.js';
import { errorHandlerPlugin } from './plugins/error-handler.js';
import { requestMetricsPlugin } from './plugins/request-metrics.js';
import { securityHeadersPlugin } from './plugins/security-headers.js';
import { adminRoutes } from './routes/admin.js';
import { cardRoutes } from './routes/card.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { oauthRoutes } from './routes/oauth.js';
import {
  createAuditLog,
  createCalibrationRunStore,
  createInstallationStore,
  createOAuthStateStore,
  createPolicyStore,
  createUsageDays,
  createWriteRequestStore,
  DAY_MS,
  dayOf,
  checkReadiness,
  TokenCipher,
  TokenKeyMismatchError,
  type StoreDatabase,
} from './store/index.js';
import { cacheInstallations } from './tokens/token-cache.js';
import { createTokenManager } from './tokens/token-manager.js';
import { createAccessSource } from './usecases/access-source.js';
import { createAdmin } from './usecases/admin.js';
import { createCalibration } from './usecases/calibration.js';
import { createCheckRecord } from './usecases/check-record.js';
import { createContactTickets } from './usecases/contact-tickets.js';
import { createIdentitySources } from './usecases/identity-sources.js';
import { createPipelineStages } from './usecases/pipeline-stages.js';
import { createStatistics } from './usecases/statistics.js';
import { createWrites } from './usecases/writes.js';
import { createDirectory } from './viewer/directory.js';

/** HubSpot's hubspot.fetch() payload limit is 1 MB; nothing legitimate is bigger. */
const BODY_LIMIT_BYTES = 1024 * 1024;

/** How often expired rows are deleted: audit entries past retention, write keys past the signature window. */
const PURGE_INTERVAL_MS = 10 * 60 * 1000;
/** A write key is needed while a repeat could still carry a valid signature (5 minutes, plus clock skew). */
const WRITE_KEY_RETENTION_MS = 10 * 60 * 1000;
/**
 * A write's intent still open this long after it was recorded belongs to a request that is over (hubspot.fetch gives
 * up after 15 s): its answer and audit entry were never stored. How often the sweeper looks for them.
 */
const ABANDONED_WRITE_MS = 30 * 1000;
const SWEEP_INTERVAL_MS = 10 * 1000;
/** How often each instance adds what it counted for the statistics to the database: what a crash can lose at most. */
const USAGE_FLUSH_INTERVAL_MS = 60 * 1000;
/** Stored daily counts are kept this long: the statistics show 30 days and compare them with the 30 before. */
const USAGE_RETENTION_DAYS = 90;

/** What the composition root needs from outside: configuration, an opened (migrated) database, the token key, a clock. */
export interface BackendParts {
  config: Config;
  database: StoreDatabase;
  /** The AES-256-GCM keys tokens are sealed with at rest, newest first: the newest seals, every one opens. */
  tokenKeys: readonly Buffer[];
  now?: () => number;
  /** A pino logger; none means silent (tests). */
  logger?: FastifyBaseLogger;
  /** Behind a proxy (production): trust X-Forwarded-For for the logged client address. Never used for signatures. */
  trustProxy?: boolean;
  /** Tests only: shorter budgets than hubspot/deadline.ts's DEADLINES, which production always uses. */
  deadlines?: Partial<DeadlineSettings>;
  /** Tests only: the lanes' limits when the local HubSpot is told to allow more than HubSpot does (HUBSPOT_LIMITS otherwise). */
  hubspotLimits?: SchedulerOptions['limits'];
  /** /metrics also reports Node's process metrics: once per process, so only the production entry point asks. */
  processMetrics?: boolean;
}

/**
 * The one composition root: configuration, store and clock -> HubSpot client, tokens, viewer directory, access
 * source, use cases -> one Fastify instance. `npm start`, the demo, the tests and the benchmarks all build the backend
 * here, so they run the same graph. No I/O happens until the instance listens or is injected into.
 */
export async function buildBackend(parts: BackendParts): Promise<FastifyInstance> {
  const { config, database } = parts;
  const now = parts.now ?? Date.now;
  const logger = parts.logger;
  const installUrl = `${config.publicBaseUrl}/`;

  const silent = { info: () => undefined, warn: () => undefined };
  // What the instances share beyond the database rows: the change feed their caches listen to, HubSpot's budget.
  const instances = connectInstances({ database, databaseUrl: config.databaseUrl, redisUrl: config.redisUrl, log: logger ?? silent });
  // What /metrics reports, this instance's only: its caches register here, the scheduler is read at each scrape.
  const caches = createCacheRegistry();
  const metrics = createMetrics({ caches, budgets: () => scheduler.budgets(), processMetrics: parts.processMetrics ?? false });
  // Every change to an install's tokens or status is announced on the feed; active installs are read from memory.
  const installations = cacheInstallations({
    installations: createInstallationStore(database.db, new TokenCipher(parts.tokenKeys), database.dialect, instances.feed),
    feed: instances.feed,
    refreshMarginMs: config.tokenRefreshMarginMs,
    now,
    registry: caches,
  });
  const policies = createPolicyStore(database.db, instances.feed, { registry: caches });
  const audit = createAuditLog(database.db);
  const writeRequests = createWriteRequestStore(database.db);
  const usageDays = createUsageDays(database.db);
  // The statistics' counts that the audit log does not hold, kept in memory and flushed below: no request writes them.
  const usage = createUsageTally({ store: usageDays, now });
  const deadlines = createDeadlines(parts.deadlines, now);
  // A retry or a pause is HubSpot's pacing at work (info); a call given up reaches a viewer as an error (warn).
  const scheduler = new HubSpotScheduler({
    now,
    ...(parts.hubspotLimits === undefined ? {} : { limits: parts.hubspotLimits }),
    budget: instances.budget,
    onEvent: (event) => {
      metrics.schedulerEvent(event);
      if (event.type === 'gave_up') logger?.warn({ ...event }, 'hubspot call given up');
      else logger?.info({ ...event }, 'hubspot call delayed');
    },
    onAttempt: (attempt) => {
      metrics.hubspotAttempt(attempt);
      usage.hubspotAttempt(attempt);
    },
  });
  const oauth = createOAuthClient({
    apiBaseUrl: config.hubspot.apiBaseUrl,
    clientId: config.hubspot.clientId,
    clientSecret: config.hubspot.clientSecret,
    scheduler,
    deadlines,
  });
  const tokens = createTokenManager({
    installations,
    oauth: countingRefreshes(oauth, metrics),
    refreshMarginMs: config.tokenRefreshMarginMs,
    now,
    log: logger ?? silent,
  });
  const hubspot = createHubSpotApi({
    apiBaseUrl: config.hubspot.apiBaseUrl,
    scheduler,
    getToken: (portalId, deadline) => tokens.accessTokenFor(portalId, deadline),
    // A token HubSpot refuses is dropped from memory and the row read again (it may have changed where no feed could
    // tell us); the same token again means the refusal stands.
    async renewToken(portalId, refused, deadline) {
      installations.refused(portalId, refused);
      const token = await tokens.accessTokenFor(portalId, deadline);
      return token === refused ? undefined : token;
    },
  });
  const directory = createDirectory({ ttlMs: config.viewerCacheTtlMs, now, registry: caches });
  const pipelines = createPipelineStages({ now, registry: caches });
  const access = createAccessSource({ mode: config.accessSource, directory, policies, now, registry: caches });
  const identitySources = createIdentitySources({ now });

  const app = Fastify({
    ...(logger === undefined ? { logger: false } : { loggerInstance: logger }),
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId: () => randomUUID(),
    logController: new OneLinePerRequest(),
    requestIdHeader: false,
    trustProxy: parts.trustProxy ?? false,
    clientErrorHandler,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  await app.register(routeConfigPlugin, { operatorToken: config.metricsToken });
  await app.register(errorHandlerPlugin, {
    installUrl,
    recordRefusal: (entry) => audit.record(entry, new Date(now())),
    onErrorAnswer: metrics.errorAnswer,
  });
  await app.register(requestMetricsPlugin, { metrics });
  await app.register(securityHeadersPlugin, { publicBaseUrl: config.publicBaseUrl });
  // Card calls arrive server-to-server through HubSpot and need no CORS; any other browser origin is refused.
  await app.register(cors, { origin: config.corsOrigins.length > 0 ? config.corsOrigins : false });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-correlation-id', request.id);
  });

  app.decorate('checkRecord', createCheckRecord({ access, directory, pipelines }));
  app.decorate('listContactTickets', createContactTickets({ access, pipelines }));
  app.decorate('writes', createWrites({ access, pipelines, now }));
  app.decorate('statistics', createStatistics({ audit, usage: usageDays, tally: usage, now }));
  const calibration = createCalibration({
    runs: createCalibrationRunStore(database.db),
    policies,
    audit,
    hubspot,
    now,
    budgetShare: config.calibration.budgetShare,
    intervalMs: config.calibration.intervalMs,
    log: { error: (details, message) => logger?.error(details, message) },
  });
  app.decorate('calibration', calibration);
  app.decorate(
    'admin',
    createAdmin({
      calibration,
      access,
      directory,
      installations,
      policies,
      audit,
      now,
      scopes: { required: config.hubspot.requiredScopes, optional: config.hubspot.optionalScopes },
      accessSource: config.accessSource,
      identitySources,
      installUrl,
    }),
  );

  // Retention: at start, then every few minutes. Writes whose request ended without storing their outcome: audited as
  // unknown from the database's own record of them (their intent), at start and then often.
  async function purge() {
    try {
      const removed = await audit.purgeOlderThan(new Date(now() - config.auditRetentionMs));
      if (removed > 0) logger?.info({ removed }, 'audit entries past retention deleted');
      await writeRequests.purgeOlderThan(new Date(now() - WRITE_KEY_RETENTION_MS));
      await usageDays.purgeBefore(dayOf(now()) - USAGE_RETENTION_DAYS * DAY_MS);
    } catch (error) {
      logger?.error({ err: error }, 'retention purge failed');
    }
  }
  // Before serving: the keys must open the stored tokens (a start with a changed key stops here, in one line), and
  // tokens sealed with an older key are sealed again with the newest in one pass.
  app.addHook('onReady', async () => {
    const tokens = await installations.checkTokens({ reseal: true });
    if (tokens.checked > 0 && tokens.unreadable === tokens.checked) throw new TokenKeyMismatchError(tokens.checked);
    if (tokens.unreadable > 0) {
      logger?.warn(
        { unreadable: tokens.unreadable, checked: tokens.checked },
        'some installs cannot be opened with TOKEN_ENCRYPTION_KEYS: their accounts answer ENCRYPTION_KEY_MISMATCH until the key they were sealed with is listed or a Super Admin reinstalls',
      );
    }
    logger?.info(
      { checked: tokens.checked, resealed: tokens.resealed },
      'stored install tokens opened; those sealed with an older key were sealed again with the newest',
    );
    if (tokens.resealFailure !== undefined) {
      logger?.warn({ err: tokens.resealFailure }, 'tokens sealed with an older key could not be rewritten now; each is rewritten when next read');
    }
  });
  async function closeAbandonedWrites() {
    try {
      const closed = await writeRequests.closeAbandoned(new Date(now() - ABANDONED_WRITE_MS), new Date(now()));
      if (closed > 0) logger?.warn({ closed }, 'writes whose outcome was never stored audited as unknown');
    } catch (error) {
      logger?.error({ err: error }, 'closing abandoned writes failed; the next sweep tries again');
    }
  }
  async function flushUsage() {
    try {
      const { dropped } = await usage.flush();
      if (dropped > 0) logger?.warn({ dropped }, 'statistics counts dropped while the database refused them');
    } catch (error) {
      logger?.error({ err: error }, 'storing the statistics counts failed; they are kept for the next flush');
    }
  }
  // One job at a time, and onClose waits for the running one: none ever meets a closed database.
  let running = Promise.resolve();
  const run = (job: () => Promise<void>) => (running = running.then(job));
  const timers: NodeJS.Timeout[] = [];
  app.addHook('onReady', async () => {
    for (const [job, everyMs] of [
      [purge, PURGE_INTERVAL_MS],
      [closeAbandonedWrites, SWEEP_INTERVAL_MS],
      [flushUsage, USAGE_FLUSH_INTERVAL_MS],
    ] as const) {
      await run(job);
      // The timers never keep the process alive.
      timers.push(setInterval(() => void run(job), everyMs).unref());
    }
  });
  app.addHook('onClose', async () => {
    for (const timer of timers) clearInterval(timer);
    // What was counted since the last flush is stored on a clean close, not lost with the process.
    await run(flushUsage);
  });
  app.addHook('onReady', () => instances.start());
  app.addHook('onClose', () => instances.close());
  // Added last, so it starts after everything it calls on is ready and stops first (Fastify runs onClose hooks last-added
  // first): a run in progress ends at its next step, recorded as interrupted, before the final flush counts its calls and
  // before the change feed and the database close.
  app.addHook('onReady', async () => calibration.startSchedule());
  app.addHook('onClose', () => calibration.stop());

  await app.register(healthRoutes, { checkReadiness: () => checkReadiness(database.db, installations, new Date(now())) });
  await app.register(metricsRoutes, { metrics });
  await app.register(oauthRoutes, { config, oauth, installations, states: createOAuthStateStore(database.db), hubspot, deadlines, now });
  await app.register(
    async (api) => {
      await api.register(signedApiPlugin, {
        clientSecret: config.hubspot.clientSecret,
        publicBaseUrl: config.publicBaseUrl,
        appId: config.hubspot.appId,
        allowCardIdentity: config.allowCardIdentity,
        recordIdentitySource: (portalId, source) => identitySources.record(portalId, source),
        now,
        bodyLimitBytes: BODY_LIMIT_BYTES,
        writeRequests,
        deadlines,
        async resolveViewer(identity, deadline) {
          // The installation is read once here, from memory or its row (NOT_INSTALLED / INSTALL_NEEDS_REPAIR at once, even
          // for a cached viewer: the token cache drops an install on any change to it), and its token serves every
          // HubSpot call of this request, all within the request's deadline.
          // The viewer's HubSpot calls use the viewer's fair share of the account's rate limit.
          const token = await tokens.accessTokenFor(identity.portalId, deadline);
          const portal = hubspot.forPortal(identity.portalId, { deadline, token, userId: identity.userId });
          return { viewer: await directory.resolveViewer(portal, identity.userId), portal };
        },
      });
      await api.register(serverTimingPlugin);
      api.addHook('onResponse', async (request, reply) => {
        if (request.routeOptions.config.countsAs === 'view-allowed' && reply.statusCode < 300 && request.identity) usage.viewAllowed(request.identity.portalId);
      });
      await api.register(cardRoutes);
      await api.register(adminRoutes, { prefix: '/admin' });
    },
    { prefix: `${SIGNED_PREFIX}v1` },
  );
  return app;
}
