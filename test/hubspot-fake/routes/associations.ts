import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { FakeContext } from '../server.js';
import { ASSOCIATION_TYPES } from './crm-writes.js';
import { accountOf } from './shared.js';

/** GET /crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType} (crm-associations-v4.json), contacts to tickets. */
export async function associationRoutes(app: FastifyInstance, { context }: { context: FakeContext }): Promise<void> {
  app.get('/crm/v4/objects/:objectType/:objectId/associations/:toObjectType', { config: { scopes: ['tickets'] } }, async (request) => {
    const params = z.object({ objectType: z.string(), objectId: z.string(), toObjectType: z.string() }).parse(request.params);
    const account = accountOf(request, context.state);
    const pairs =
      params.objectType === 'contacts' && params.toObjectType === 'tickets'
        ? account.ticketContacts.filter(([, contactId]) => contactId === params.objectId).map(([ticketId]) => ticketId)
        : params.objectType === 'tickets' && params.toObjectType === 'contacts'
          ? account.ticketContacts.filter(([ticketId]) => ticketId === params.objectId).map(([, contactId]) => contactId)
          : [];
    return {
      results: pairs.map((id) => ({
        toObjectId: id,
        associationTypes: [{ category: 'HUBSPOT_DEFINED', typeId: params.objectType === 'tickets' ? ASSOCIATION_TYPES.ticketToContact : 15 }],
      })),
    };
  });
}
