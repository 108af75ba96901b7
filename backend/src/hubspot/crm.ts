import { z } from 'zod';
import { AppError } from '../errors.js';
import type { HubSpotRequest, PortalCall } from './call.js';
import { associatedWithContact, ownerScopeFilterGroups, type OwnerScope, type SearchFilter } from './search-filters.js';

/**
 * CRM records, owners, pipelines and the permissions API in the backend's own terms. Paths, property names and shapes
 * come from HubSpot's dated 2026-03 specs in shared/hubspot-openapi/2026-03/ (tickets, contacts, deals, companies,
 * notes, owners, pipelines, app-uninstalls); this file is the only one that knows them. The permissions API has no
 * dated version.
 */

export interface OwnerRecord {
  id: number;
  userId: number | null;
  name: string;
  email: string | null;
  teamIds: string[];
}
export interface TicketRecord {
  id: string;
  subject: string;
  ownerId: number | null;
  pipelineId: string | null;
  stageId: string | null;
  priority: string | null;
}
export interface ContactRecord {
  id: string;
  name: string;
  email: string | null;
  ownerId: number | null;
}
export interface PipelineStage {
  id: string;
  label: string;
  closed: boolean;
}
/**
 * Per action (view, edit, delete, communicate), the user ids HubSpot's permissions API says may take it on one record,
 * as HubSpot listed them; an action nobody holds is absent.
 */
export type PermittedActions = ReadonlyMap<string, readonly number[]>;
/**
 * A CRM record in the backend's terms: `title` is what HubSpot shows as its name, `details` the few other properties
 * the card shows, under CRM_OBJECTS' own names (null when the record has no value).
 */
export interface CrmRecord {
  id: string;
  title: string;
  ownerId: number | null;
  details: Readonly<Record<string, string | null>>;
}
/** Which owners' records a search is after: these owners, or no owner at all. */
export type OwnerSet = { kind: 'owners'; ownerIds: readonly number[] } | { kind: 'unassigned' };

/**
 * What HubSpot's wire needs per CRM object, as data: adding an object with an owner property (a custom object `2-...`
 * included) is one entry here and one in access/model.ts's OBJECT_TYPES.
 * - `typeId`: the object type id the permissions API's hcrn wants (HubSpot docs, "Object type IDs": contacts 0-1,
 *   companies 0-2, deals 0-3, tickets 0-5; a custom object's is its `objectTypeId`, 2-...).
 * - `path`: where the 2026-03 specs serve its records. deals.json serves deals at /crm/objects/2026-03/0-3, by type
 *   id; tickets.json, contacts.json and companies.json by name.
 * - `ownerProperty`: the property holding the owner id (HubSpot's default owner property is hubspot_owner_id).
 * - `title`: properties joined with spaces to make its name; `fallback` names a record without one.
 * - `details`: our name -> HubSpot property, read for the card.
 * - `noteAssociation`: the HubSpot-defined association type id from a note to this object (HubSpot docs, "Associations
 *   v4 > association type IDs": note to contact 202, note to company 190, note to deal 214, note to ticket 228, as
 *   clearfeed/quix agent-packages/packages/hubspot/src/constants.ts also uses them).
 */
