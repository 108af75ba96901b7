import { DECISIONS, type DecisionCode } from './catalogue.js';
import { actionsOf, type AccessSourceName, type Action, type Grant, type Level, type RecordFacts, type ViewerFacts } from './model.js';

export interface DecisionFacts {
  viewer: { userId: number; ownerId: number | null; teamIds: string[]; superAdmin: boolean };
  record: { objectType: string; id: string; ownerId: number | null; ownerName: string | null; ownerTeamIds: string[] };
  rule: string;
}

export interface Decision {
  allowed: boolean;
  action: Action;
  level: Level | null;
  source: AccessSourceName;
  code: DecisionCode;
  message: string;
  fix: string | null;
  facts: DecisionFacts;
}

/** Who owns a record, relative to the viewer: every level is the set of these it covers. */
export const OWNER_RELATIONS = ['self', 'team', 'other', 'unassigned'] as const;
export type OwnerRelation = (typeof OWNER_RELATIONS)[number];

/** Which records a level covers, as facts about the record's owner relative to the viewer. */
export function levelCovers(level: Level, relation: OwnerRelation): boolean {
  switch (level) {
    case 'everything':
      return true;
    case 'team+unassigned':
      return relation !== 'other';
    case 'team':
      return relation === 'self' || relation === 'team';
    case 'owned+unassigned':
      return relation === 'self' || relation === 'unassigned';
    case 'owned':
      return relation === 'self';
    case 'none':
      return false;
  }
}

export function ownerRelation(viewer: ViewerFacts, record: RecordFacts): OwnerRelation {
  if (record.owner === null) return 'unassigned';
  if (viewer.ownerId !== null && record.owner.ownerId === viewer.ownerId) return 'self';
  const teamIds = new Set(viewer.teams.map((team) => team.id));
  return record.owner.teamIds.some((id) => teamIds.has(id)) ? 'team' : 'other';
}

function refusalCode(level: Level, relation: Exclude<OwnerRelation, 'self'>): DecisionCode {
  const teamLevel = level === 'team' || level === 'team+unassigned';
  if (relation === 'unassigned') return teamLevel ? 'TEAM_ONLY_UNASSIGNED' : 'OWNED_ONLY_UNASSIGNED';
  return teamLevel ? 'TEAM_ONLY_OTHER_TEAM' : 'OWNED_ONLY_NOT_OWNER';
}

function approvalCode(level: Level, relation: OwnerRelation): DecisionCode {
  if (level === 'everything') return 'ALLOWED_ALL';
  if (relation === 'self') return 'ALLOWED_OWNER';
  return relation === 'team' ? 'ALLOWED_TEAM' : 'ALLOWED_UNASSIGNED';
}

/** Pure: the same inputs always give the same decision, with the words to explain it. */
export function decide(viewer: ViewerFacts, action: Action, record: RecordFacts, grant: Grant): Decision {
  const relation = ownerRelation(viewer, record);
  const code = chooseCode(viewer, action, record, grant, relation);
  return explain(code, { viewer, action, record, level: grant.level, source: grant.source, rule: grant.rule });
}

function chooseCode(viewer: ViewerFacts, action: Action, record: RecordFacts, grant: Grant, relation: OwnerRelation): DecisionCode {
  if (!actionsOf(record.objectType).includes(action)) return 'ACTION_NOT_APPLICABLE';
  if (viewer.superAdmin) return 'ALLOWED_SUPER_ADMIN';
  if (!grant.configured) return 'NOT_CONFIGURED';
  if (grant.level === 'none') return 'NO_PERMISSION';
  if (levelCovers(grant.level, relation)) return approvalCode(grant.level, relation);
  return refusalCode(grant.level, relation as Exclude<OwnerRelation, 'self'>);
}

/** Builds the decision object for a code; also used by sources that decide without a level (HubSpot's API). */
export function explain(
  code: DecisionCode,
  input: { viewer: ViewerFacts; action: Action; record: RecordFacts; level: Level | null; source: AccessSourceName; rule: string },
): Decision {
  const { viewer, record, action } = input;
  const entry = DECISIONS[code];
  const sharedTeams = viewer.teams.filter((team) => record.owner?.teamIds.includes(team.id));
  const messageFacts = {
    objectType: record.objectType,
    action,
    ownerName: record.owner?.name,
    teamNames: (sharedTeams.length > 0 ? sharedTeams : viewer.teams).map((team) => team.name).join(', '),
  };
  return {
    allowed: entry.allowed,
    action,
    level: input.level,
    source: input.source,
    code,
    message: entry.message(messageFacts),
    fix: entry.fix === null ? null : entry.fix(messageFacts),
    facts: {
      viewer: { userId: viewer.userId, ownerId: viewer.ownerId, teamIds: viewer.teams.map((team) => team.id), superAdmin: viewer.superAdmin },
      record: {
        objectType: record.objectType,
        id: record.id,
        ownerId: record.owner?.ownerId ?? null,
        ownerName: record.owner?.name ?? null,
        ownerTeamIds: [...(record.owner?.teamIds ?? [])],
      },
      rule: input.rule,
    },
  };
}
