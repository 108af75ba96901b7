import { z } from 'zod';
import { LEVEL_LABELS, PERMISSION_NAMES } from './catalogue.js';
import { levelCovers, OWNER_RELATIONS, type OwnerRelation } from './decide.js';
import { actionsOf, ACTIONS, LEVELS, OBJECT_TYPES, OBJECT_TYPE_NAMES, type Action, type Level, type ObjectType } from './model.js';
import { resolvePolicyGrant, type PolicyDocument, type PolicySubject } from './policy.js';

/**
 * Calibration: HubSpot has no API that returns a user's permission level, but its permissions API answers, per record,
 * who may do what. A level is the set of owner relations it covers (levelCovers), so answers about records in each
 * relation to a user narrow the six levels down: one left is the user's level; several left means a relation the
 * account offers no record in (the evidence does not tell them apart); none left means answers no level explains.
 * Nothing here guesses: an undecided cell stays unset, and adopting it keeps the policy as it was.
 */

const levelSchema = z.enum(LEVELS);
const relationSchema = z.enum(OWNER_RELATIONS);
const actionSchema = z.enum(ACTIONS);
const objectTypeSchema = z.enum(OBJECT_TYPE_NAMES as [ObjectType, ...ObjectType[]]);

/** One answer of HubSpot's permissions API about one record, seen from one user. */
export interface Observation {
  recordId: string;
  relation: OwnerRelation;
  allowed: boolean;
  /** Whose record it is, for the evidence sentence: null when it has no owner. */
  owner: { name: string; teamNames: readonly string[] } | null;
}

/** What the inference knows of the user, for sentences and for why a relation cannot be sampled. */
export interface CalibrationSubject {
  userId: number;
  name: string;
  /** Not a HubSpot owner: no record can be theirs, so the "self" relation never appears. */
  isOwner: boolean;
  teamNames: readonly string[];
}

export const evidenceSchema = z.object({ recordId: z.string(), relation: relationSchema, allowed: z.boolean(), sentence: z.string() });
export type Evidence = z.infer<typeof evidenceSchema>;

export const cellSchema = z.discriminatedUnion('status', [
  z.object({ status: z.literal('inferred'), level: levelSchema, evidence: z.array(evidenceSchema), conclusion: z.string() }),
  z.object({
    status: z.literal('not-enough-evidence'),
    candidates: z.array(levelSchema),
    missing: z.array(relationSchema),
    evidence: z.array(evidenceSchema),
    reason: z.string(),
  }),
  z.object({ status: z.literal('contradictory'), evidence: z.array(evidenceSchema), reason: z.string() }),
]);
export type Cell = z.infer<typeof cellSchema>;

/** Cells per object type and action; an action the type does not have is absent. */
const cellsSchema = z.partialRecord(objectTypeSchema, z.partialRecord(actionSchema, cellSchema));
export type Cells = z.infer<typeof cellsSchema>;

export const calibrationResultSchema = z.object({
  users: z.array(
    z.object({
      userId: z.number().int().positive(),
      name: z.string(),
      roleIds: z.array(z.string()),
      teamIds: z.array(z.string()),
      /** Why the user was not calibrated; then `cells` is empty. */
      skipped: z.enum(['super-admin']).nullable(),
      cells: cellsSchema,
    }),
  ),
  /** Object types HubSpot would not let Viewer Guard read in this account (a scope not granted): no cells, and why. */
  unreadable: z.array(z.object({ objectType: objectTypeSchema, reason: z.string() })),
  /** Roles every one of whose calibrated users got the same inferred level, per cell; other cells are absent. */
  roles: z.array(
    z.object({
      roleId: z.string(),
      name: z.string(),
      userIds: z.array(z.number().int()),
      levels: z.partialRecord(objectTypeSchema, z.partialRecord(actionSchema, levelSchema)),
    }),
  ),
});
export type CalibrationResult = z.infer<typeof calibrationResultSchema>;

