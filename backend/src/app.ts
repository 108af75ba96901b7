import cookie from '@fastify/cookie';
import cors from '@fastify/cors';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { LoggerOptions } from 'pino';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { randomUUID } from 'node:crypto';
import type { Config } from './config.js';
import { createHubSpotApi } from './hubspot/api.js';
import { createOAuthClient } from './hubspot/oauth.js';
import { HubSpotScheduler } from './hubspot/scheduler.js';
import { routeConfigPlugin, SIGNED_PREFIX } from './pipeline/route-config.js';
import { signedApiPlugin } from './pipeline/signed-api.js';
import { errorHandlerPlugin } from './plugins/error-handler.js';
import { adminRoutes } from './routes/admin.js';
import { cardRoutes } from './routes/card.js';
import { healthRoutes } from './routes/health.js';
import { oauthRoutes } from './routes/oauth.js';
import { createAuditLog, createInstallationStore, createPolicyStore, pingDatabase, TokenCipher, type StoreDatabase } from './store/index.js';
import { createTokenManager } from './tokens/token-manager.js';
import { createAccessSource } from './usecases/access-source.js';
import { createAdmin } from './usecases/admin.js';
import { createCheckRecord } from './usecases/check-record.js';
import { createContactTickets } from './usecases/contact-tickets.js';
import { createWrites } from './usecases/writes.js';
import { createDirectory } from './viewer/directory.js';

/** HubSpot's hubspot.fetch() payload limit is 1 MB; nothing legitimate is bigger. */
const BODY_LIMIT_BYTES = 1024 * 1024;

/** Per-attempt limit on a HubSpot call; with retries it stays inside hubspot.fetch's 15 s budget. */
const HUBSPOT_REQUEST_TIMEOUT_MS = 5_000;

export function loggerOptions(level: Config['logLevel']): LoggerOptions {
  return {
    level,
    redact: {
      // Signatures, cookies and bearer tokens never reach the logs; the request serializer below drops query values.
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'req.headers["x-hubspot-signature-v3"]',
        'req.headers["x-hubspot-signature"]',
        'res.headers["set-cookie"]',
      ],
      censor: '[redacted]',
    },
    serializers: {
      req(request: { method: string; url: string; id: string }) {
        // The OAuth callback carries a one-time code in its query string: log paths, not query values.
        return { method: request.method, path: request.url.split('?')[0], id: request.id };
      },
    },
  };
}

/** What the composition root needs from outside: configuration, an opened (migrated) database, the token key, a clock. */
export interface BackendParts {
  config: Config;
  database: StoreDatabase;
  /** The AES-256-GCM key tokens are encrypted with at rest. */
  tokenKey: Buffer;
  now?: () => number;
  /** A pino logger; none means silent (tests). */
  logger?: FastifyBaseLogger;
  /** Behind a proxy (production): trust X-Forwarded-For for the logged client address. Never used for signatures. */
  trustProxy?: boolean;
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

  const installations = createInstallationStore(database.db, new TokenCipher(parts.tokenKey), database.dialect);
  const policies = createPolicyStore(database.db);
  const audit = createAuditLog(database.db);
  const scheduler = new HubSpotScheduler({ now, onEvent: (event) => logger?.warn({ ...event }, 'hubspot call delayed') });
  const oauth = createOAuthClient({ apiBaseUrl: config.hubspot.apiBaseUrl, clientId: config.hubspot.clientId, clientSecret: config.hubspot.clientSecret, scheduler });
  const tokens = createTokenManager({
    installations,
    oauth,
    refreshMarginMs: config.tokenRefreshMarginMs,
    now,
    log: logger ?? { info: () => undefined, warn: () => undefined },
  });
  const hubspot = createHubSpotApi({ apiBaseUrl: config.hubspot.apiBaseUrl, scheduler, getToken: (portalId) => tokens.accessTokenFor(portalId), requestTimeoutMs: HUBSPOT_REQUEST_TIMEOUT_MS });
  const directory = createDirectory({ ttlMs: config.viewerCacheTtlMs, now });
  const access = createAccessSource({ mode: config.accessSource, directory, policies, now });

  const app = Fastify({
    ...(logger === undefined ? { logger: false } : { loggerInstance: logger }),
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    trustProxy: parts.trustProxy ?? false,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  await app.register(routeConfigPlugin);
  await app.register(errorHandlerPlugin, { installUrl, recordRefusal: (entry) => audit.record(entry, new Date(now())) });
  await app.register(cookie);
  // Card calls arrive server-to-server through HubSpot and need no CORS; any other browser origin is refused.
  await app.register(cors, { origin: config.corsOrigins.length > 0 ? config.corsOrigins : false });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-correlation-id', request.id);
  });

  app.decorate('checkRecord', createCheckRecord({ access, directory }));
  app.decorate('listContactTickets', createContactTickets({ access }));
  app.decorate('writes', createWrites({ access, audit, now }));
  app.decorate(
    'admin',
    createAdmin({
      access,
      directory,
      installations,
      policies,
      audit,
      now,
      scopes: { required: config.hubspot.requiredScopes, optional: config.hubspot.optionalScopes },
      accessSource: config.accessSource,
      installUrl,
    }),
  );

  await app.register(healthRoutes, { pingDatabase: () => pingDatabase(database.db) });
  await app.register(oauthRoutes, { config, oauth, installations, hubspot, now });
  await app.register(
    async (api) => {
      await api.register(signedApiPlugin, {
        clientSecret: config.hubspot.clientSecret,
        publicBaseUrl: config.publicBaseUrl,
        appId: config.hubspot.appId,
        now,
        bodyLimitBytes: BODY_LIMIT_BYTES,
        async resolveViewer(identity) {
          // The installation is read once here (NOT_INSTALLED / INSTALL_NEEDS_REPAIR at once, even for a cached
          // viewer), and its token serves every HubSpot call of this request.
          // The viewer's HubSpot calls use the viewer's fair share of the account's rate limit.
          const portal = hubspot.forPortal(identity.portalId, await tokens.accessTokenFor(identity.portalId), identity.userId);
          return { viewer: await directory.resolveViewer(portal, identity.userId), portal };
        },
      });
      await api.register(cardRoutes);
      await api.register(adminRoutes, { prefix: '/admin' });
    },
    { prefix: `${SIGNED_PREFIX}v1` },
  );
  return app;
}
