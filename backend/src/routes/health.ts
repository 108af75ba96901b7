import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';

export async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (request) => {
    try {
      await app.pingDatabase();
    } catch (error) {
      request.log.error({ err: error }, 'database not reachable');
      throw new AppError('DATABASE_UNAVAILABLE', { cause: error });
    }
    return { status: 'ready' };
  });
}
