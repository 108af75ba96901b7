import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { errorBody, notFound, sendError } from '../errors.js';
import type { ObjectKind } from '../permissions.js';
import type { FakeContext } from '../server.js';
import { publicObject } from './crm-objects.js';
import { accountOf, API_ROOTS, crmObjectPaths } from './shared.js';

/**
 * HubSpot-defined association type ids (HubSpot docs, "Associations v4 > association type IDs"): ticket to contact 16;
 * from a note to a ticket 228, a deal 214, a company 190, a contact 202.
 */
export const ASSOCIATION_TYPES = { ticketToContact: 16, noteToTicket: 228 } as const;
const NOTE_TO: ReadonlyArray<readonly [number, ObjectKind]> = [
  [ASSOCIATION_TYPES.noteToTicket, 'tickets'],
  [214, 'deals'],
  [190, 'companies'],
  [202, 'contacts'],
];

const propertiesSchema = z.record(z.string(), z.string());
const associationsSchema = z
  .array(z.object({ to: z.object({ id: z.string() }), types: z.array(z.object({ associationCategory: z.string(), associationTypeId: z.number().int() })) }))
  .default([]);

export async function crmWriteRoutes(app: FastifyInstance, { context }: { context: FakeContext }): Promise<void> {
  const { state } = context;

  // PATCH {root}/{object}/{id} (each object's 2026-03 spec, SimplePublicObjectInput); a ticket's stage must be one of its pipeline's.
  for (const { path, object } of crmObjectPaths()) {
    app.patch(`${path}/:${object.param}`, { config: { scopes: [...object.writeScopes] } }, async (request, reply) => {
      const id = z.record(z.string(), z.string()).parse(request.params)[object.param] ?? '';
      const body = z.object({ properties: propertiesSchema }).safeParse(request.body);
      if (!body.success) return sendError(reply, 400, errorBody('VALIDATION_ERROR', 'Invalid input: properties is required.'));
      const account = accountOf(request, state);
      const record = account[object.kind].find((candidate) => candidate.id === id);
      if (record === undefined) return sendError(reply, 404, notFound(`${object.label} ${id}`));
      const stage = object.kind === 'tickets' ? body.data.properties.hs_pipeline_stage : undefined;
      const pipeline = account.ticketPipelines.find((candidate) => candidate.id === (body.data.properties.hs_pipeline ?? record.properties.hs_pipeline));
      if (stage !== undefined && !pipeline?.stages.some((candidate) => candidate.id === stage)) {
        return sendError(
          reply,
          400,
          errorBody('VALIDATION_ERROR', `Property values were not valid: hs_pipeline_stage ${stage} is not a stage of the pipeline.`),
        );
      }
      Object.assign(record.properties, body.data.properties);
      return publicObject(record, undefined);
    });
  }

  for (const root of API_ROOTS.objects) {
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

    // POST {root}/notes (2026-03/notes.json): hs_note_body and hs_timestamp, associated to tickets, deals, companies or contacts.
    app.post(`${root}/notes`, { config: { scopes: ['tickets', 'crm.objects.contacts.write'] } }, async (request, reply) => {
      const body = z.object({ properties: propertiesSchema, associations: associationsSchema }).safeParse(request.body);
      if (!body.success || body.data.properties.hs_note_body === undefined || body.data.properties.hs_timestamp === undefined) {
        return sendError(reply, 400, errorBody('VALIDATION_ERROR', 'Invalid input: hs_note_body and hs_timestamp are required.'));
      }
      const account = accountOf(request, state);
      const records = body.data.associations.flatMap((association) =>
        NOTE_TO.filter(([typeId]) => association.types.some((type) => type.associationTypeId === typeId)).map(([, kind]) => ({ kind, id: association.to.id })),
      );
      const note = {
        portalId: account.portalId,
        id: state.nextId(),
        body: body.data.properties.hs_note_body,
        ticketIds: records.filter((record) => record.kind === 'tickets').map((record) => record.id),
        records,
        ownerId: body.data.properties.hubspot_owner_id ?? null,
      };
      state.notes.push(note);
      return reply.status(201).send(publicObject({ id: note.id, properties: body.data.properties }, undefined));
    });
  }
}
