import type { SeedAccount, SeedUser } from './seed.js';

/**
 * How HubSpot applies a user's permission set to one record, computed independently of the backend's access/
 * module so tests compare two implementations. Team access goes by the record owner's teams.
 */
export type ObjectKind = 'tickets' | 'contacts' | 'deals' | 'companies';
/**
 * The object types whose permission set has Communicate: "contacts and companies" (HubSpot's user permissions guide,
 * knowledge.hubspot.com/settings/hubspot-user-permissions-guide, "Object Access").
 */
export const COMMUNICATES: ReadonlySet<ObjectKind> = new Set(['contacts', 'companies']);
type Record = SeedAccount['tickets'][number];

const teamsOf = (user: SeedUser | undefined): string[] =>
  user === undefined ? [] : [...(user.primaryTeamId === undefined ? [] : [user.primaryTeamId]), ...user.secondaryTeamIds];

/**
 * Who may take which action on one record, its owner's teams and each user's own owner id looked up once: the
 * permissions API answers for every user of the account, which would otherwise cost users x owners per record.
 */
export function recordAccess(account: SeedAccount, kind: ObjectKind, record: Record): (user: SeedUser, action: string) => boolean {
  const ownerId = record.properties.hubspot_owner_id ?? null;
  const recordOwner = account.owners.find((candidate) => String(candidate.id) === ownerId);
  const ownerTeams = teamsOf(account.users.find((candidate) => candidate.id === recordOwner?.userId));
  const ownIdOf = new Map<number, number>();
  for (const owner of account.owners) if (owner.userId !== undefined && !owner.archived && !ownIdOf.has(owner.userId)) ownIdOf.set(owner.userId, owner.id);
  const unassigned = ownerId === null || ownerId === '';

  return (user, action) => {
    if (user.deactivated) return false;
    if (user.superAdmin) return true;
    const permissions: Partial<globalThis.Record<string, string>> = user.permissions[kind];
    const level = permissions[action] ?? 'none';
    const ownId = ownIdOf.get(user.id);
    const mine = ownId !== undefined && ownerId === String(ownId);
    const userTeams = teamsOf(user);
    const team = mine || ownerTeams.some((id) => userTeams.includes(id));
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
  };
}

export function userMay(account: SeedAccount, user: SeedUser, kind: ObjectKind, action: string, record: Record): boolean {
  return recordAccess(account, kind, record)(user, action);
}
