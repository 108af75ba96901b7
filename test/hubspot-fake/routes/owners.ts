import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { notFound, sendError } from '../errors.js';
import type { SeedAccount, SeedOwner } from '../seed.js';
import type { FakeContext } from '../server.js';
import { accountOf, API_ROOTS, SEEDED_AT } from './shared.js';

/** PublicOwner (shared/hubspot-openapi/2026-03/owners.json, crm-owners-v3.json): an owner's teams are its user's teams. */
export function publicOwner(account: SeedAccount, owner: SeedOwner) {
  const user = account.users.find((candidate) => candidate.id === owner.userId);
  const teamIds = user === undefined ? [] : [...(user.primaryTeamId === undefined ? [] : [user.primaryTeamId]), ...user.secondaryTeamIds];
  return {
    id: String(owner.id),
    email: owner.email,
    firstName: owner.firstName,
    lastName: owner.lastName,
    ...(owner.userId === undefined ? {} : { userIdIncludingInactive: owner.userId, ...(owner.archived ? {} : { userId: owner.userId }) }),
    type: 'PERSON',
    archived: owner.archived,
    createdAt: SEEDED_AT,
    updatedAt: SEEDED_AT,
    teams: teamIds.map((id) => ({ id, name: account.teams.find((team) => team.id === id)?.name ?? id, primary: id === user?.primaryTeamId })),
  };
}

const archivedFlag = z
  .enum(['true', 'false'])
  .default('false')
  .transform((value) => value === 'true');

export async function ownerRoutes(app: FastifyInstance, { context }: { context: FakeContext }): Promise<void> {
  const { state } = context;
  const config = { scopes: ['crm.objects.owners.read'] };

  for (const root of API_ROOTS.owners) {
    app.get(root, { config }, async (request) => {
      const query = z
        .object({
          email: z.string().optional(),
          limit: z.coerce.number().int().min(1).max(500).default(100),
          after: z.coerce.number().int().min(0).default(0),
          archived: archivedFlag,
        })
        .parse(request.query);
      const account = accountOf(request, state);
      const owners = account.owners.filter((owner) => owner.archived === query.archived && (query.email === undefined || owner.email === query.email));
      const next = query.after + query.limit;
      return {
        results: owners.slice(query.after, next).map((owner) => publicOwner(account, owner)),
        ...(next < owners.length ? { paging: { next: { after: String(next) } } } : {}),
      };
    });

    app.get(`${root}/:ownerId`, { config }, async (request, reply) => {
      const { ownerId } = z.object({ ownerId: z.string() }).parse(request.params);
      const query = z.object({ idProperty: z.enum(['id', 'userId']).default('id'), archived: archivedFlag }).parse(request.query);
      const account = accountOf(request, state);
      const owner = account.owners.find(
        (candidate) => String(query.idProperty === 'userId' ? candidate.userId : candidate.id) === ownerId && candidate.archived === query.archived,
      );
      if (owner === undefined) return sendError(reply, 404, notFound(`Owner ${ownerId}`));
      return publicOwner(account, owner);
    });
  }
}
