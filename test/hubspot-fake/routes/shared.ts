import type { FastifyRequest } from 'fastify';
import type { FakeState } from '../state.js';
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

/** Seeded data has no history; every object reports the same fixed creation time. */
export const SEEDED_AT = '2026-01-05T09:00:00.000Z';
