import type { ObjectKind } from './permissions.js';
import { levelsSchemas, type SeedAccount, type SeedUser } from './seed.js';
import type { FakeState } from './state.js';

/**
 * Changes an admin or a colleague makes in HubSpot's own UI while our backend runs, so tests can prove that the
 * backend's caches of users, teams, owners and permissions do not outlive the change they depend on. Each switch
 * edits the fake's own copy of the seed (FakeState.seed), which every route reads on every request, so the next
 * API answer already reflects it. A switch given an id the portal does not have throws instead of guessing.
 */
export interface FakeWorld {
  /** Sets the record's `hubspot_owner_id` to an active owner of that portal (an owner id, not a user id), or null for unassigned. */
  reassign(portalId: number, objectType: ObjectKind, recordId: string, ownerId: number | null): void;
  /** The user leaves the Users API (404, out of the list and teams) and their owner record becomes archived; their records keep that owner. */
  deactivateUser(portalId: number, userId: number): void;
  /** Replaces the user's primary and secondary teams; their owner record's `teams` and team-level permissions follow. */
  setTeams(portalId: number, userId: number, teams: { primary: string | undefined; secondary: string[] }): void;
  /** Changes some levels of the user's permission set for one object type; the permissions API answers with them. */
  setPermissions<K extends ObjectKind>(portalId: number, userId: number, objectType: K, levels: Partial<SeedUser['permissions'][K]>): void;
}

export function createWorld(state: FakeState): FakeWorld {
  const accountOf = (portalId: number): SeedAccount => {
    const account = state.account(portalId);
    if (account === undefined) throw new Error(`world: the seed has no account with portal id ${portalId}`);
    return account;
  };
  const userOf = (account: SeedAccount, userId: number): SeedUser => {
    const user = account.users.find((candidate) => candidate.id === userId);
    if (user === undefined) throw new Error(`world: ${userId} is not a user of portal ${account.portalId}`);
    return user;
  };

  return {
    reassign(portalId, objectType, recordId, ownerId) {
      const account = accountOf(portalId);
      const record = account[objectType].find((candidate) => candidate.id === recordId);
      if (record === undefined) throw new Error(`world: portal ${portalId} has no ${objectType} record ${recordId}`);
      if (ownerId !== null) {
        const owner = account.owners.find((candidate) => candidate.id === ownerId);
        if (owner === undefined) {
          const asUser = account.owners.find((candidate) => candidate.userId === ownerId);
          const hint = asUser === undefined ? '' : `; ${ownerId} is a user id, whose owner id is ${asUser.id}`;
          throw new Error(`world: ${ownerId} is not an owner of portal ${portalId}${hint}`);
        }
        // Records a deactivated user owned keep that owner (seeded as ticket 5009); whether HubSpot lets anyone pick an
        // archived owner is documented nowhere we have, so the switch refuses rather than model a guess.
        if (owner.archived) throw new Error(`world: owner ${ownerId} of portal ${portalId} is archived and cannot be assigned`);
      }
      record.properties.hubspot_owner_id = ownerId === null ? null : String(ownerId);
    },

    deactivateUser(portalId, userId) {
      const account = accountOf(portalId);
      userOf(account, userId).deactivated = true;
      // HubSpot's owners guide (developers.hubspot.com/docs/guides/api/crm/owners): a deactivated user's owner is
      // only returned with archived=true, without userId, the user id then being in userIdIncludingInactive;
      // crm-owners-v3.json: `archived` "Whether to return only results that have been archived", default false.
      for (const owner of account.owners) if (owner.userId === userId) owner.archived = true;
    },

    setTeams(portalId, userId, { primary, secondary }) {
      const account = accountOf(portalId);
      const user = userOf(account, userId);
      const named = [...(primary === undefined ? [] : [primary]), ...secondary];
      const unknown = named.filter((id) => !account.teams.some((team) => team.id === id));
      if (unknown.length > 0) throw new Error(`world: portal ${portalId} has no team ${unknown.join(', ')}`);
      if (new Set(named).size !== named.length)
        throw new Error(`world: a team is named twice in primary ${primary ?? 'none'}, secondary [${secondary.join(', ')}]`);
      user.primaryTeamId = primary;
      user.secondaryTeamIds = [...secondary];
    },

    setPermissions(portalId, userId, objectType, levels) {
      const user = userOf(accountOf(portalId), userId);
      // strict(): `communicate` for tickets, or a misspelt action, is a test bug, not a no-op.
      Object.assign(user.permissions[objectType], levelsSchemas[objectType].partial().strict().parse(levels));
    },
  };
}
