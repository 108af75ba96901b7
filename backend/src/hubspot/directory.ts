import { AppError } from '../errors.js';
import { createTtlCache } from '../lib/ttl-cache.js';
import type { HubSpotApi, Team } from './api.js';
import type { OwnerRecord } from './crm.js';

/** A HubSpot user as the access rules see them: identity, owner id, teams and admin flag. */
export interface Viewer {
  portalId: number;
  userId: number;
  email: string;
  firstName: string | undefined;
  lastName: string | undefined;
  superAdmin: boolean;
  roleIds: string[];
  /** The CRM owner id (what `hubspot_owner_id` holds), which is not the user id; null if the user owns nothing. */
  ownerId: number | null;
  teams: Array<Team & { primary: boolean }>;
}

export interface Directory {
  /** Throws USER_NOT_IN_PORTAL when the user is not an active user of that account. */
  resolveViewer(portalId: number, userId: number): Promise<Viewer>;
  /** The account's active owners with their teams, for names and team membership. */
  owners(portalId: number): Promise<OwnerRecord[]>;
  teams(portalId: number): Promise<Team[]>;
}

export interface DirectoryOptions {
  api: HubSpotApi;
  /** How long a user's HubSpot profile is trusted; a user removed in HubSpot loses access when it passes. */
  ttlMs: number;
  now: () => number;
  maxEntries?: number;
}

export function createDirectory(options: DirectoryOptions): Directory {
  const maxEntries = options.maxEntries ?? 10_000;
  const viewers = createTtlCache<Viewer>({ ttlMs: options.ttlMs, maxEntries, now: options.now });
  const teamLists = createTtlCache<Team[]>({ ttlMs: options.ttlMs, maxEntries, now: options.now });
  const ownerLists = createTtlCache<OwnerRecord[]>({ ttlMs: options.ttlMs, maxEntries, now: options.now });

  async function load(portalId: number, userId: number): Promise<Viewer> {
    const portal = options.api.forPortal(portalId);
    const user = await portal.getUser(userId);
    if (user === undefined) throw new AppError('USER_NOT_IN_PORTAL');
    const [owner, teams] = await Promise.all([
      portal.getOwnerByUserId(userId),
      teamLists.getOrLoad(String(portalId), () => portal.listTeams()),
    ]);
    const memberOf = [
      ...(user.primaryTeamId === undefined ? [] : [{ id: user.primaryTeamId, primary: true }]),
      ...(user.secondaryTeamIds ?? []).map((id) => ({ id, primary: false })),
    ];
    return {
      portalId,
      userId,
      email: user.email,
      firstName: user.firstName,
      lastName: user.lastName,
      superAdmin: user.superAdmin,
      roleIds: user.roleIds,
      ownerId: owner === undefined || owner.archived ? null : owner.id,
      teams: memberOf.map((membership) => ({
        ...membership,
        // A team deleted since the user was read keeps its id, so decisions still match by id.
        name: teams.find((team) => team.id === membership.id)?.name ?? `Team ${membership.id}`,
      })),
    };
  }

  return {
    resolveViewer: (portalId, userId) => viewers.getOrLoad(`${portalId}:${userId}`, () => load(portalId, userId)),
    teams: (portalId) => teamLists.getOrLoad(String(portalId), () => options.api.forPortal(portalId).listTeams()),
    owners: (portalId) => ownerLists.getOrLoad(String(portalId), () => options.api.forPortal(portalId).listOwners()),
  };
}