interface CrmObjectWire {
  typeId: string;
  path: string;
  ownerProperty: string;
  title: readonly string[];
  fallback: string;
  details: Readonly<Record<string, string>>;
  noteAssociation: number;
}
const OWNER = 'hubspot_owner_id';
const OBJECTS_PATH = '/crm/objects/2026-03';
export const CRM_OBJECTS = {
  contacts: {
    typeId: '0-1',
    path: `${OBJECTS_PATH}/contacts`,
    ownerProperty: OWNER,
    title: ['firstname', 'lastname'],
    fallback: 'Contact',
    details: { email: 'email' },
    noteAssociation: 202,
  },
  tickets: {
    typeId: '0-5',
    path: `${OBJECTS_PATH}/tickets`,
    ownerProperty: OWNER,
    title: ['subject'],
    fallback: 'Ticket',
    details: { priority: 'hs_ticket_priority' },
    noteAssociation: 228,
  },
  // Properties HubSpot returns by default (crm-contacts-v3.json's table of object types): deals dealname, amount,
  // closedate, pipeline, dealstage; companies name, domain.
  deals: {
    typeId: '0-3',
    path: `${OBJECTS_PATH}/0-3`,
    ownerProperty: OWNER,
    title: ['dealname'],
    fallback: 'Deal',
    details: { amount: 'amount', stage: 'dealstage' },
    noteAssociation: 214,
  },
  companies: {
    typeId: '0-2',
    path: `${OBJECTS_PATH}/companies`,
    ownerProperty: OWNER,
    title: ['name'],
    fallback: 'Company',
    details: { domain: 'domain' },
    noteAssociation: 190,
  },
} as const satisfies Record<string, CrmObjectWire>;
/** The CRM objects Viewer Guard reads; declared here so hubspot/ needs nothing from access/. */
export type CrmObjectType = keyof typeof CRM_OBJECTS;
export interface NewTicket {
  subject: string;
  content?: string;
  priority?: 'LOW' | 'MEDIUM' | 'HIGH';
  ownerId: number | null;
}
/**
 * One page of a contact's tickets within an owner scope. `narrowed` is false when the scope did not fit a search and was
 * not applied (the caller must filter the page). `total` is how many tickets the search matched in all, from HubSpot's
 * own count; `next` is HubSpot's cursor for the following page, null on the last.
 */
export interface ContactTicketsPage {
  tickets: TicketRecord[];
  narrowed: boolean;
  total: number;
  next: string | null;
}
/**
 * A contact with the tickets associated with it, as one read of the contact tells: `count` distinct tickets, and
 * `complete` false when HubSpot paged the associations (then the contact has more than `count`).
 */
export interface ContactWithTickets {
  contact: ContactRecord;
  tickets: { count: number; complete: boolean };
}

/** HubSpot's default ticket pipeline id ("Pipelines API": the default ticket pipeline is "0"). */
const DEFAULT_TICKET_PIPELINE = '0';
/**
 * Resources per permissions API call: shared/hubspot-openapi/README.md ("up to 20 resource parameters per call"); a
 * public caller measured that HubSpot refuses more (onyx-dot-app/onyx, backend/onyx/connectors/hubspot/permissions.py).
 */
export const PERMITTED_USERS_PER_CALL = 20;
/** 2026-03/deals.json (and every object's spec), PublicObjectSearchRequest.limit: "up to 200 objects". */
export const SEARCH_PAGE_MAX = 200;

export interface CrmApi {
  getTicket(id: string): Promise<TicketRecord | undefined>;
  getContact(id: string): Promise<ContactRecord | undefined>;
  /** Any CRM object's record with its title, owner and details; undefined when this account has no such record. */
  getRecord(objectType: CrmObjectType, id: string): Promise<CrmRecord | undefined>;
  /**
   * The ids and owners of records owned by one of these owners, or of unassigned ones, in id order: one search, on the
   * search lane, the first `limit` of them, and never more than SEARCH_PAGE_MAX (one page).
   */
  searchRecordsByOwner(objectType: CrmObjectType, owners: OwnerSet, limit: number): Promise<Array<{ id: string; ownerId: number | null }>>;
  /** Sets the record's owner. */
  assignRecord(objectType: CrmObjectType, id: string, ownerId: number): Promise<CrmRecord>;
  /** The contact and how many tickets are associated with it, in the one call that reads the contact. */
  getContactWithTickets(id: string): Promise<ContactWithTickets | undefined>;
  /**
   * One page of the contact's tickets within an owner scope, in id order, in one search: the scope is compiled to search
   * filters so hidden tickets are never fetched, unless it does not fit HubSpot's search limits (then `narrowed` is
   * false and the caller must filter). `after` is the `next` of the page before.
   */
  searchContactTickets(contactId: string, scope: OwnerScope, page: { limit: number; after: string | undefined }): Promise<ContactTicketsPage>;
  /** How many tickets the contact has, whoever owns them: one search, its `total`. */
  countContactTickets(contactId: string): Promise<number>;
  assignTicket(id: string, ownerId: number): Promise<TicketRecord>;
  moveTicketStage(id: string, stageId: string): Promise<TicketRecord>;
  /** A new ticket in the default pipeline's first open stage, associated with the contact. */
  createTicket(ticket: NewTicket, contactId: string): Promise<TicketRecord>;
  /** A note associated with any CRM object's record. */
  createNoteOn(objectType: CrmObjectType, id: string, body: string, ownerId: number | null, timestamp: Date): Promise<{ id: string }>;
  /** The stages of a ticket pipeline (null: the default one); undefined when the pipeline does not exist. */
  getTicketStages(pipelineId: string | null): Promise<PipelineStage[] | undefined>;
  listOwners(): Promise<OwnerRecord[]>;
  /**
   * HubSpot's permissions API for these records, PERMITTED_USERS_PER_CALL per call. A record maps to undefined when
   * HubSpot's answer about it is not the shape we understand: callers treat that as "unknown", never "allowed". Throws
   * when HubSpot refuses the call (403: not granted) or cannot answer.
   */
  permittedUsersMany(objectType: CrmObjectType, recordIds: readonly string[]): Promise<Map<string, PermittedActions | undefined>>;
  /** Any one ticket of the account, for a live check of the permissions API; undefined when the account has none. */
  anyTicketId(): Promise<string | undefined>;
  uninstall(): Promise<void>;
}

