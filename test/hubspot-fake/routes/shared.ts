import type { FastifyRequest } from 'fastify';
import type { FakeState } from '../state.js';
import type { ObjectKind } from '../permissions.js';
import type { SeedAccount } from '../seed.js';

/** The account whose token made this request: HubSpot scopes every read to the token's account. */
export function accountOf(request: FastifyRequest, state: FakeState): SeedAccount {
  const auth = request.fakeAuth;
  const account = auth === null ? undefined : state.account(auth.portalId);
  if (account === undefined) throw new Error('route reached without an authenticated account');
  return account;
}

/**
 * Where HubSpot serves each API the fake answers: the dated 2026-03 paths the backend calls (shared/hubspot-openapi/
 * 2026-03/), and the v3 paths, which HubSpot still serves and the fake's contract tests check against the v3 specs.
 * Both run the same handler, so the two can never disagree.
 */
export const API_ROOTS = {
  objects: ['/crm/v3/objects', '/crm/objects/2026-03'],
  owners: ['/crm/v3/owners', '/crm/owners/2026-03'],
  pipelines: ['/crm/v3/pipelines', '/crm/pipelines/2026-03'],
  /** The v3 users API keeps its single-user, teams and roles paths under /settings/v3/users, its list at /settings/users/v3. */
  users: [
    { one: '/settings/v3/users', list: '/settings/users/v3' },
    { one: '/settings/users/2026-03', list: '/settings/users/2026-03' },
  ],
} as const;

/**
 * The CRM objects the local HubSpot serves, as data for the read, search and write routes: where (`paths`, under each
 * of API_ROOTS.objects; deals by name and by the type id 0-3 their 2026-03 spec uses), the path parameter's name, and
 * the scopes their 2026-03 specs ask for (e.g. 2026-03/deals.json: crm.objects.deals.read to read and search,
 * crm.objects.deals.write to change). Tickets keep the one `tickets` scope they have always had.
 */
export const CRM_KINDS = [
  { kind: 'tickets', paths: ['tickets'], param: 'ticketId', label: 'Ticket', readScopes: ['tickets'], writeScopes: ['tickets'] },
  {
    kind: 'contacts',
    paths: ['contacts'],
    param: 'contactId',
    label: 'Contact',
    readScopes: ['crm.objects.contacts.read'],
    writeScopes: ['crm.objects.contacts.write'],
  },
  {
    kind: 'deals',
    paths: ['deals', '0-3'],
    param: 'dealId',
    label: 'Deal',
    readScopes: ['crm.objects.deals.read'],
    writeScopes: ['crm.objects.deals.write'],
  },
  {
    kind: 'companies',
    paths: ['companies'],
    param: 'companyId',
    label: 'Company',
    readScopes: ['crm.objects.companies.read'],
    writeScopes: ['crm.objects.companies.write'],
  },
] as const satisfies ReadonlyArray<{
  kind: ObjectKind;
  paths: readonly string[];
  param: string;
  label: string;
  readScopes: readonly string[];
  writeScopes: readonly string[];
}>;
export type CrmKind = (typeof CRM_KINDS)[number];

/** Every (root, kind, path) the CRM object routes are served at. */
export const crmObjectPaths = () =>
  API_ROOTS.objects.flatMap((root) => CRM_KINDS.flatMap((object) => object.paths.map((path) => ({ root, object, path: `${root}/${path}` }))));

/** Seeded data has no history; every object reports the same fixed creation time. */
export const SEEDED_AT = '2026-01-05T09:00:00.000Z';
