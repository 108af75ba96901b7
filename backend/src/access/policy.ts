import { z } from 'zod';
import { LEVEL_LABELS, PERMISSION_NAMES } from './catalogue.js';
import { levelCovers, OWNER_RELATIONS, type OwnerRelation } from './decide.js';
import { actionsOf, LEVELS, OBJECT_TYPES, OBJECT_TYPE_NAMES, type Action, type Grant, type Level, type ObjectType } from './model.js';

/**
 * The levels an account's admin sets in Viewer Guard's settings, for when HubSpot's permissions API cannot
 * answer. Most specific wins: user, then team, then role, then the account default. Where a viewer matches
 * several teams (or roles) at the same specificity, the widest level wins, as a user holds all of them at once.
 *
 * The invariant: per object type, Edit, Delete and Communicate never reach a record that View hides, or a viewer
 * refused a ticket could still change it. Save refuses a rule that breaks it within itself; resolution caps every
 * other action at View's resolved level, because each action picks its own most specific rule (a user's View over
 * a team's Edit) and versions saved before this check may break it.
 */

const levelSchema = z.enum(LEVELS);
export type LevelMap = { [T in ObjectType]?: Partial<Record<(typeof OBJECT_TYPES)[T]['actions'][number], Level>> };

/** Per object type, only its own actions: `communicate` on tickets is refused by name, not silently ignored. */
export const levelMapSchema: z.ZodType<LevelMap> = z.strictObject(
  Object.fromEntries(
    OBJECT_TYPE_NAMES.map((objectType) => [
      objectType,
      z.strictObject(Object.fromEntries(OBJECT_TYPES[objectType].actions.map((action) => [action, levelSchema.optional()]))).optional(),
    ]),
  ),
);

const idKey = z.string().regex(/^\d+$/, 'must be a numeric HubSpot id');

/** The shape alone, for reading stored versions: one saved before the invariant was checked must still load (resolution caps it). */
export const policyShapeSchema = z.object({
  default: levelMapSchema.default({}),
  roles: z.record(idKey, levelMapSchema).default({}),
  teams: z.record(idKey, levelMapSchema).default({}),
  users: z.record(idKey, levelMapSchema).default({}),
});
export type PolicyDocument = z.infer<typeof policyShapeSchema>;

/** A document an admin may save: the shape, and no rule whose Edit, Delete or Communicate reaches past its own View. */
export const policyDocumentSchema = policyShapeSchema.superRefine((document, context) => {
  for (const violation of invariantViolations(document)) context.addIssue({ code: 'custom', path: violation.path, message: violation.message });
});

export const EMPTY_POLICY: PolicyDocument = { default: {}, roles: {}, teams: {}, users: {} };

export interface PolicySubject {
  userId: number;
  superAdmin: boolean;
  teamIds: readonly string[];
  roleIds: readonly string[];
}

/** True when `level` reaches no record that `bound` does not. */
export function levelWithin(level: Level, bound: Level): boolean {
  return OWNER_RELATIONS.every((relation) => !levelCovers(level, relation) || levelCovers(bound, relation));
}

/**
 * The level reaching exactly the records both reach. The six levels are closed under intersection (a test checks
 * every pair), so the search always finds one; `none` only fails closed for the type checker.
 */
export function levelMeet(a: Level, b: Level): Level {
  const reachesBoth = (relation: OwnerRelation) => levelCovers(a, relation) && levelCovers(b, relation);
  return LEVELS.find((level) => OWNER_RELATIONS.every((relation) => levelCovers(level, relation) === reachesBoth(relation))) ?? 'none';
}

function pick(map: LevelMap | undefined, objectType: ObjectType, action: Action): Level | undefined {
  const levels: Partial<Record<Action, Level>> | undefined = map?.[objectType];
  return levels?.[action];
}