export const TICKET_PROPERTIES = ['subject', 'hubspot_owner_id', 'hs_pipeline', 'hs_pipeline_stage', 'hs_ticket_priority'];
const CONTACT_PROPERTIES = ['firstname', 'lastname', 'email', 'hubspot_owner_id'];
/** HubSpot-defined association type id (HubSpot docs, "Associations v4"): ticket to contact 16. */
const TICKET_TO_CONTACT = 16;
const TICKETS = CRM_OBJECTS.tickets.path;

const ownerIdOf = (value: string | null | undefined): number | null => (value === null || value === undefined || !/^\d+$/.test(value) ? null : Number(value));

/**
 * 2026-03/tickets.json and contacts.json, SimplePublicObject / SimplePublicObjectWithAssociations (required: id,
 * properties, archived, createdAt, updatedAt). The spec types property values as strings; null is accepted too (whether
 * HubSpot sends it for an unset requested property is unconfirmed), and it can only read as "not set".
 */
const simpleObjectSchema = z.object({ id: z.string(), properties: z.record(z.string(), z.string().nullable()) });
const ticketSchema = simpleObjectSchema.transform((ticket): TicketRecord => ({
  id: ticket.id,
  subject: ticket.properties.subject ?? '(no subject)',
  ownerId: ownerIdOf(ticket.properties.hubspot_owner_id),
  pipelineId: ticket.properties.hs_pipeline ?? null,
  stageId: ticket.properties.hs_pipeline_stage ?? null,
  priority: ticket.properties.hs_ticket_priority ?? null,
}));
const readContact = (contact: z.infer<typeof simpleObjectSchema>): ContactRecord => ({
  id: contact.id,
  name: [contact.properties.firstname, contact.properties.lastname].filter(Boolean).join(' ') || (contact.properties.email ?? `Contact ${contact.id}`),
  email: contact.properties.email ?? null,
  ownerId: ownerIdOf(contact.properties.hubspot_owner_id),
});
const contactSchema = simpleObjectSchema.transform(readContact);
const wirePropertiesOf = (wire: CrmObjectWire) => [...new Set([...wire.title, wire.ownerProperty, ...Object.values(wire.details)])];
/** SimplePublicObject of any object (its dated spec), read through its CRM_OBJECTS entry. */
const recordSchema = (wire: CrmObjectWire) =>
  simpleObjectSchema.transform((record): CrmRecord => ({
    id: record.id,
    title:
      wire.title
        .map((name) => record.properties[name])
        .filter(Boolean)
        .join(' ') || `${wire.fallback} ${record.id}`,
    ownerId: ownerIdOf(record.properties[wire.ownerProperty]),
    details: Object.fromEntries(Object.entries(wire.details).map(([name, property]) => [name, record.properties[property] ?? null])),
  }));
/** 2026-03 search answers (CollectionResponseWithTotalSimplePublicObject) read for ids and owners only. */
const recordOwnersSchema = (wire: CrmObjectWire) =>
  z.object({ results: z.array(simpleObjectSchema.transform((record) => ({ id: record.id, ownerId: ownerIdOf(record.properties[wire.ownerProperty]) }))) });
