import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';
import { databaseFault, TokenKeyMismatchError } from '../store/index.js';

/**
 * Liveness, and readiness: the database takes a write and the configured keys open the stored tokens. A failure is
 * 503 with its code and a one-line reason, in the error handler's shape.
 */
export async function healthRoutes(app: FastifyInstance, options: { checkReadiness: () => Promise<void> }): Promise<void> {
  app.get('/healthz', { config: { auth: 'public' } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { config: { auth: 'public' } }, async () => {
    try {
      await options.checkReadiness();
    } catch (error) {
      // The error handler names the known faults; anything else that stops the check still means "not ready".
      if (databaseFault(error) !== undefined || error instanceof TokenKeyMismatchError) throw error;
      throw new AppError('DATABASE_UNAVAILABLE', { message: 'The readiness check of the database failed.', cause: error });
    }
    return { status: 'ready' };
  });
}
