import type { FastifyInstance } from 'fastify';
import type { FakeContext } from '../server.js';
import { accountOf } from './shared.js';

/**
 * DELETE /appinstalls/2026-03/external-install: the app uninstalls itself from the token's account (DESIGN.md,
 * "Install"). Not in the shared OpenAPI specs; after it, that account's tokens stop working.
 */
export async function appInstallRoutes(app: FastifyInstance, { context }: { context: FakeContext }): Promise<void> {
  app.delete('/appinstalls/2026-03/external-install', { config: { scopes: [] } }, async (request, reply) => {
    context.state.revokeInstall(accountOf(request, context.state).portalId);
    return reply.status(204).send();
  });
}
