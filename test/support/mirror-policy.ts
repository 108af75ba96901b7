import { OBJECT_TYPE_NAMES } from '../../backend/src/access/model.js';
import type { PolicyDocument } from '../../backend/src/access/policy.js';
import type { SeedAccount } from '../hubspot-fake/index.js';

/** The policy an admin would enter to mirror the seeded HubSpot permission sets, one rule per user. */
export function mirrorPolicy(account: SeedAccount): PolicyDocument {
  return {
    default: {},
    roles: {},
    teams: {},
    users: Object.fromEntries(
      account.users.map((user) => [
        String(user.id),
        Object.fromEntries(OBJECT_TYPE_NAMES.map((objectType) => [objectType, { ...user.permissions[objectType] }])),
      ]),
    ),
  };
}