/** How each relation reads in an evidence sentence, as data. */
const RELATION_WORDS: Record<OwnerRelation, (owner: Observation['owner'], subject: CalibrationSubject) => string> = {
  self: (_owner, subject) => `owned by ${firstName(subject)}`,
  team: (owner, subject) => `owned by ${owner?.name ?? 'someone'} on ${sharedTeams(owner, subject)}, ${firstName(subject)}'s team`,
  other: (owner, subject) => `owned by ${owner?.name ?? 'someone'}${teamsPhrase(owner)}, not on ${firstName(subject)}'s teams`,
  unassigned: () => 'owned by nobody',
};

/** A relation as a group of records, for answers that disagree within one. */
const RELATION_GROUPS: Record<OwnerRelation, (subject: CalibrationSubject) => string> = {
  self: (subject) => `owned by ${firstName(subject)}`,
  team: (subject) => `owned by ${firstName(subject)}'s teammates`,
  other: (subject) => `owned outside ${firstName(subject)}'s teams`,
  unassigned: () => 'with no owner',
};

/** Why no record in a relation could be sampled, as data: the reason a cell stays unset. */
const MISSING_WORDS: Record<OwnerRelation, (subject: CalibrationSubject, plural: string) => string> = {
  self: (subject, plural) => (subject.isOwner ? `${subject.name} owns no ${plural}` : `${subject.name} is not a HubSpot owner, so no ${plural} can be theirs`),
  team: (subject, plural) => (subject.teamNames.length === 0 ? `${subject.name} is on no team` : `no ${plural} are owned by ${firstName(subject)}'s teammates`),
  other: (subject, plural) => `no ${plural} are owned by someone outside ${firstName(subject)}'s teams`,
  unassigned: (_subject, plural) => `no unassigned ${plural} were found`,
};

const firstName = (subject: CalibrationSubject) => subject.name.split(' ')[0] ?? subject.name;
const sharedTeams = (owner: Observation['owner'], subject: CalibrationSubject) =>
  (owner?.teamNames.filter((team) => subject.teamNames.includes(team)) ?? []).join(', ') || 'a shared team';
const teamsPhrase = (owner: Observation['owner']) => (owner === null || owner.teamNames.length === 0 ? ' (on no team)' : ` on ${owner.teamNames.join(', ')}`);

function evidenceOf(observation: Observation, subject: CalibrationSubject, objectType: ObjectType, action: Action): Evidence {
  const verb = observation.allowed ? 'can' : 'cannot';
  const singular = OBJECT_TYPES[objectType].singular;
  const permission = PERMISSION_NAMES[action].toLowerCase();
  return {
    recordId: observation.recordId,
    relation: observation.relation,
    allowed: observation.allowed,
    sentence: `${firstName(subject)} ${verb} ${permission} ${singular} ${observation.recordId}, ${RELATION_WORDS[observation.relation](observation.owner, subject)}`,
  };
}

/** The levels whose coverage matches every known relation's answer. */
function consistentLevels(known: ReadonlyMap<OwnerRelation, boolean>): Level[] {
  return LEVELS.filter((level) => [...known].every(([relation, allowed]) => levelCovers(level, relation) === allowed));
}