/** Every rule of a document with its name in words (as resolution names it) and its path in the document. */
function rules(document: PolicyDocument): Array<{ rule: string; path: string[]; map: LevelMap }> {
  const tiers = [
    ['role', 'roles'],
    ['team', 'teams'],
    ['user', 'users'],
  ] as const;
  return [
    { rule: 'account default', path: ['default'], map: document.default },
    ...tiers.flatMap(([kind, key]) => Object.entries(document[key]).map(([id, map]) => ({ rule: `${kind} ${id}`, path: [key, id], map }))),
  ];
}

/** A rule's own breaks of the invariant. A rule without View is left to resolution, where another rule supplies it. */
function invariantViolations(document: PolicyDocument): Array<{ path: string[]; message: string }> {
  return rules(document).flatMap(({ rule, path, map }) =>
    OBJECT_TYPE_NAMES.flatMap((objectType) => {
      const view = pick(map, objectType, 'view');
      if (view === undefined) return [];
      return actionsOf(objectType).flatMap((action) => {
        const level = pick(map, objectType, action);
        if (action === 'view' || level === undefined || levelWithin(level, view)) return [];
        const permission = PERMISSION_NAMES[action];
        const plural = OBJECT_TYPES[objectType].plural;
        const allowed = levelMeet(level, view);
        const narrower = allowed === 'none' ? `'${LEVEL_LABELS.none}'` : `'${LEVEL_LABELS[allowed]}' or narrower`;
        return [
          {
            path: [...path, objectType, action],
            message:
              `${rule}: ${plural} ${permission} '${LEVEL_LABELS[level]}' would reach ${plural} that View '${LEVEL_LABELS[view]}' hides; ` +
              `set ${permission} to ${narrower}, or widen View`,
          },
        ];
      });
    }),
  );
}

const widest = (levels: Level[]): Level | undefined =>
  levels.length === 0 ? undefined : levels.reduce((best, level) => (LEVELS.indexOf(level) < LEVELS.indexOf(best) ? level : best));

/** The most specific rule setting this action, on its own: before the cap at View. */
function resolveRule(policy: PolicyDocument, subject: PolicySubject, objectType: ObjectType, action: Action): Grant {
  const userLevel = pick(policy.users[String(subject.userId)], objectType, action);
  if (userLevel !== undefined) return { level: userLevel, source: 'policy', rule: `user ${subject.userId}`, configured: true };

  const tiers: Array<[string, Record<string, LevelMap>, readonly string[]]> = [
    ['team', policy.teams, subject.teamIds],
    ['role', policy.roles, subject.roleIds],
  ];
  for (const [kind, maps, ids] of tiers) {
    const matches = ids.flatMap((id) => {
      const level = pick(maps[id], objectType, action);
      return level === undefined ? [] : [{ id, level }];
    });
    const level = widest(matches.map((match) => match.level));
    if (level !== undefined) {
      const winner = matches.find((match) => match.level === level);
      return { level, source: 'policy', rule: `${kind} ${winner?.id}`, configured: true };
    }
  }

  const fallback = pick(policy.default, objectType, action);
  if (fallback !== undefined) return { level: fallback, source: 'policy', rule: 'account default', configured: true };
  return { level: 'none', source: 'policy', rule: 'not configured', configured: false };
}

/**
 * The viewer's level for one action. Any action but View is capped at View's level; when that narrows it, the rule
 * says so ("team 302, limited to View's level from user 2002"), and an unconfigured View leaves it unconfigured too.
 */
export function resolvePolicyGrant(policy: PolicyDocument, subject: PolicySubject, objectType: ObjectType, action: Action): Grant {
  if (subject.superAdmin) return { level: 'everything', source: 'policy', rule: 'super admin', configured: true };
  const grant = resolveRule(policy, subject, objectType, action);
  if (action === 'view') return grant;
  const view = resolveRule(policy, subject, objectType, 'view');
  const level = levelMeet(grant.level, view.level);
  if (level === grant.level) return grant;
  const limit = view.configured ? `from ${view.rule}` : '(not configured)';
  return { level, source: 'policy', rule: `${grant.rule}, limited to View's level ${limit}`, configured: view.configured };
}
