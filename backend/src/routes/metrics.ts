import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics/metrics.js';

/**
 * GET /metrics, Prometheus' text format, for the backend's operator only (`auth: 'operator'`: the bearer token in
 * METRICS_TOKEN, checked by pipeline/route-config.ts; without it the path answers 404 like any unknown one).
 */
export async function metricsRoutes(app: FastifyInstance, options: { metrics: Pick<Metrics, 'text' | 'contentType'> }): Promise<void> {
  app.get('/metrics', { config: { auth: 'operator' } }, async (_request, reply) => {
    const text = await options.metrics.text();
    return reply.header('cache-control', 'no-store').type(options.metrics.contentType).send(text);
  });
}
