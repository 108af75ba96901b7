/**
 * The vocabulary of access, mirroring HubSpot's permission sets: per object type and action, a level saying
 * which records a user may touch. Adding an object type is one entry in OBJECT_TYPES (and one in hubspot/crm.ts's
 * CRM_OBJECTS, which says where HubSpot keeps it).
 */

export const OBJECT_TYPES = {
  contacts: {
    singular: 'contact',
    plural: 'contacts',
    actions: ['view', 'edit', 'delete', 'communicate'],
  },
  tickets: {
    singular: 'ticket',
    plural: 'tickets',
    actions: ['view', 'edit', 'delete'],
  },
  /**
   * HubSpot's user permissions guide (knowledge.hubspot.com/settings/hubspot-user-permissions-guide, "Object Access"):
   * deals have View, Edit and Delete; Communicate covers "contacts and companies" only.
   */
  deals: {
    singular: 'deal',
    plural: 'deals',
    actions: ['view', 'edit', 'delete'],
    recordCard: true,
  },
  companies: {
    singular: 'company',
    plural: 'companies',
    actions: ['view', 'edit', 'delete', 'communicate'],
    recordCard: true,
  },
} as const satisfies Record<string, { singular: string; plural: string; actions: readonly Action[]; recordCard?: true }>;

export type ObjectType = keyof typeof OBJECT_TYPES;
export const OBJECT_TYPE_NAMES = Object.keys(OBJECT_TYPES) as ObjectType[];

/**
 * The object types served by the shared record card and its actions (assign to me, add a note), marked `recordCard`;
 * tickets and contacts have cards and routes of their own.
 */
export type RecordCardType = { [T in ObjectType]: (typeof OBJECT_TYPES)[T] extends { recordCard: true } ? T : never }[ObjectType];
export const RECORD_CARD_TYPES = OBJECT_TYPE_NAMES.filter((objectType): objectType is RecordCardType => 'recordCard' in OBJECT_TYPES[objectType]);

export const ACTIONS = ['view', 'edit', 'delete', 'communicate'] as const;
export type Action = (typeof ACTIONS)[number];

/** From widest to narrowest. `+unassigned` adds records with no owner. */
export const LEVELS = ['everything', 'team+unassigned', 'team', 'owned+unassigned', 'owned', 'none'] as const;
export type Level = (typeof LEVELS)[number];

export function actionsOf(objectType: ObjectType): readonly Action[] {
  return OBJECT_TYPES[objectType].actions;
}

/** What the rules need to know about the person asking. */
export interface ViewerFacts {
  userId: number;
  name: string;
  superAdmin: boolean;
  /** The CRM owner id (what hubspot_owner_id holds); null when the user is not an owner. */
  ownerId: number | null;
  /** Primary and secondary teams. */
  teams: ReadonlyArray<{ id: string; name: string }>;
}

/** What the rules need to know about the record. Team access goes by the owner's teams, not a team field. */
export interface RecordFacts {
  objectType: ObjectType;
  id: string;
  owner: { ownerId: number; name: string; teamIds: readonly string[] } | null;
}

export type AccessSourceName = 'hubspot' | 'policy';

/** Where a level came from, so an explanation can name the rule that matched. */
export interface Grant {
  level: Level;
  source: AccessSourceName;
  /** e.g. "super admin", "user 7", "team Support EU", "role Agent", "account default", "not configured". */
  rule: string;
  configured: boolean;
}