/**
 * 2026-03/contacts.json, GET /crm/objects/2026-03/contacts/{contactId} with `associations=tickets`:
 * SimplePublicObjectWithAssociations, whose `associations` maps an object type to a CollectionResponseAssociatedId
 * (`results` of AssociatedId {id, type}, and `paging` when there is a next page). HubSpot lists an associated record
 * once per association type (a public answer shows one company twice, as `deal_to_company` and
 * `deal_to_company_unlabeled`: HubSpot/hubspot-api-ruby#262), so tickets are counted by distinct id. A contact
 * without tickets is taken to have no `tickets` entry ("If any of the specified associations do not exist, they will be
 * ignored", the parameter's description); how many ids one answer holds is not in the spec (HubSpot's 2020 changelog
 * "Announcing a change to how v3 CRM APIs return association data" pages them past 100, as HubSpot/hubspot-api-nodejs#29
 * quotes it), so only the absence of `paging.next` says the list is whole.
 */
const associatedIdsSchema = z.object({
  results: z.array(z.object({ id: z.string() })),
  paging: z.object({ next: z.object({ after: z.string() }).optional() }).optional(),
});
const contactWithTicketsSchema = simpleObjectSchema
  .extend({ associations: z.object({ tickets: associatedIdsSchema.optional() }).optional() })
  .transform((contact): ContactWithTickets => ({
    contact: readContact(contact),
    tickets: {
      count: new Set(contact.associations?.tickets?.results.map((ticket) => ticket.id)).size,
      complete: contact.associations?.tickets?.paging?.next === undefined,
    },
  }));
/**
 * 2026-03/tickets.json, POST /crm/objects/2026-03/tickets/search: CollectionResponseWithTotalSimplePublicObject, whose
 * required `total` is "The total number of objects in the collection" (every match, not the page), and whose
 * `paging.next.after` asks for the next page.
 */
const searchPageSchema = z.object({
  total: z.number().int(),
  results: z.array(ticketSchema),
  paging: z.object({ next: z.object({ after: z.string() }).optional() }).optional(),
});
/** 2026-03/owners.json, GET /crm/owners/2026-03: CollectionResponsePublicOwnerForwardPaging / PublicOwner with PublicTeam[]. */
const ownersPageSchema = z.object({
  results: z.array(
    z.object({
      id: z.string(),
      userId: z.number().int().optional(),
      email: z.string().optional(),
      firstName: z.string().optional(),
      lastName: z.string().optional(),
      teams: z.array(z.object({ id: z.string() })).optional(),
    }),
  ),
  paging: z.object({ next: z.object({ after: z.string() }).optional() }).optional(),
});
/**
 * 2026-03/pipelines.json, GET /crm/pipelines/2026-03/{objectType}/{pipelineId}: Pipeline with PipelineStage[], whose
 * `metadata` maps names to strings; a ticket stage's metadata.ticketState is OPEN or CLOSED.
 */
const pipelineSchema = z.object({
  stages: z.array(z.object({ id: z.string(), label: z.string(), archived: z.boolean(), metadata: z.record(z.string(), z.string()) })),
});
/** 2026-03/notes.json, POST /crm/objects/2026-03/notes: 201 SimplePublicObject; only the id is used. */
const createdSchema = z.object({ id: z.string() });
/**
 * HubSpot's public permissions API (BETA) is in no published spec; its page (developers.hubspot.com/docs/guides/api/
 * settings/users/public-permissions) gives the top level, a public caller the permission keys (shared/hubspot-openapi/
 * README.md): `{ resources: { <hcrn>: { "crm-object:VIEW": { permittedUsers: [userIds] }, ... } } }`. Read strictly:
 * another key at the top (a `paging`, say, would mean the list may be cut short) or beside `permittedUsers`, a user id
 * that is not a positive integer, a permission key outside HubSpot's `crm-object:` names, or an hcrn we did not ask
 * about makes the whole answer unknown; a requested hcrn without an entry is unknown for that record. Two things are
 * read leniently, because neither can allow anything: a permission key that is absent means nobody holds it (the documented
 * example lists VIEW and EDIT only), and an upper-case `crm-object:` permission we do not know is ignored (HubSpot
 * may add permissions; those can only grant actions Viewer Guard never checks, while refusing them would switch the
 * source off for every record at once).
 */
