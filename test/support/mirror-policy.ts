import type { PolicyDocument } from '../../backend/src/access/policy.js';
import type { SeedAccount } from '../hubspot-fake/index.js';

/** The policy an admin would enter to mirror the seeded HubSpot permission sets, one rule per user. */
export function mirrorPolicy(account: SeedAccount): PolicyDocument {
  return {
    default: {},
    roles: {},
    teams: {},
    users: Object.fromEntries(
      account.users.map((user) => [String(user.id), { tickets: { ...user.permissions.tickets }, contacts: { ...user.permissions.contacts } }]),
    ),
  };
}
