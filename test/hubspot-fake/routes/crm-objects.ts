import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { notFound, sendError } from '../errors.js';
import type { SeedAccount } from '../seed.js';
import type { FakeContext } from '../server.js';
import { accountOf, crmObjectPaths, SEEDED_AT } from './shared.js';
import { ticketIndex } from './ticket-index.js';

type CrmRecord = SeedAccount['tickets'][number];

/** SimplePublicObjectWithAssociations (2026-03/tickets.json, contacts.json, deals.json, companies.json; crm-tickets-v3.json): only requested properties. */
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

/** A list parameter (`properties`, `associations`) arrives repeated (a=x&a=y, as the SDK sends it) or comma-separated; HubSpot takes both. */
const listParam = z
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

/**
 * GET .../contacts/{id}?associations=tickets (2026-03/contacts.json: SimplePublicObjectWithAssociations, its
 * `associations` a CollectionResponseAssociatedId per object type). HubSpot pages associated ids past 100 (its 2020
 * changelog "Announcing a change to how v3 CRM APIs return association data", as HubSpot/hubspot-api-nodejs#29 quotes
 * it); a type the record has none of is left out ("If any of the specified associations do not exist, they will be
 * ignored"). Only a contact's tickets are served: nothing else asks for associations here.
 */
export const ASSOCIATIONS_PER_READ = 100;
function contactAssociations(account: SeedAccount, contactId: string, requested: string[] | undefined) {
  if (!(requested ?? []).includes('tickets')) return {};
  const ids = [...new Set(ticketIndex(account).associated.get(contactId))];
  if (ids.length === 0) return {};
  const shown = ids.slice(0, ASSOCIATIONS_PER_READ);
  const after = shown.at(-1) ?? '';
  const paging = ids.length > shown.length ? { paging: { next: { after, link: `?after=${after}` } } } : {};
  return { associations: { tickets: { results: shown.map((id) => ({ id, type: 'contact_to_ticket' })), ...paging } } };
}

export async function crmObjectRoutes(app: FastifyInstance, { context }: { context: FakeContext }): Promise<void> {
  for (const { path, object } of crmObjectPaths()) {
    app.get(`${path}/:${object.param}`, { config: { scopes: [...object.readScopes] } }, async (request, reply) => {
      const id = z.record(z.string(), z.string()).parse(request.params)[object.param] ?? '';
      const { properties, associations } = z.object({ properties: listParam, associations: listParam }).parse(request.query);
      const account = accountOf(request, context.state);
      const record = account[object.kind].find((candidate) => candidate.id === id);
      if (record === undefined) return sendError(reply, 404, notFound(`${object.label} ${id}`));
      return { ...publicObject(record, properties), ...(object.kind === 'contacts' ? contactAssociations(account, id, associations) : {}) };
    });
  }
}
