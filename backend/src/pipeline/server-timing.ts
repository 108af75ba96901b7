import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * `Server-Timing: hubspot;dur=…, app;dur=…` on every answer to a request whose signature verified: the time its
 * HubSpot work was pending (calls, paced or retried, and waits on calls shared with other requests; Deadline.hubspotMs)
 * and the rest, ours, in milliseconds up to the moment the answer is sent. Measured on the request's own deadline, so
 * nothing is shared between requests. Register in the signed scope, after the signed API plugin.
 */
export const serverTimingPlugin = fp(
  async (app: FastifyInstance) => {
    app.addHook('onSend', async (request, reply, payload) => {
      if (request.deadline === null) return payload;
      const total = reply.elapsedTime;
      const hubspot = Math.min(request.deadline.hubspotMs, total);
      void reply.header('server-timing', `hubspot;dur=${hubspot.toFixed(1)}, app;dur=${(total - hubspot).toFixed(1)}`);
      return payload;
    });
  },
  { name: 'server-timing', dependencies: ['signed-api'] },
);
