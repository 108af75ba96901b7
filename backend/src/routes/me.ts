import type { FastifyInstance } from 'fastify';
import { requireIdentity } from '../plugins/signed-requests.js';

/** The verified viewer as HubSpot knows them: proves the signature, the install token and the user lookup work. */
export async function meRoutes(app: FastifyInstance): Promise<void> {
  app.get('/me', async (request) => {
    const identity = requireIdentity(request);
    const viewer = await app.directory.resolveViewer(identity.portalId, identity.userId);
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