/** One user's level for one object type and action, from HubSpot's answers about the sampled records. */
export function inferCell(subject: CalibrationSubject, objectType: ObjectType, action: Action, observations: readonly Observation[]): Cell {
  const plural = OBJECT_TYPES[objectType].plural;
  const byRelation = new Map<OwnerRelation, Observation[]>();
  for (const observation of observations) byRelation.set(observation.relation, [...(byRelation.get(observation.relation) ?? []), observation]);
  // One answer per relation and outcome is the whole story; more would only repeat it.
  const evidence = OWNER_RELATIONS.flatMap((relation) =>
    [true, false].flatMap((allowed) => {
      const first = byRelation.get(relation)?.find((observation) => observation.allowed === allowed);
      return first === undefined ? [] : [evidenceOf(first, subject, objectType, action)];
    }),
  );

  const split = OWNER_RELATIONS.find((relation) => new Set(byRelation.get(relation)?.map((observation) => observation.allowed)).size > 1);
  if (split !== undefined) {
    return {
      status: 'contradictory',
      evidence,
      reason: `HubSpot's answers disagree about ${plural} ${RELATION_GROUPS[split](subject)}: no level allows some of them and not others`,
    };
  }
  const known = new Map([...byRelation].map(([relation, found]) => [relation, found[0]?.allowed === true] as const));
  const candidates = consistentLevels(known);
  const [only] = candidates;
  if (only === undefined) return { status: 'contradictory', evidence, reason: `No HubSpot level allows exactly these ${plural}` };
  if (candidates.length === 1) {
    return { status: 'inferred', level: only, evidence, conclusion: `so ${LEVEL_LABELS[only]}` };
  }
  const missing = OWNER_RELATIONS.filter((relation) => !known.has(relation) && new Set(candidates.map((level) => levelCovers(level, relation))).size > 1);
  return {
    status: 'not-enough-evidence',
    candidates,
    missing,
    evidence,
    reason: `Not enough evidence: ${missing.map((relation) => MISSING_WORDS[relation](subject, plural)).join('; ')}, so ${candidates.map((level) => LEVEL_LABELS[level]).join(' and ')} cannot be told apart`,
  };
}

/** Every action of each of these object types for one user. */
export function inferCells(
  subject: CalibrationSubject,
  objectTypes: readonly ObjectType[],
  observe: (objectType: ObjectType, action: Action) => readonly Observation[],
): Cells {
  return Object.fromEntries(
    objectTypes.map((objectType) => [
      objectType,
      Object.fromEntries(actionsOf(objectType).map((action) => [action, inferCell(subject, objectType, action, observe(objectType, action))])),
    ]),
  );
}

type CalibratedUser = CalibrationResult['users'][number];

const inferredLevel = (user: CalibratedUser, objectType: ObjectType, action: Action): Level | undefined => {
  const cell = user.cells[objectType]?.[action];
  return cell?.status === 'inferred' ? cell.level : undefined;
};

/**
 * Per role, the cells where every calibrated user holding it has the same inferred level. One whose cell is undecided
 * makes the role undecided there too: a role rule would set that user's level on no evidence.
 */
export function aggregateRoles(users: readonly CalibratedUser[], roles: ReadonlyArray<{ id: string; name: string }>): CalibrationResult['roles'] {
  const calibrated = users.filter((user) => user.skipped === null);
  return roles.flatMap((role) => {
    const members = calibrated.filter((user) => user.roleIds.includes(role.id));
    if (members.length === 0) return [];
    const levels = Object.fromEntries(
      OBJECT_TYPE_NAMES.map((objectType) => [
        objectType,
        Object.fromEntries(
          actionsOf(objectType).flatMap((action) => {
            const found = new Set(members.map((user) => inferredLevel(user, objectType, action)));
            const [level] = found;
            return found.size === 1 && level !== undefined ? [[action, level]] : [];
          }),
        ),
      ]),
    );
    return [{ roleId: role.id, name: role.name, userIds: members.map((user) => user.userId), levels }];
  });
}

const subjectOf = (user: CalibratedUser): PolicySubject => ({ userId: user.userId, superAdmin: false, teamIds: user.teamIds, roleIds: user.roleIds });

/** What the policy gives the user, null when nothing configures it (resolution then refuses, with its own message). */
function savedLevel(policy: PolicyDocument, user: CalibratedUser, objectType: ObjectType, action: Action) {
  const grant = resolvePolicyGrant(policy, subjectOf(user), objectType, action);
  return { level: grant.configured ? grant.level : null, rule: grant.rule };
}

