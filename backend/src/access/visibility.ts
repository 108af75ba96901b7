import type { Grant, ViewerFacts } from './model.js';

/**
 * The set of records a viewer may see, in terms a search can express: everything, nothing, or "owned by one of
 * these owners (and maybe unassigned)". hubspot/ turns it into search filterGroups; decide() answers the same
 * question for one record, and a property test proves the two agree.
 */
export type Visibility = { kind: 'all' } | { kind: 'none' } | { kind: 'owners'; ownerIds: number[]; unassigned: boolean };

/**
 * @param teamOwnerIds owner ids of everyone on the viewer's teams (primary and secondary), the viewer included.
 */
export function visibility(viewer: ViewerFacts, grant: Grant, teamOwnerIds: readonly number[]): Visibility {
  if (viewer.superAdmin) return { kind: 'all' };
  if (!grant.configured) return { kind: 'none' };
  const own = viewer.ownerId === null ? [] : [viewer.ownerId];
  const shape = (ownerIds: number[], unassigned: boolean): Visibility =>
    ownerIds.length === 0 && !unassigned ? { kind: 'none' } : { kind: 'owners', ownerIds: [...new Set(ownerIds)].sort((a, b) => a - b), unassigned };
  switch (grant.level) {
    case 'everything':
      return { kind: 'all' };
    case 'none':
      return { kind: 'none' };
    case 'owned':
      return shape(own, false);
    case 'owned+unassigned':
      return shape(own, true);
    case 'team':
      return shape([...own, ...teamOwnerIds], false);
    case 'team+unassigned':
      return shape([...own, ...teamOwnerIds], true);
  }
}

export function isVisible(rule: Visibility, ownerId: number | null): boolean {
  if (rule.kind !== 'owners') return rule.kind === 'all';
  return ownerId === null ? rule.unassigned : rule.ownerIds.includes(ownerId);
}
