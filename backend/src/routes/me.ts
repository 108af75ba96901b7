import type { FastifyInstance } from 'fastify';
import { signedViewer } from './viewer.js';

/** The verified viewer as HubSpot knows them: proves the signature, the install token and the user lookup work. */
export async function meRoutes(app: FastifyInstance): Promise<void> {
  app.get('/me', async (request) => {
    const viewer = await signedViewer(app, request);
    return {
      portalId: viewer.portalId,
      userId: viewer.userId,
      email: viewer.email,
      firstName: viewer.firstName ?? null,
      lastName: viewer.lastName ?? null,
      superAdmin: viewer.superAdmin,
      ownerId: viewer.ownerId,
      roleIds: viewer.roleIds,
      teams: viewer.teams,
    };
  });
}