const PERMISSION_ACTIONS: Partial<Record<string, string>> = {
  'crm-object:VIEW': 'view',
  'crm-object:EDIT': 'edit',
  'crm-object:DELETE': 'delete',
  'crm-object:COMMUNICATE': 'communicate',
};
const permittedUsersSchema = z.strictObject({
  resources: z.record(z.string(), z.record(z.string().regex(/^crm-object:[A-Z_]+$/), z.strictObject({ permittedUsers: z.array(z.number().int().positive()) }))),
});

/** HubSpot's answer for the requested hcrns (hcrn -> record id), per record id. */
export function readPermittedUsers(json: unknown, requested: ReadonlyMap<string, string>): Map<string, PermittedActions | undefined> {
  const parsed = permittedUsersSchema.safeParse(json);
  const resources = parsed.success && Object.keys(parsed.data.resources).every((hcrn) => requested.has(hcrn)) ? parsed.data.resources : undefined;
  return new Map(
    [...requested].map(([hcrn, recordId]) => {
      const entry = resources?.[hcrn];
      if (entry === undefined) return [recordId, undefined];
      const permitted = new Map<string, readonly number[]>();
      for (const [permission, { permittedUsers }] of Object.entries(entry)) {
        const action = PERMISSION_ACTIONS[permission];
        if (action !== undefined) permitted.set(action, permittedUsers);
      }
      return [recordId, permitted];
    }),
  );
}

/**
 * 2026-03/tickets.json, SimplePublicObjectInputForCreate.associations[]: PublicAssociationsForObject with
 * AssociationSpec (associationCategory HUBSPOT_DEFINED for HubSpot's own type ids).
 */
const associatedWith = (id: string, associationTypeId: number) => [{ to: { id }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId }] }];

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new AppError('HUBSPOT_RESPONSE_INVALID', { message: `HubSpot gave no answer when asked to ${what}.` });
  return value;
}

