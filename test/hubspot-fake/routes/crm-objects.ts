import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { notFound, sendError } from '../errors.js';
import type { SeedAccount } from '../seed.js';
import type { FakeContext } from '../server.js';
import { accountOf, API_ROOTS, SEEDED_AT } from './shared.js';

type CrmRecord = SeedAccount['tickets'][number];

/** SimplePublicObjectWithAssociations (2026-03/tickets.json, contacts.json; crm-tickets-v3.json): only requested properties. */
export function publicObject(record: CrmRecord, requested: string[] | undefined) {
  const always = { hs_object_id: record.id, createdate: SEEDED_AT, hs_lastmodifieddate: SEEDED_AT };
  const names = requested ?? Object.keys(record.properties);
  // The specs type property values as strings, so an unset property is left out rather than sent as null.
  const properties = Object.fromEntries(
    names.flatMap((name) => {
      const value = record.properties[name];
      return value === undefined || value === null ? [] : [[name, value]];
    }),
  );
  return { id: record.id, properties: { ...properties, ...always }, createdAt: SEEDED_AT, updatedAt: SEEDED_AT, archived: false };
}

/** `properties` arrives repeated (properties=a&properties=b, as the SDK sends it) or comma-separated; HubSpot takes both. */
const propertiesParam = z
  .union([z.string(), z.array(z.string())])
  .optional()
  .transform((value) =>
    value === undefined
      ? undefined
      : [value]
          .flat()
          .flatMap((item) => item.split(','))
          .filter(Boolean),
  );

const OBJECTS = [
  { path: 'tickets', param: 'ticketId', label: 'Ticket', records: (account: SeedAccount) => account.tickets, readScopes: ['tickets'] },
  { path: 'contacts', param: 'contactId', label: 'Contact', records: (account: SeedAccount) => account.contacts, readScopes: ['crm.objects.contacts.read'] },
] as const;

export async function crmObjectRoutes(app: FastifyInstance, { context }: { context: FakeContext }): Promise<void> {
  for (const [root, object] of API_ROOTS.objects.flatMap((root) => OBJECTS.map((object) => [root, object] as const))) {
    app.get(`${root}/${object.path}/:${object.param}`, { config: { scopes: [...object.readScopes] } }, async (request, reply) => {
      const id = z.record(z.string(), z.string()).parse(request.params)[object.param] ?? '';
      const { properties } = z.object({ properties: propertiesParam }).parse(request.query);
      const record = object.records(accountOf(request, context.state)).find((candidate) => candidate.id === id);
      if (record === undefined) return sendError(reply, 404, notFound(`${object.label} ${id}`));
      return publicObject(record, properties);
    });
  }
}