export interface Drift {
  userId: number;
  objectType: ObjectType;
  action: Action;
  hubspot: Level;
  /** null: the policy sets nothing for this user here. */
  policy: Level | null;
  rule: string;
  sentence: string;
}

/** Where the saved policy resolves a calibrated user's cell to another level than HubSpot's answers show. */
export function driftOf(result: CalibrationResult, policy: PolicyDocument): Drift[] {
  return result.users.flatMap((user) =>
    OBJECT_TYPE_NAMES.flatMap((objectType) =>
      actionsOf(objectType).flatMap((action) => {
        const hubspot = inferredLevel(user, objectType, action);
        if (hubspot === undefined) return [];
        const { level: saved, rule } = savedLevel(policy, user, objectType, action);
        if (saved === hubspot) return [];
        const says = saved === null ? 'the policy sets nothing' : `the policy says ${LEVEL_LABELS[saved]}`;
        return [
          {
            userId: user.userId,
            objectType,
            action,
            hubspot,
            policy: saved,
            rule,
            sentence: `${user.name}: HubSpot says ${LEVEL_LABELS[hubspot]}, ${says} (${OBJECT_TYPES[objectType].plural} ${PERMISSION_NAMES[action]})`,
          },
        ];
      }),
    ),
  );
}

export interface AdoptSelection {
  userId: number;
  objectType: ObjectType;
  action: Action;
}

export interface Adoption {
  document: PolicyDocument;
  /** Inferred cells the new document still does not resolve to HubSpot's level (a View rule elsewhere caps them, say). */
  unresolved: AdoptSelection[];
}

const setLevel = (maps: Record<string, PolicyDocument['default']>, id: string, objectType: ObjectType, action: Action, level: Level) => {
  const map = (maps[id] ??= {});
  const levels: Partial<Record<Action, Level>> = (map[objectType] ??= {});
  levels[action] = level;
};

/**
 * A new policy from the inferred levels: role rules where a role agrees, then a user rule wherever resolution (team rules
 * outrank role rules, View caps the rest) still gives a calibrated user another level. Cells without evidence keep the
 * current policy. With a selection, only those users' cells are adopted, as user rules. Every inferred cell is checked by
 * resolution afterwards; the ones that still differ are returned, never silently dropped.
 */
export function adoptionDocument(current: PolicyDocument, result: CalibrationResult, selection?: readonly AdoptSelection[]): Adoption {
  const document: PolicyDocument = structuredClone(current);
  const chosen = (userId: number, objectType: ObjectType, action: Action) =>
    selection === undefined || selection.some((cell) => cell.userId === userId && cell.objectType === objectType && cell.action === action);
  if (selection === undefined) {
    for (const role of result.roles) {
      for (const objectType of OBJECT_TYPE_NAMES) {
        for (const action of actionsOf(objectType)) {
          const level = role.levels[objectType]?.[action];
          if (level !== undefined) setLevel(document.roles, role.roleId, objectType, action, level);
        }
      }
    }
  }
  const cells = result.users.flatMap((user) =>
    OBJECT_TYPE_NAMES.flatMap((objectType) =>
      // View first: every other action is capped at View's resolved level.
      actionsOf(objectType).flatMap((action) => {
        const level = inferredLevel(user, objectType, action);
        return level === undefined || !chosen(user.userId, objectType, action) ? [] : [{ user, objectType, action, level }];
      }),
    ),
  );
  const differs = ({ user, objectType, action, level }: (typeof cells)[number]) => savedLevel(document, user, objectType, action).level !== level;
  for (const cell of cells) if (differs(cell)) setLevel(document.users, String(cell.user.userId), cell.objectType, cell.action, cell.level);
  return {
    document,
    unresolved: cells.filter(differs).map(({ user, objectType, action }) => ({ userId: user.userId, objectType, action })),
  };
}
