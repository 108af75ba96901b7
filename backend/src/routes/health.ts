import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';

/** Liveness, and readiness: the database answers. */
export async function healthRoutes(app: FastifyInstance, options: { pingDatabase: () => Promise<void> }): Promise<void> {
  app.get('/healthz', { config: { auth: 'public' } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { config: { auth: 'public' } }, async (request) => {
    try {
      await options.pingDatabase();
    } catch (error) {
      request.log.error({ err: error }, 'database not reachable');
      throw new AppError('DATABASE_UNAVAILABLE', { cause: error });
    }
    return { status: 'ready' };
  });
}
