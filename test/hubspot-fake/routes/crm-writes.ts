import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { errorBody, notFound, sendError } from '../errors.js';
import type { FakeContext } from '../server.js';
import { publicObject } from './crm-objects.js';
import { accountOf, API_ROOTS } from './shared.js';

/**
 * HubSpot-defined association type ids (HubSpot docs, "Associations v4 > association type IDs"):
 * ticket to contact 16, note to ticket 228.
 */
export const ASSOCIATION_TYPES = { ticketToContact: 16, noteToTicket: 228 } as const;

const propertiesSchema = z.record(z.string(), z.string());
const associationsSchema = z
  .array(z.object({ to: z.object({ id: z.string() }), types: z.array(z.object({ associationCategory: z.string(), associationTypeId: z.number().int() })) }))
  .default([]);

export async function crmWriteRoutes(app: FastifyInstance, { context }: { context: FakeContext }): Promise<void> {
  const { state } = context;

  for (const root of API_ROOTS.objects) {
    // PATCH {root}/tickets/{ticketId} (2026-03/tickets.json, SimplePublicObjectInput).
    app.patch(`${root}/tickets/:ticketId`, { config: { scopes: ['tickets'] } }, async (request, reply) => {
      const { ticketId } = z.object({ ticketId: z.string() }).parse(request.params);
      const body = z.object({ properties: propertiesSchema }).safeParse(request.body);
      if (!body.success) return sendError(reply, 400, errorBody('VALIDATION_ERROR', 'Invalid input: properties is required.'));
      const account = accountOf(request, state);
      const ticket = account.tickets.find((candidate) => candidate.id === ticketId);
      if (ticket === undefined) return sendError(reply, 404, notFound(`Ticket ${ticketId}`));
      const stage = body.data.properties.hs_pipeline_stage;
      const pipeline = account.ticketPipelines.find((candidate) => candidate.id === (body.data.properties.hs_pipeline ?? ticket.properties.hs_pipeline));
      if (stage !== undefined && !pipeline?.stages.some((candidate) => candidate.id === stage)) {
        return sendError(
          reply,
          400,
          errorBody('VALIDATION_ERROR', `Property values were not valid: hs_pipeline_stage ${stage} is not a stage of the pipeline.`),
        );
      }
      Object.assign(ticket.properties, body.data.properties);
      return publicObject(ticket, undefined);
    });

    // POST {root}/tickets (SimplePublicObjectInputForCreate: properties and associations).
    app.post(`${root}/tickets`, { config: { scopes: ['tickets'] } }, async (request, reply) => {
      const body = z.object({ properties: propertiesSchema, associations: associationsSchema }).safeParse(request.body);
      if (!body.success || body.data.properties.subject === undefined) {
        return sendError(reply, 400, errorBody('VALIDATION_ERROR', 'Invalid input: subject, hs_pipeline and hs_pipeline_stage are required.'));
      }
      const account = accountOf(request, state);
      const ticket = { id: state.nextId(), properties: { ...body.data.properties } };
      account.tickets.push(ticket);
      for (const association of body.data.associations) {
        if (association.types.some((type) => type.associationTypeId === ASSOCIATION_TYPES.ticketToContact)) {
          account.ticketContacts.push([ticket.id, association.to.id]);
        }
      }
      return reply.status(201).send(publicObject(ticket, undefined));
    });

    // POST {root}/notes (2026-03/notes.json): hs_note_body and hs_timestamp, associated to a ticket.
    app.post(`${root}/notes`, { config: { scopes: ['tickets', 'crm.objects.contacts.write'] } }, async (request, reply) => {
      const body = z.object({ properties: propertiesSchema, associations: associationsSchema }).safeParse(request.body);
      if (!body.success || body.data.properties.hs_note_body === undefined || body.data.properties.hs_timestamp === undefined) {
        return sendError(reply, 400, errorBody('VALIDATION_ERROR', 'Invalid input: hs_note_body and hs_timestamp are required.'));
      }
      const account = accountOf(request, state);
      const ticketIds = body.data.associations
        .filter((association) => association.types.some((type) => type.associationTypeId === ASSOCIATION_TYPES.noteToTicket))
        .map((association) => association.to.id);
      const note = {
        portalId: account.portalId,
        id: state.nextId(),
        body: body.data.properties.hs_note_body,
        ticketIds,
        ownerId: body.data.properties.hubspot_owner_id ?? null,
      };
      state.notes.push(note);
      return reply.status(201).send(publicObject({ id: note.id, properties: body.data.properties }, undefined));
    });
  }
}
