import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { errorBody, sendError } from '../errors.js';
import { COMMUNICATES, recordAccess, type ObjectKind } from '../permissions.js';
import type { FakeContext } from '../server.js';
import { accountOf } from './shared.js';

/**
 * HubSpot's public permissions API (BETA), documented in prose only (developers.hubspot.com/docs/guides/api/settings/
 * users/public-permissions; the contract this route is checked against is written from it in ../contract.ts):
 * `GET /resource-permissions/v3/permitted-users?resource=hcrn:{accountId}:crm-object:{objectTypeId}:{recordId}`, the
 * `resource` parameter repeated for up to 20 records (shared/hubspot-openapi/README.md; a public caller,
 * onyx-dot-app/onyx backend/onyx/connectors/hubspot/permissions.py, measured that HubSpot refuses more). The answer
 * keys each requested hcrn to one entry per permission with the user ids holding it:
 * `{ resources: { <hcrn>: { "crm-object:VIEW": { permittedUsers: [ids] }, ... } } }` (top level from HubSpot's page,
 * permission keys from that public caller). The page says it answers for "contacts, companies, deals, and tickets"
 * only. COMMUNICATE is answered where the permission set has it, contacts and companies (COMMUNICATES in
 * ../permissions.ts); the page's own example is "users who can edit or communicate with a given contact".
 *
 * Not documented, so chosen to fail closed and stated here: a resource of another account, or a record this account
 * does not have, gets no entry (the token speaks for its own account and learns nothing about others); any other type
 * (a custom object 2-..., say) is refused with 400 as an unknown object type. The
 * `/paged` variant (`after`, `limit`) is not served: its answer's shape is not published anywhere we can cite. The
 * scope is unconfirmed too; the fake asks for `settings.users.read` because HubSpot files this API under Settings >
 * User provisioning, whose reads take that scope.
 */
export const MAX_RESOURCES_PER_CALL = 20;
const OBJECT_TYPE_IDS: Record<string, ObjectKind> = { '0-1': 'contacts', '0-2': 'companies', '0-3': 'deals', '0-5': 'tickets' };
const PERMISSIONS = { 'crm-object:VIEW': 'view', 'crm-object:EDIT': 'edit', 'crm-object:DELETE': 'delete', 'crm-object:COMMUNICATE': 'communicate' } as const;
const HCRN = /^hcrn:(\d+):crm-object:(\d+-\d+):(\d+)$/;

/** `resource` arrives once or repeated (resource=a&resource=b). */
const querySchema = z.object({ resource: z.union([z.string(), z.array(z.string())]).optional() });

export async function permissionRoutes(app: FastifyInstance, { context }: { context: FakeContext }): Promise<void> {
  app.get('/resource-permissions/v3/permitted-users', { config: { scopes: ['settings.users.read'] } }, async (request, reply) => {
    const requested = [querySchema.parse(request.query).resource ?? []].flat();
    if (requested.length === 0 || requested.length > MAX_RESOURCES_PER_CALL) {
      return sendError(
        reply,
        400,
        errorBody('VALIDATION_ERROR', `Between 1 and ${MAX_RESOURCES_PER_CALL} resource parameters are required; got ${requested.length}.`),
      );
    }
    const parsed = requested.map((resource) => ({ resource, match: HCRN.exec(resource) }));
    const malformed = parsed.find((entry) => entry.match === null);
    if (malformed !== undefined)
      return sendError(
        reply,
        400,
        errorBody('VALIDATION_ERROR', `Invalid resource ${malformed.resource}: expected hcrn:{accountId}:crm-object:{objectTypeId}:{recordId}.`),
      );
    const unknownType = parsed.find((entry) => OBJECT_TYPE_IDS[entry.match?.[2] ?? ''] === undefined);
    if (unknownType !== undefined)
      return sendError(reply, 400, errorBody('VALIDATION_ERROR', `Unknown object type ${unknownType.match?.[2] ?? ''} in ${unknownType.resource}.`));

    const account = accountOf(request, context.state);
    const resources = parsed.flatMap(({ resource, match }) => {
      const kind = OBJECT_TYPE_IDS[match?.[2] ?? ''];
      if (kind === undefined || Number(match?.[1]) !== account.portalId) return [];
      const record = account[kind].find((candidate) => candidate.id === match?.[3]);
      if (record === undefined) return [];
      const may = recordAccess(account, kind, record);
      const permissions = Object.entries(PERMISSIONS)
        .filter(([, action]) => COMMUNICATES.has(kind) || action !== 'communicate')
        .map(([name, action]): [string, { permittedUsers: number[] }] => [
          name,
          { permittedUsers: account.users.filter((user) => may(user, action)).map((user) => user.id) },
        ]);
      return [[resource, Object.fromEntries(permissions)] as const];
    });
    return { resources: Object.fromEntries(resources) };
  });
}
