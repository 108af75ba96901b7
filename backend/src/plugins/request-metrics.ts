import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Metrics } from '../metrics/metrics.js';

/** Every answered request, by route pattern (never its URL), into /metrics; signed ones with their HubSpot share. */
export const requestMetricsPlugin = fp<{ metrics: Pick<Metrics, 'request'> }>(
  async (app: FastifyInstance, options) => {
    app.addHook('onResponse', async (request, reply) => {
      options.metrics.request({
        method: request.method,
        route: request.routeOptions.url,
        statusCode: reply.statusCode,
        durationMs: reply.elapsedTime,
        // Decorated in the signed scope only (pipeline/signed-api.ts): undefined elsewhere, null before the signature.
        hubspotMs: request.deadline?.hubspotMs,
      });
    });
  },
  { name: 'request-metrics' },
);
