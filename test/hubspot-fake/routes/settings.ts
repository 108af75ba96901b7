import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { notFound, sendError } from '../errors.js';
import type { SeedUser } from '../seed.js';
import type { FakeContext } from '../server.js';
import { accountOf, API_ROOTS } from './shared.js';

/** PublicUser (shared/hubspot-openapi/2026-03/users.json, PublicUserMarch2026 and PublicUser; settings-users-v3.json). */
function publicUser(user: SeedUser) {
  return {
    id: String(user.id),
    email: user.email,
    firstName: user.firstName,
    lastName: user.lastName,
    roleIds: user.roleIds,
    ...(user.roleIds[0] === undefined ? {} : { roleId: user.roleIds[0] }),
    ...(user.primaryTeamId === undefined ? {} : { primaryTeamId: user.primaryTeamId }),
    secondaryTeamIds: user.secondaryTeamIds,
    superAdmin: user.superAdmin,
  };
}

export async function settingsRoutes(app: FastifyInstance, { context }: { context: FakeContext }): Promise<void> {
  const { state } = context;
  const usersRead = { scopes: ['settings.users.read'] };

  for (const root of API_ROOTS.users) {
    app.get(`${root.one}/:userId`, { config: usersRead }, async (request, reply) => {
      const { userId } = z.object({ userId: z.string() }).parse(request.params);
      const { idProperty } = z.object({ idProperty: z.enum(['USER_ID', 'EMAIL']).default('USER_ID') }).parse(request.query);
      const account = accountOf(request, state);
      const user = account.users.find((candidate) => (idProperty === 'EMAIL' ? candidate.email === userId : String(candidate.id) === userId));
      // settings-users-v3.json and 2026-03/users.json declare only 200 and a `default` Error for this operation, and no
      // published source says how a deactivated user is answered: it is answered as an unknown id, so callers refuse it.
      if (user === undefined || user.deactivated) return sendError(reply, 404, notFound(`User ${userId}`));
      return publicUser(user);
    });

    app.get(root.list, { config: usersRead }, async (request) => {
      const query = z
        .object({ limit: z.coerce.number().int().min(1).max(100).default(100), after: z.coerce.number().int().min(0).default(0) })
        .parse(request.query);
      const users = accountOf(request, state).users.filter((user) => !user.deactivated);
      const page = users.slice(query.after, query.after + query.limit);
      const next = query.after + query.limit;
      return { results: page.map(publicUser), ...(next < users.length ? { paging: { next: { after: String(next) } } } : {}) };
    });

    app.get(`${root.one}/teams`, { config: { scopes: ['settings.users.teams.read'] } }, async (request) => {
      const account = accountOf(request, state);
      const active = account.users.filter((user) => !user.deactivated);
      return {
        results: account.teams.map((team) => ({
          id: team.id,
          name: team.name,
          userIds: active.filter((user) => user.primaryTeamId === team.id).map((user) => String(user.id)),
          secondaryUserIds: active.filter((user) => user.secondaryTeamIds.includes(team.id)).map((user) => String(user.id)),
        })),
      };
    });

    app.get(`${root.one}/roles`, { config: usersRead }, async (request) => ({
      results: accountOf(request, state).roles.map((role) => ({ id: role.id, name: role.name, requiresBillingWrite: role.requiresBillingWrite })),
    }));
  }
}
