/**
 * A HubSpot search filter: 2026-03/tickets.json, components.schemas.Filter (propertyName, operator, value or values). Kept inside hubspot/: callers describe what they want as an OwnerScope.
 */
export type SearchFilter =
  | { propertyName: string; operator: 'EQ' | 'NEQ'; value: string }
  | { propertyName: string; operator: 'IN'; values: string[] }
  | { propertyName: string; operator: 'HAS_PROPERTY' | 'NOT_HAS_PROPERTY' };

/**
 * Which records by owner: everything, nothing, or "owned by one of these owners (and maybe unassigned)". The same
 * shape as access/'s Visibility, declared here so hubspot/ stays a leaf (TypeScript matches them structurally).
 */
export type OwnerScope = { kind: 'all' } | { kind: 'none' } | { kind: 'owners'; ownerIds: readonly number[]; unassigned: boolean };

/**
 * Turns "which owners may the viewer see" into HubSpot search filterGroups (groups are ORed, filters within a group
 * ANDed), within HubSpot's limits: 5 groups, 10 filters per group, 25 in all (Search API changelog, 2024-08-26);
 * 100 values per IN is our own conservative cap. `base` (e.g. "associated with this contact") goes into every group;
 * `ownerProperty` is the object's owner property (crm.ts's CRM_OBJECTS).
 * Returns undefined when the rule cannot be expressed within the limits; the caller then searches with `base` alone
 * and filters the results itself, which is slower but still never shows a hidden record.
 */
export const SEARCH_LIMITS = { groups: 5, filtersPerGroup: 10, filters: 25, inValues: 100 } as const;

export function ownerScopeFilterGroups(rule: OwnerScope, base: SearchFilter[], ownerProperty: string): Array<{ filters: SearchFilter[] }> | 'none' | undefined {
  if (rule.kind === 'none') return 'none';
  if (rule.kind === 'all') return [{ filters: base }];
  const groups: Array<{ filters: SearchFilter[] }> = [];
  for (let start = 0; start < rule.ownerIds.length; start += SEARCH_LIMITS.inValues) {
    const chunk = rule.ownerIds.slice(start, start + SEARCH_LIMITS.inValues).map(String);
    groups.push({ filters: [...base, { propertyName: ownerProperty, operator: 'IN', values: chunk }] });
  }
  if (rule.unassigned) groups.push({ filters: [...base, { propertyName: ownerProperty, operator: 'NOT_HAS_PROPERTY' }] });
  // No owners and no unassigned records: no group at all would search without the owner filter, i.e. everyone's records.
  if (groups.length === 0) return 'none';
  const total = groups.reduce((sum, group) => sum + group.filters.length, 0);
  const fits =
    groups.length <= SEARCH_LIMITS.groups && total <= SEARCH_LIMITS.filters && groups.every((group) => group.filters.length <= SEARCH_LIMITS.filtersPerGroup);
  return fits ? groups : undefined;
}

/** HubSpot search's pseudo-property for "associated with this contact" (CRM search guide, "Search through associations"). */
export function associatedWithContact(contactId: string): SearchFilter[] {
  return [{ propertyName: 'associations.contact', operator: 'EQ', value: contactId }];
}
