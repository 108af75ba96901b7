import type { SeedAccount, SeedUser } from './seed.js';

/**
 * How HubSpot applies a user's permission set to one record, computed independently of the backend's access/
 * module so tests compare two implementations. Team access goes by the record owner's teams.
 */
export type ObjectKind = 'tickets' | 'contacts';
type Record = SeedAccount['tickets'][number];

function teamsOfOwner(account: SeedAccount, ownerId: string | null | undefined): string[] {
  const owner = account.owners.find((candidate) => String(candidate.id) === ownerId);
  const user = account.users.find((candidate) => candidate.id === owner?.userId);
  if (user === undefined) return [];
  return [...(user.primaryTeamId === undefined ? [] : [user.primaryTeamId]), ...user.secondaryTeamIds];
}

export function userMay(account: SeedAccount, user: SeedUser, kind: ObjectKind, action: string, record: Record): boolean {
  if (user.deactivated) return false;
  if (user.superAdmin) return true;
  const permissions: Partial<globalThis.Record<string, string>> = user.permissions[kind];
  const level = permissions[action] ?? 'none';
  const ownerId = record.properties.hubspot_owner_id ?? null;
  const ownId = account.owners.find((owner) => owner.userId === user.id && !owner.archived)?.id;
  const mine = ownId !== undefined && ownerId === String(ownId);
  const userTeams = [...(user.primaryTeamId === undefined ? [] : [user.primaryTeamId]), ...user.secondaryTeamIds];
  const team = mine || teamsOfOwner(account, ownerId).some((id) => userTeams.includes(id));
  const unassigned = ownerId === null || ownerId === '';
  switch (level) {
    case 'everything':
      return true;
    case 'team+unassigned':
      return team || unassigned;
    case 'team':
      return team;
    case 'owned+unassigned':
      return mine || unassigned;
    case 'owned':
      return mine;
    default:
      return false;
  }
}
