import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { errorBody, sendError } from '../errors.js';
import type { ObjectKind } from '../permissions.js';
import type { SeedAccount } from '../seed.js';
import type { FakeContext } from '../server.js';
import { publicObject } from './crm-objects.js';
import { accountOf, crmObjectPaths } from './shared.js';
import { ticketIndex, type TicketIndex } from './ticket-index.js';

/**
 * CRM search with HubSpot's semantics: filters in a group are ANDed, groups are ORed. Limits from HubSpot's
 * changelog "Expanded filtering capabilities ... in HubSpot's Search API" (2024-08-26): at most 5 filter groups,
 * 10 filters per group, 25 filters in all; page size up to 200 (PublicObjectSearchRequest.limit in
 * crm-tickets-v3.json). The cap of 100 values per IN filter is an assumption (not found in HubSpot's docs here).
 */
export const SEARCH_LIMITS = { groups: 5, filtersPerGroup: 10, filters: 25, inValues: 100, pageSize: 200 };

const filterSchema = z.object({
  propertyName: z.string(),
  operator: z.enum(['EQ', 'NEQ', 'IN', 'NOT_IN', 'HAS_PROPERTY', 'NOT_HAS_PROPERTY']),
  value: z.string().optional(),
  values: z.array(z.string()).optional(),
});
const searchSchema = z.object({
  filterGroups: z.array(z.object({ filters: z.array(filterSchema) })).default([]),
  properties: z.array(z.string()).optional(),
  limit: z.number().int().min(1).max(SEARCH_LIMITS.pageSize).default(10),
  after: z.string().regex(/^\d+$/).optional(),
});
type Filter = z.infer<typeof filterSchema>;
type CrmRecord = SeedAccount['tickets'][number];
type ContactOf = (ticketId: string) => string | null;

/** The records a search can match: a named contact's tickets when every group names one, else every record. */
function candidates(account: SeedAccount, kind: ObjectKind, groups: Array<{ filters: Filter[] }>, index: TicketIndex): CrmRecord[] {
  const contacts = groups.map((group) => group.filters.find((filter) => filter.propertyName === 'associations.contact' && filter.operator === 'EQ')?.value);
  if (kind !== 'tickets' || groups.length === 0 || contacts.some((contact) => contact === undefined)) return account[kind];
  return [...new Set(contacts.flatMap((contact) => index.byFirstContact.get(contact ?? '') ?? []))];
}

function valueOf(kind: ObjectKind, record: CrmRecord, property: string, contactOf: ContactOf): string | null {
  // `associations.contact` is HubSpot's pseudo-property for "associated with this contact".
  if (property === 'associations.contact' && kind === 'tickets') return contactOf(record.id);
  if (property === 'hs_object_id') return record.id;
  const value = record.properties[property];
  return value === undefined || value === '' ? null : value;
}

function matches(kind: ObjectKind, record: CrmRecord, filter: Filter, contactOf: ContactOf): boolean {
  const value = valueOf(kind, record, filter.propertyName, contactOf);
  switch (filter.operator) {
    case 'EQ':
      return value !== null && value === filter.value;
    case 'NEQ':
      return value !== filter.value;
    case 'IN':
      return value !== null && (filter.values ?? []).includes(value);
    case 'NOT_IN':
      return value === null || !(filter.values ?? []).includes(value);
    case 'HAS_PROPERTY':
      return value !== null;
    case 'NOT_HAS_PROPERTY':
      return value === null;
  }
}

function limitProblem(groups: Array<{ filters: Filter[] }>): string | undefined {
  if (groups.length > SEARCH_LIMITS.groups) return `Too many filter groups (${groups.length}); the limit is ${SEARCH_LIMITS.groups}.`;
  if (groups.some((group) => group.filters.length > SEARCH_LIMITS.filtersPerGroup))
    return `A filter group has more than ${SEARCH_LIMITS.filtersPerGroup} filters.`;
  if (groups.reduce((sum, group) => sum + group.filters.length, 0) > SEARCH_LIMITS.filters) return `More than ${SEARCH_LIMITS.filters} filters in total.`;
  if (groups.some((group) => group.filters.some((filter) => (filter.values?.length ?? 0) > SEARCH_LIMITS.inValues)))
    return `An IN filter has more than ${SEARCH_LIMITS.inValues} values.`;
  return undefined;
}

export async function crmSearchRoutes(app: FastifyInstance, { context }: { context: FakeContext }): Promise<void> {
  // Built as the local HubSpot starts, so no request waits for a world's first index.
  for (const account of context.state.seed.accounts) ticketIndex(account);
  for (const { path, object } of crmObjectPaths()) {
    const kind = object.kind;
    app.post(`${path}/search`, { config: { scopes: [...object.readScopes] } }, async (request, reply) => {
      const parsed = searchSchema.safeParse(request.body);
      if (!parsed.success)
        return sendError(reply, 400, errorBody('VALIDATION_ERROR', `Invalid search request: ${parsed.error.issues[0]?.message ?? 'bad body'}`));
      const problem = limitProblem(parsed.data.filterGroups);
      if (problem !== undefined) return sendError(reply, 400, errorBody('VALIDATION_ERROR', problem));
      const account = accountOf(request, context.state);
      const { filterGroups, properties, limit } = parsed.data;
      const index = ticketIndex(account);
      const contactOf = index.contactOf;
      const found = candidates(account, kind, filterGroups, index)
        .filter(
          (record) => filterGroups.length === 0 || filterGroups.some((group) => group.filters.every((filter) => matches(kind, record, filter, contactOf))),
        )
        .sort((a, b) => Number(a.id) - Number(b.id));
      const start = Number(parsed.data.after ?? 0);
      const next = start + limit;
      return {
        total: found.length,
        results: found.slice(start, next).map((record) => publicObject(record, properties)),
        ...(next < found.length ? { paging: { next: { after: String(next) } } } : {}),
      };
    });
  }
}
