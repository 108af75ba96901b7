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

/**
 * The one cell the demo's and calibration's saved policy deliberately gets wrong: Carla's ticket Delete, which the seed
 * gives her at Team, saved as Owned only (still within her View, so the policy is valid). Calibration must find it.
 */
export const DELIBERATE_DRIFT = { firstName: 'Carla', objectType: 'tickets', action: 'delete', saved: 'owned' } as const;

/** mirrorPolicy with DELIBERATE_DRIFT applied. */
export function driftedMirrorPolicy(account: SeedAccount): PolicyDocument {
  const policy = mirrorPolicy(account);
  const user = account.users.find((candidate) => candidate.firstName === DELIBERATE_DRIFT.firstName);
  const rules = user === undefined ? undefined : policy.users[String(user.id)]?.[DELIBERATE_DRIFT.objectType];
  if (rules === undefined) throw new Error(`the seed has no ${DELIBERATE_DRIFT.firstName} to drift`);
  rules[DELIBERATE_DRIFT.action] = DELIBERATE_DRIFT.saved;
  return policy;
}
