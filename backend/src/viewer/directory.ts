import { AppError } from '../errors.js';
import type { CacheRegistry, CacheValue } from '../lib/bounded-cache.js';
import { createTtlCache } from '../lib/ttl-cache.js';
import type { PortalApi, Team } from '../hubspot/api.js';
import type { OwnerRecord } from '../hubspot/crm.js';

/** A HubSpot user as the access rules see them: identity, owner id, teams and admin flag. */
export interface Viewer {
  portalId: number;
  userId: number;
  email: string;
  firstName: string | undefined;
  lastName: string | undefined;
  superAdmin: boolean;
  roleIds: string[];
  /** The CRM owner id (what a record's owner holds), which is not the user id; null if the user owns nothing. */
  ownerId: number | null;
  teams: Array<Team & { primary: boolean }>;
}

/**
 * Who people are in an account: the viewer's profile, the owners with their teams, the team names. Every answer is a
 * permission fact (Super Admin, teams, owner id decide access), so each cache below states its bound and what
 * invalidates it:
 * - viewers, per user: `ttlMs` (VIEWER_CACHE_TTL_SECONDS, default 60 s), at most DIRECTORY_CACHE_BYTES.viewers (about
 *   0.6 KiB a viewer: some 6,500 viewers); nothing we do changes a user, and HubSpot tells us nothing, so a user
 *   deactivated or moved between teams in HubSpot is seen when the entry expires (README "Trust and caching").
 * - owners, per account: the same TTL, at most DIRECTORY_CACHE_BYTES.owners (about 230 KiB for an account of 1,000
 *   owners: some 50 such accounts); our own writes change records, never owners or teams.
 * - teams, per account: the same TTL, at most DIRECTORY_CACHE_BYTES.teams.
 * Least recently used entries go first. Failed loads are never cached (createTtlCache forgets them), so a HubSpot
 * hiccup does not stick. A load in progress is shared by concurrent requests, each of which waits for it no longer
 * than its own deadline (`portal.deadline`).
 */
export interface Directory {
  /** Throws USER_NOT_IN_PORTAL when the user is not an active user of that account. */
  resolveViewer(portal: PortalApi, userId: number): Promise<Viewer>;
  /** The account's active owners with their teams, for names and team membership. */
  owners(portal: PortalApi): Promise<OwnerRecord[]>;
  teams(portal: PortalApi): Promise<Team[]>;
}

const MiB = 1024 * 1024;

/** Each cache's bound in bytes (estimated: lib/byte-size.ts), 17 MiB together. */
export const DIRECTORY_CACHE_BYTES = { viewers: 4 * MiB, owners: 12 * MiB, teams: 1 * MiB };

export interface DirectoryOptions {
  ttlMs: number;
  now: () => number;
  /** Smaller bounds (tests); DIRECTORY_CACHE_BYTES by default. */
  maxBytes?: Partial<typeof DIRECTORY_CACHE_BYTES>;
  registry?: CacheRegistry;
}

export function createDirectory(options: DirectoryOptions): Directory {
  const bounds = { ...DIRECTORY_CACHE_BYTES, ...options.maxBytes };
  const cache = <V extends CacheValue>(name: keyof typeof DIRECTORY_CACHE_BYTES) =>
    createTtlCache<V>({
      name,
      ttlMs: options.ttlMs,
      maxBytes: bounds[name],
      now: options.now,
      ...(options.registry === undefined ? {} : { registry: options.registry }),
    });
  const viewers = cache<Viewer>('viewers');
  const teamLists = cache<Team[]>('teams');
  const ownerLists = cache<OwnerRecord[]>('owners');

  const shared = <V>(portal: PortalApi, load: Promise<V>) => portal.deadline.wait(load, 'HubSpot did not answer in time');
  const teams = (portal: PortalApi) =>
    shared(
      portal,
      teamLists.getOrLoad(String(portal.portalId), () => portal.listTeams()),
    );

  async function load(portal: PortalApi, userId: number): Promise<Viewer> {
    const user = await portal.getUser(userId);
    if (user === undefined) throw new AppError('USER_NOT_IN_PORTAL');
    const [owner, names] = await Promise.all([portal.getOwnerByUserId(userId), teams(portal)]);
    const memberOf = [
      ...(user.primaryTeamId === undefined ? [] : [{ id: user.primaryTeamId, primary: true }]),
      ...(user.secondaryTeamIds ?? []).map((id) => ({ id, primary: false })),
    ];
    return {
      portalId: portal.portalId,
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
        name: names.find((team) => team.id === membership.id)?.name ?? `Team ${membership.id}`,
      })),
    };
  }

  return {
    resolveViewer: (portal, userId) =>
      shared(
        portal,
        viewers.getOrLoad(`${portal.portalId}:${userId}`, () => load(portal, userId)),
      ),
    teams,
    owners: (portal) =>
      shared(
        portal,
        ownerLists.getOrLoad(String(portal.portalId), () => portal.listOwners()),
      ),
  };
}

/** The name a person is shown by: first and last name, else the email. */
export function displayName(person: { firstName?: string | undefined; lastName?: string | undefined; email: string }): string {
  return [person.firstName, person.lastName].filter(Boolean).join(' ') || person.email;
}
