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

/** Seeded data has no history; every object reports the same fixed creation time. */
export const SEEDED_AT = '2026-01-05T09:00:00.000Z';
