import { z } from 'zod';
import { LEVELS, OBJECT_TYPES, OBJECT_TYPE_NAMES, type Action, type Grant, type Level, type ObjectType } from './model.js';

/**
 * The levels an account's admin sets in Viewer Guard's settings, for when HubSpot's permissions API cannot
 * answer. Most specific wins: user, then team, then role, then the account default. Where a viewer matches
 * several teams (or roles) at the same specificity, the widest level wins, as a user holds all of them at once.
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
export const policyDocumentSchema = z.object({
  default: levelMapSchema.default({}),
  roles: z.record(idKey, levelMapSchema).default({}),
  teams: z.record(idKey, levelMapSchema).default({}),
  users: z.record(idKey, levelMapSchema).default({}),
});
export type PolicyDocument = z.infer<typeof policyDocumentSchema>;

export const EMPTY_POLICY: PolicyDocument = { default: {}, roles: {}, teams: {}, users: {} };

export interface PolicySubject {
  userId: number;
  superAdmin: boolean;
  teamIds: readonly string[];
  roleIds: readonly string[];
}

const widest = (levels: Level[]): Level | undefined =>
  levels.length === 0 ? undefined : levels.reduce((best, level) => (LEVELS.indexOf(level) < LEVELS.indexOf(best) ? level : best));

export function resolvePolicyGrant(policy: PolicyDocument, subject: PolicySubject, objectType: ObjectType, action: Action): Grant {
  if (subject.superAdmin) return { level: 'everything', source: 'policy', rule: 'super admin', configured: true };
  const pick = (map: LevelMap | undefined): Level | undefined =>
    (map?.[objectType] as Partial<Record<Action, Level>> | undefined)?.[action];

  const userLevel = pick(policy.users[String(subject.userId)]);
  if (userLevel !== undefined) return { level: userLevel, source: 'policy', rule: `user ${subject.userId}`, configured: true };

  const tiers: Array<[string, Record<string, LevelMap>, readonly string[]]> = [
    ['team', policy.teams, subject.teamIds],
    ['role', policy.roles, subject.roleIds],
  ];
  for (const [kind, maps, ids] of tiers) {
    const matches = ids.flatMap((id) => {
      const level = pick(maps[id]);
      return level === undefined ? [] : [{ id, level }];
    });
    const level = widest(matches.map((match) => match.level));
    if (level !== undefined) {
      const winner = matches.find((match) => match.level === level);
      return { level, source: 'policy', rule: `${kind} ${winner?.id}`, configured: true };
    }
  }

  const fallback = pick(policy.default);
  if (fallback !== undefined) return { level: fallback, source: 'policy', rule: 'account default', configured: true };
  return { level: 'none', source: 'policy', rule: 'not configured', configured: false };
}
