import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { errorBody, notFound, sendError } from '../errors.js';
import { userMay } from '../permissions.js';
import type { FakeContext } from '../server.js';
import { accountOf } from './shared.js';

/**
 * HubSpot's public permissions API, GET /resource-permissions/v3/permitted-users?resource=hcrn:{portalId}:crm-object:
 * {objectTypeId}:{recordId}. It is documented only in prose ("Query CRM object user permissions": a list of user ids
 * with the granular permissions each has on the record) and in no OpenAPI spec, so the body below is this project's
 * assumption: `{ results: [{ userId, permissions: ["VIEW", "EDIT", ...] }] }`. The backend parses it defensively and
 * treats anything else as unknown (never as allowed).
 */
const OBJECT_TYPE_IDS: Record<string, 'contacts' | 'tickets'> = { '0-1': 'contacts', '0-5': 'tickets' };
const ACTIONS = { VIEW: 'view', EDIT: 'edit', DELETE: 'delete', COMMUNICATE: 'communicate' } as const;

export async function permissionRoutes(app: FastifyInstance, { context }: { context: FakeContext }): Promise<void> {
  app.get('/resource-permissions/v3/permitted-users', { config: { scopes: ['settings.users.read'] } }, async (request, reply) => {
    const { resource } = z.object({ resource: z.string().default('') }).parse(request.query);
    const match = /^hcrn:(\d+):crm-object:(\d+-\d+):(\d+)$/.exec(resource);
    const account = accountOf(request, context.state);
    const kind = match === null ? undefined : OBJECT_TYPE_IDS[match[2] ?? ''];
    if (match === null || kind === undefined || Number(match[1]) !== account.portalId) {
      return sendError(reply, 400, errorBody('VALIDATION_ERROR', `Invalid resource ${resource}.`));
    }
    const record = account[kind].find((candidate) => candidate.id === match[3]);
    if (record === undefined) return sendError(reply, 404, notFound(`Record ${match[3]}`));
    return {
      results: account.users
        .map((user) => ({
          userId: String(user.id),
          permissions: Object.entries(ACTIONS)
            .filter(([, action]) => (kind === 'tickets' && action === 'communicate' ? false : userMay(account, user, kind, action, record)))
            .map(([name]) => name),
        }))
        .filter((entry) => entry.permissions.length > 0),
    };
  });
}
