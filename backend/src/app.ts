import cookie from '@fastify/cookie';
import cors from '@fastify/cors';
import formbody from '@fastify/formbody';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { randomUUID } from 'node:crypto';
import type { Config } from './config.js';
import type { Directory } from './hubspot/directory.js';
import type { HubSpotApi } from './hubspot/api.js';
import type { OAuthClient } from './hubspot/oauth.js';
import { clientErrorHandler } from './logging.js';
import { errorHandlerPlugin } from './plugins/error-handler.js';
import { securityHeadersPlugin } from './plugins/security-headers.js';
import { signedRequestsPlugin } from './plugins/signed-requests.js';
import { healthRoutes } from './routes/health.js';
import { meRoutes } from './routes/me.js';
import { oauthRoutes } from './routes/oauth.js';
import type { AccessService } from './guard/access-service.js';
import type { RecordGuard } from './guard/record-guard.js';
import { adminRoutes } from './routes/admin.js';
import { cardRoutes } from './routes/card.js';
import type { AuditLog, InstallationStore, OAuthStateStore, PolicyStore } from './store/index.js';
import type { TokenManager } from './tokens/token-manager.js';

/** Everything the HTTP layer needs, built by services.ts (or by a test) and handed in: no I/O at import time. */
export interface AppDeps {
  config: Config;
  installations: InstallationStore;
  oauthStates: OAuthStateStore;
  pingDatabase: () => Promise<void>;
  oauth: OAuthClient;
  tokens: TokenManager;
  hubspot: HubSpotApi;
  directory: Directory;
  policies: PolicyStore;
  audit: AuditLog;
  access: AccessService;
  guard: RecordGuard;
  now: () => number;
}

declare module 'fastify' {
  // Every dependency is a decorator of the same name (see buildApp), typed once through AppDeps.
  interface FastifyInstance extends AppDeps {}
}

/** HubSpot's hubspot.fetch() payload limit is 1 MB; nothing legitimate is bigger. */
const BODY_LIMIT_BYTES = 1024 * 1024;

export async function buildApp(
  deps: AppDeps,
  options: { logger?: FastifyBaseLogger; trustProxy?: boolean } = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.logger === undefined ? { logger: false } : { loggerInstance: options.logger }),
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    trustProxy: options.trustProxy ?? false,
    clientErrorHandler,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  for (const [name, value] of Object.entries(deps)) app.decorate(name, value);

  await app.register(errorHandlerPlugin);
  await app.register(securityHeadersPlugin, { publicBaseUrl: deps.config.publicBaseUrl });
  await app.register(cookie);
  await app.register(formbody);
  // Card calls arrive server-to-server through HubSpot and need no CORS; any other browser origin is refused.
  await app.register(cors, { origin: deps.config.corsOrigins.length > 0 ? deps.config.corsOrigins : false });

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-correlation-id', request.id);
  });

  await app.register(healthRoutes);
  await app.register(oauthRoutes);
  await app.register(
    async (api) => {
      await api.register(signedRequestsPlugin, {
        clientSecret: deps.config.hubspot.clientSecret,
        publicBaseUrl: deps.config.publicBaseUrl,
        appId: deps.config.hubspot.appId,
        now: deps.now,
      });
      await api.register(meRoutes);
      await api.register(cardRoutes);
      await api.register(adminRoutes, { prefix: '/admin' });
    },
    { prefix: '/api/v1' },
  );
  return app;
}
