import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Viewer } from '../hubspot/directory.js';
import { requireIdentity } from '../plugins/signed-requests.js';

/**
 * The verified caller as HubSpot knows them. The install is checked on every request (one database read), so a
 * disconnected or broken install answers NOT_INSTALLED / INSTALL_NEEDS_REPAIR at once, even while the viewer's
 * profile is still cached.
 */
export async function signedViewer(app: FastifyInstance, request: FastifyRequest): Promise<Viewer> {
  const identity = requireIdentity(request);
  await app.tokens.accessTokenFor(identity.portalId);
  return app.directory.resolveViewer(identity.portalId, identity.userId);
}
