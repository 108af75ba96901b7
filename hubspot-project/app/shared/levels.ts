import type { Level } from './types.ts';

/**
 * The levels in the words of HubSpot's permission sets, widest first, as the settings page shows them; the backend's
 * explanations use the same words (backend/src/access/catalogue.ts LEVEL_LABELS, which a test holds these to).
 */
export const LEVEL_LABELS: Record<Level, string> = {
  everything: 'All',
  'team+unassigned': 'Team and unassigned',
  team: 'Team',
  'owned+unassigned': 'Owned and unassigned',
  owned: 'Owned only',
  none: 'None',
};

export const LEVEL_OPTIONS: Array<{ value: Level; label: string }> = (Object.keys(LEVEL_LABELS) as Level[]).map((value) => ({
  value,
  label: LEVEL_LABELS[value],
}));
