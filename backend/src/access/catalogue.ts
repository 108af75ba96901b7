import { OBJECT_TYPES, type Action, type Level, type ObjectType } from './model.js';

/**
 * Every decision code with its plain message and fix, in one place so the card, the settings page and the audit
 * log all say the same thing. Messages speak to the viewer; fixes say who can change it and how.
 */

export const LEVEL_LABELS: Record<Level, string> = {
  everything: 'All',
  'team+unassigned': 'Team and unassigned',
  team: 'Team',
  'owned+unassigned': 'Owned and unassigned',
  owned: 'Owned only',
  none: 'None',
};

const VERBS: Record<Action, string> = { view: 'open', edit: 'edit', delete: 'delete', communicate: 'email or call' };
/** HubSpot's names for the permissions, as its permission sets and our settings page show them. */
export const PERMISSION_NAMES: Record<Action, string> = { view: 'View', edit: 'Edit', delete: 'Delete', communicate: 'Communicate' };

export interface MessageFacts {
  objectType: ObjectType;
  action: Action;
  ownerName?: string;
  teamNames?: string;
}

interface Entry {
  allowed: boolean;
  message: (facts: MessageFacts) => string;
  fix: ((facts: MessageFacts) => string) | null;
}

const plural = (facts: MessageFacts) => OBJECT_TYPES[facts.objectType].plural;
const singular = (facts: MessageFacts) => OBJECT_TYPES[facts.objectType].singular;
const verb = (facts: MessageFacts) => VERBS[facts.action];
const permission = (facts: MessageFacts) => PERMISSION_NAMES[facts.action];
const firstName = (name: string | undefined) => (name ?? 'the owner').split(' ')[0] ?? 'the owner';

export const DECISIONS = {
  ALLOWED_SUPER_ADMIN: {
    allowed: true,
    message: (f) => `You are a Super Admin, so you can ${verb(f)} every ${singular(f)}.`,
    fix: null,
  },
  ALLOWED_ALL: {
    allowed: true,
    message: (f) => `You have All access to ${plural(f)}.`,
    fix: null,
  },
  ALLOWED_OWNER: {
    allowed: true,
    message: (f) => `You own this ${singular(f)}.`,
    fix: null,
  },
  ALLOWED_TEAM: {
    allowed: true,
    message: (f) => `This ${singular(f)} is owned by ${f.ownerName}, who is on your team (${f.teamNames}).`,
    fix: null,
  },
  ALLOWED_UNASSIGNED: {
    allowed: true,
    message: (f) => `This ${singular(f)} has no owner, and your access includes unassigned ${plural(f)}.`,
    fix: null,
  },
  ALLOWED_BY_HUBSPOT: {
    allowed: true,
    message: (f) => `HubSpot's permissions allow you to ${verb(f)} this ${singular(f)}.`,
    fix: null,
  },
  OWNED_ONLY_NOT_OWNER: {
    allowed: false,
    message: (f) => `You can only ${verb(f)} ${plural(f)} you own. This one is owned by ${f.ownerName}.`,
    fix: (f) => `Ask a Super Admin to give you Team access to ${plural(f)}, or ask ${firstName(f.ownerName)} to reassign it.`,
  },
  OWNED_ONLY_UNASSIGNED: {
    allowed: false,
    message: (f) => `You can only ${verb(f)} ${plural(f)} you own. This one has no owner.`,
    fix: (f) => `Ask a Super Admin to include unassigned ${plural(f)} in your access, or to assign this ${singular(f)} to you.`,
  },
  TEAM_ONLY_OTHER_TEAM: {
    allowed: false,
    message: (f) =>
      `You can only ${verb(f)} ${plural(f)} owned by you or your team${f.teamNames ? ` (${f.teamNames})` : ''}. This one is owned by ${f.ownerName}, who is not on your team.`,
    fix: (f) => `Ask a Super Admin to give you All access to ${plural(f)}, or ask ${firstName(f.ownerName)} to reassign it.`,
  },
  TEAM_ONLY_UNASSIGNED: {
    allowed: false,
    message: (f) => `You can only ${verb(f)} ${plural(f)} owned by you or your team. This one has no owner.`,
    fix: (f) => `Ask a Super Admin to include unassigned ${plural(f)} in your access, or to assign this ${singular(f)} to your team.`,
  },
  NO_PERMISSION: {
    allowed: false,
    message: (f) => `You don't have the ${permission(f)} permission for ${plural(f)} in HubSpot.`,
    fix: (f) => `Ask a Super Admin to give you ${permission(f)} access to ${plural(f)}.`,
  },
  NOT_CONFIGURED: {
    allowed: false,
    message: (f) => `Your Viewer Guard access to ${plural(f)} has not been set up yet.`,
    fix: (f) => `Ask a Super Admin to set your ${permission(f)} level for ${plural(f)} in Viewer Guard's settings.`,
  },
  DENIED_BY_HUBSPOT: {
    allowed: false,
    message: (f) => `HubSpot's permissions don't allow you to ${verb(f)} this ${singular(f)}${f.ownerName ? ` (owned by ${f.ownerName})` : ''}.`,
    fix: (f) => `Ask a Super Admin to check your ${permission(f)} permission for ${plural(f)} in HubSpot.`,
  },
  ACCESS_UNKNOWN: {
    allowed: false,
    message: (f) => `Viewer Guard could not confirm your permission to ${verb(f)} this ${singular(f)}, so it refused to guess.`,
    fix: () => 'Try again in a minute. If it keeps happening, ask a Super Admin to open the Viewer Guard settings page.',
  },
  ACTION_NOT_APPLICABLE: {
    allowed: false,
    message: (f) => `${permission(f)} does not apply to ${plural(f)}.`,
    fix: null,
  },
} as const satisfies Record<string, Entry>;

export type DecisionCode = keyof typeof DECISIONS;