export function createCrmApi(call: PortalCall, portalId: number): CrmApi {
  /**
   * 2026-03/tickets.json, PublicObjectSearchRequest. It lists `after` as required, but HubSpot's search guide
   * (developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm) pages with `after` from the previous answer
   * only, so the first page is asked for without it. A SearchFilter is already HubSpot's Filter (search-filters.ts).
   */
  const searchIn = (
    path: string,
    filterGroups: Array<{ filters: SearchFilter[] }>,
    properties: readonly string[],
    limit: number,
    after: string | undefined,
  ): HubSpotRequest => ({
    method: 'POST',
    path: `${path}/search`,
    body: { filterGroups, properties, sorts: ['hs_object_id'], limit, ...(after === undefined ? {} : { after }) },
  });
  const search = (filterGroups: Array<{ filters: SearchFilter[] }>, limit: number, after: string | undefined) =>
    searchIn(TICKETS, filterGroups, TICKET_PROPERTIES, limit, after);

  const searchPage = async (what: string, filterGroups: Array<{ filters: SearchFilter[] }>, limit: number, after: string | undefined) =>
    required(await call(what, searchPageSchema, search(filterGroups, limit, after), { notFoundIsEmpty: false, search: true }), what);

  async function getTicketStages(pipelineId: string | null): Promise<PipelineStage[] | undefined> {
    const pipeline = await call(
      'read the ticket pipeline',
      pipelineSchema,
      { method: 'GET', path: `/crm/pipelines/2026-03/tickets/${encodeURIComponent(pipelineId ?? DEFAULT_TICKET_PIPELINE)}` },
      { notFoundIsEmpty: true },
    );
    return pipeline?.stages
      .filter((stage) => !stage.archived)
      .map((stage) => ({ id: stage.id, label: stage.label, closed: stage.metadata.ticketState === 'CLOSED' }));
  }

  // PATCH {path}/{id} in each object's 2026-03 spec: SimplePublicObjectInput, 200 SimplePublicObject.
  const update = async <T>(path: string, what: string, schema: z.ZodType<T>, id: string, properties: Record<string, string>) =>
    required(await call(what, schema, { method: 'PATCH', path: `${path}/${encodeURIComponent(id)}`, body: { properties } }, { notFoundIsEmpty: false }), what);
  const updateTicket = (id: string, properties: Record<string, string>) => update(TICKETS, 'update a ticket', ticketSchema, id, properties);

  async function createNoteOn(objectType: CrmObjectType, id: string, body: string, ownerId: number | null, timestamp: Date) {
    // 2026-03/notes.json, POST /crm/objects/2026-03/notes: SimplePublicObjectInputForCreate.
    const properties = { hs_note_body: body, hs_timestamp: timestamp.toISOString(), ...(ownerId === null ? {} : { hubspot_owner_id: String(ownerId) }) };
    const associations = associatedWith(id, CRM_OBJECTS[objectType].noteAssociation);
    const created = await call(
      'add a note',
      createdSchema,
      { method: 'POST', path: `${OBJECTS_PATH}/notes`, body: { properties, associations } },
      { notFoundIsEmpty: false, creates: true },
    );
    return required(created, 'add a note');
  }

  return {
    // 2026-03/tickets.json, GET /crm/objects/2026-03/tickets/{ticketId}; archived defaults to false.
    getTicket: (id) =>
      call(
        'read a ticket',
        ticketSchema,
        { method: 'GET', path: `${TICKETS}/${encodeURIComponent(id)}`, query: { properties: TICKET_PROPERTIES } },
        { notFoundIsEmpty: true },
      ),

    // 2026-03/contacts.json, GET /crm/objects/2026-03/contacts/{contactId}.
    getContact: (id) =>
      call(
        'read a contact',
        contactSchema,
        { method: 'GET', path: `${CRM_OBJECTS.contacts.path}/${encodeURIComponent(id)}`, query: { properties: CONTACT_PROPERTIES } },
        { notFoundIsEmpty: true },
      ),

    // GET {path}/{id} in each object's 2026-03 spec (e.g. 2026-03/deals.json, /crm/objects/2026-03/0-3/{dealId}).
    getRecord: (objectType, id) => {
      const wire: CrmObjectWire = CRM_OBJECTS[objectType];
      return call(
        `read a ${wire.fallback.toLowerCase()}`,
        recordSchema(wire),
        { method: 'GET', path: `${wire.path}/${encodeURIComponent(id)}`, query: { properties: wirePropertiesOf(wire) } },
        { notFoundIsEmpty: true },
      );
    },

    async searchRecordsByOwner(objectType, owners, limit) {
      const wire: CrmObjectWire = CRM_OBJECTS[objectType];
      const scope: OwnerScope =
        owners.kind === 'unassigned' ? { kind: 'owners', ownerIds: [], unassigned: true } : { kind: 'owners', ownerIds: owners.ownerIds, unassigned: false };
      const groups = ownerScopeFilterGroups(scope, [], wire.ownerProperty);
      if (groups === 'none' || limit < 1) return [];
      // Searching without the filters would return everyone's records: too many owners for one search is refused instead.
      if (groups === undefined) throw new AppError('INTERNAL', { message: `Too many owners (${scope.ownerIds.length}) for one HubSpot search.` });
      const what = `search ${objectType} by owner`;
      const page = await call(what, recordOwnersSchema(wire), searchIn(wire.path, groups, [wire.ownerProperty], Math.min(limit, SEARCH_PAGE_MAX), undefined), {
        notFoundIsEmpty: false,
        search: true,
      });
      return required(page, what).results;
    },

    assignRecord: (objectType, id, ownerId) => {
      const wire: CrmObjectWire = CRM_OBJECTS[objectType];
      return update(wire.path, `update a ${wire.fallback.toLowerCase()}`, recordSchema(wire), id, { [wire.ownerProperty]: String(ownerId) });
    },

    // 2026-03/contacts.json, GET /crm/objects/2026-03/contacts/{contactId}: `associations` lists the associated ids.
    getContactWithTickets: (id) =>
      call(
        'read a contact',
        contactWithTicketsSchema,
        {
          method: 'GET',
          path: `${CRM_OBJECTS.contacts.path}/${encodeURIComponent(id)}`,
          query: { properties: CONTACT_PROPERTIES, associations: ['tickets'] },
        },
        { notFoundIsEmpty: true },
      ),

    async searchContactTickets(contactId, scope, { limit, after }) {
      const about = associatedWithContact(contactId);
      const groups = ownerScopeFilterGroups(scope, about, CRM_OBJECTS.tickets.ownerProperty);
      if (groups === 'none') return { tickets: [], narrowed: true, total: 0, next: null };
      const page = await searchPage('search tickets', groups ?? [{ filters: about }], limit, after);
      return { tickets: page.results, narrowed: groups !== undefined, total: page.total, next: page.paging?.next?.after ?? null };
    },

    async countContactTickets(contactId) {
      return (await searchPage('count tickets', [{ filters: associatedWithContact(contactId) }], 1, undefined)).total;
    },

    assignTicket: (id, ownerId) => updateTicket(id, { hubspot_owner_id: String(ownerId) }),

    moveTicketStage: (id, stageId) => updateTicket(id, { hs_pipeline_stage: stageId }),

    async createTicket(ticket, contactId) {
      const firstOpen = (await getTicketStages(null))?.find((stage) => !stage.closed);
      if (firstOpen === undefined) throw new AppError('HUBSPOT_RESPONSE_INVALID', { message: 'The default ticket pipeline has no open stage.' });
      const properties = {
        subject: ticket.subject,
        hs_pipeline: DEFAULT_TICKET_PIPELINE,
        hs_pipeline_stage: firstOpen.id,
        ...(ticket.content === undefined ? {} : { content: ticket.content }),
        ...(ticket.priority === undefined ? {} : { hs_ticket_priority: ticket.priority }),
        ...(ticket.ownerId === null ? {} : { hubspot_owner_id: String(ticket.ownerId) }),
      };
      // 2026-03/tickets.json, POST /crm/objects/2026-03/tickets: SimplePublicObjectInputForCreate, 201 SimplePublicObject.
      const created = await call(
        'create a ticket',
        ticketSchema,
        { method: 'POST', path: TICKETS, body: { properties, associations: associatedWith(contactId, TICKET_TO_CONTACT) } },
        { notFoundIsEmpty: false, creates: true },
      );
      return required(created, 'create a ticket');
    },

    createNoteOn,

    getTicketStages,

    async listOwners() {
      const owners: OwnerRecord[] = [];
      let after: string | undefined;
      do {
        const page = required(
          await call(
            'list owners',
            ownersPageSchema,
            { method: 'GET', path: '/crm/owners/2026-03', query: { limit: 500, after, archived: false } },
            {
              notFoundIsEmpty: false,
            },
          ),
          'list owners',
        );
        for (const owner of page.results) {
          owners.push({
            id: Number(owner.id),
            userId: owner.userId ?? null,
            name: [owner.firstName, owner.lastName].filter(Boolean).join(' ') || (owner.email ?? `Owner ${owner.id}`),
            email: owner.email ?? null,
            teamIds: (owner.teams ?? []).map((team) => team.id),
          });
        }
        after = page.paging?.next?.after;
      } while (after !== undefined);
      return owners;
    },

    async permittedUsersMany(objectType, recordIds) {
      const ids = [...new Set(recordIds)];
      const chunks = Array.from({ length: Math.ceil(ids.length / PERMITTED_USERS_PER_CALL) }, (_, index) =>
        ids.slice(index * PERMITTED_USERS_PER_CALL, (index + 1) * PERMITTED_USERS_PER_CALL),
      );
      const answers = await Promise.all(
        chunks.map(async (chunk) => {
          const requested = new Map(chunk.map((id) => [`hcrn:${portalId}:crm-object:${CRM_OBJECTS[objectType].typeId}:${id}`, id]));
          const json = await call(
            'read who may access records',
            z.unknown(),
            { method: 'GET', path: '/resource-permissions/v3/permitted-users', query: { resource: [...requested.keys()] } },
            { notFoundIsEmpty: false },
          );
          return readPermittedUsers(json, requested);
        }),
      );
      return new Map(answers.flatMap((answer) => [...answer]));
    },

    async anyTicketId() {
      const page = required(await call('find a ticket', searchPageSchema, search([], 1, undefined), { notFoundIsEmpty: false }), 'find a ticket');
      return page.results[0]?.id;
    },

    async uninstall() {
      // 2026-03/app-uninstalls.json, DELETE /appinstalls/2026-03/external-install: 204, no body.
      await call('uninstall the app', z.unknown(), { method: 'DELETE', path: '/appinstalls/2026-03/external-install' }, { notFoundIsEmpty: true });
    },
  };
}
