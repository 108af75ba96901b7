import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { viewerOf, writerOf } from '../pipeline/signed-api.js';
import type { createCheckRecord } from '../usecases/check-record.js';
import type { createContactTickets } from '../usecases/contact-tickets.js';
import type { Writes } from '../usecases/writes.js';
import { contactTicketsResponse, meResponse, noteWriteResponse, recordAccessResponse, recordWriteResponse, ticketWriteResponse } from './responses.js';
import { objectType, pageCursor, recordCardType, recordId } from './schemas.js';

declare module 'fastify' {
  interface FastifyInstance {
    checkRecord: ReturnType<typeof createCheckRecord>;
    listContactTickets: ReturnType<typeof createContactTickets>;
    writes: Writes;
  }
}

const ticketParams = z.object({ id: recordId });
const noteBody = z.object({ body: z.string().trim().min(1, 'must not be empty').max(10_000) });

/** The card API: each route parses, calls one use case with the verified viewer, and returns its answer. */
export async function cardRoutes(root: FastifyInstance): Promise<void> {
  const app = root.withTypeProvider<ZodTypeProvider>();

  app.get('/me', { config: { auth: 'viewer' }, schema: { response: { 200: meResponse } } }, async (request) => {
    const { viewer } = viewerOf(request);
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

  app.get(
    '/records/:objectType/:id/access',
    { config: { auth: 'viewer' }, schema: { params: z.object({ objectType, id: recordId }), response: { 200: recordAccessResponse } } },
    async (request) => root.checkRecord(viewerOf(request), request.params),
  );

  app.get(
    '/contacts/:id/tickets',
    {
      config: { auth: 'viewer' },
      schema: { params: z.object({ id: recordId }), querystring: z.object({ after: pageCursor.optional() }), response: { 200: contactTicketsResponse } },
    },
    async (request) => root.listContactTickets(viewerOf(request), request.params.id, request.query.after),
  );

  app.post(
    '/tickets/:id/assign-to-me',
    { config: { auth: 'viewer', write: 'assign-to-me' }, schema: { params: ticketParams, response: { 200: ticketWriteResponse } } },
    async (request) => root.writes.assignToMe(writerOf(request), request.params.id),
  );

  app.post(
    '/tickets/:id/stage',
    {
      config: { auth: 'viewer', write: 'move-stage' },
      schema: { params: ticketParams, body: z.object({ stageId: z.string().min(1).max(64) }), response: { 200: ticketWriteResponse } },
    },
    async (request) => root.writes.moveStage(writerOf(request), request.params.id, request.body.stageId),
  );

  app.post(
    '/tickets/:id/notes',
    {
      config: { auth: 'viewer', write: 'add-note', creates: true },
      schema: {
        params: ticketParams,
        body: noteBody,
        response: { 200: noteWriteResponse },
      },
    },
    async (request) => root.writes.addNote(writerOf(request), 'tickets', request.params.id, request.body.body),
  );

  // The record card's actions, for every object type marked `recordCard` in access/model.ts (deals, companies).
  const recordParams = z.object({ objectType: recordCardType, id: recordId });
  app.post(
    '/records/:objectType/:id/assign-to-me',
    { config: { auth: 'viewer', write: 'assign-to-me' }, schema: { params: recordParams, response: { 200: recordWriteResponse } } },
    async (request) => root.writes.assignRecordToMe(writerOf(request), request.params.objectType, request.params.id),
  );

  app.post(
    '/records/:objectType/:id/notes',
    {
      config: { auth: 'viewer', write: 'add-note', creates: true },
      schema: { params: recordParams, body: noteBody, response: { 200: noteWriteResponse } },
    },
    async (request) => root.writes.addNote(writerOf(request), request.params.objectType, request.params.id, request.body.body),
  );

  app.post(
    '/contacts/:id/tickets',
    {
      config: { auth: 'viewer', write: 'create-ticket', creates: true },
      schema: {
        params: z.object({ id: recordId }),
        body: z.object({
          subject: z.string().trim().min(1, 'must not be empty').max(255),
          content: z.string().max(10_000).optional(),
          priority: z.enum(['LOW', 'MEDIUM', 'HIGH']).optional(),
        }),
        response: { 200: ticketWriteResponse },
      },
    },
    async (request) => root.writes.createTicket(writerOf(request), request.params.id, request.body),
  );
}
