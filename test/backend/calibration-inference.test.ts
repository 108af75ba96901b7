import { describe, expect, it } from 'vitest';
import {
  adoptionDocument,
  aggregateRoles,
  driftOf,
  inferCell,
  inferCells,
  type CalibrationResult,
  type CalibrationSubject,
  type Observation,
} from '../../backend/src/access/calibration.js';
import { levelCovers, OWNER_RELATIONS, type OwnerRelation } from '../../backend/src/access/decide.js';
import { LEVELS, OBJECT_TYPE_NAMES, type Level } from '../../backend/src/access/model.js';
import { policyDocumentSchema, resolvePolicyGrant, EMPTY_POLICY } from '../../backend/src/access/policy.js';

const carla: CalibrationSubject = { userId: 2003, name: 'Carla Mendes', isOwner: true, teamNames: ['Support EU', 'Support US'] };
const OWNERS: Record<OwnerRelation, Observation['owner']> = {
  self: { name: 'Carla Mendes', teamNames: ['Support EU'] },
  team: { name: 'Bob Stone', teamNames: ['Support US'] },
  other: { name: 'Sam Outsider', teamNames: ['Field Sales'] },
  unassigned: null,
};

/** What HubSpot would answer for a user at `level`, about one record in each of `relations`. */
const answers = (level: Level, relations: readonly OwnerRelation[]): Observation[] =>
  relations.map((relation, index) => ({ recordId: String(5001 + index), relation, allowed: levelCovers(level, relation), owner: OWNERS[relation] }));

const subsets = <T>(items: readonly T[]): T[][] => items.reduce<T[][]>((all, item) => [...all, ...all.map((subset) => [...subset, item])], [[]]);

describe('inferring one cell', () => {
  it('names the level exactly when a record in every relation was sampled, for each of the six levels', () => {
    for (const level of LEVELS) {
      const cell = inferCell(carla, 'tickets', 'view', answers(level, OWNER_RELATIONS));
      expect(cell, level).toMatchObject({ status: 'inferred', level });
    }
  });

  it('never names a wrong level, whichever relations are missing, and names the missing relation when it cannot decide', () => {
    for (const level of LEVELS) {
      for (const relations of subsets(OWNER_RELATIONS)) {
        const cell = inferCell({ ...carla, isOwner: relations.includes('self') }, 'tickets', 'edit', answers(level, relations));
        expect(cell.status, `${level} from ${relations.join(',')}`).not.toBe('contradictory');
        if (cell.status === 'inferred') expect(cell.level, `${level} from ${relations.join(',')}`).toBe(level);
        if (cell.status === 'not-enough-evidence') {
          expect(cell.candidates).toContain(level);
          expect(cell.missing.length).toBeGreaterThan(0);
          for (const missing of cell.missing) expect(relations).not.toContain(missing);
        }
      }
    }
  });

  it('explains the deciding evidence in words', () => {
    const cell = inferCell(carla, 'tickets', 'edit', answers('everything', OWNER_RELATIONS));
    expect(cell.status).toBe('inferred');
    expect(cell.evidence.map((evidence) => evidence.sentence)).toContain(
      "Carla can edit ticket 5003, owned by Sam Outsider on Field Sales, not on Carla's teams",
    );
    expect(cell.status === 'inferred' && cell.conclusion).toBe('so All');
  });

  it('leaves team and owned apart for a user on no team: not enough evidence, saying why', () => {
    const loner = { ...carla, name: 'Lou Alone', teamNames: [] };
    const cell = inferCell(loner, 'contacts', 'view', answers('owned', ['self', 'other', 'unassigned']));
    expect(cell).toMatchObject({ status: 'not-enough-evidence', candidates: ['team', 'owned'], missing: ['team'] });
    expect(cell.status === 'not-enough-evidence' && cell.reason).toContain('Lou Alone is on no team');
  });

  it('says a user who is no HubSpot owner cannot be told apart between Owned and None', () => {
    const erin = { ...carla, name: 'Erin Cho', isOwner: false };
    const cell = inferCell(erin, 'tickets', 'view', answers('none', ['team', 'other', 'unassigned']));
    expect(cell).toMatchObject({ status: 'not-enough-evidence', candidates: ['owned', 'none'], missing: ['self'] });
    expect(cell.status === 'not-enough-evidence' && cell.reason).toContain('Erin Cho is not a HubSpot owner');
  });

  it('reports answers that disagree within one relation as contradictory instead of picking one', () => {
    const observations = [...answers('team', OWNER_RELATIONS), { recordId: '5999', relation: 'team' as const, allowed: false, owner: OWNERS.team }];
    expect(inferCell(carla, 'tickets', 'view', observations)).toMatchObject({ status: 'contradictory' });
  });

  it('reports answers no level explains (unassigned and others but not teammates) as contradictory', () => {
    const observations: Observation[] = [
      { recordId: '1', relation: 'team', allowed: false, owner: OWNERS.team },
      { recordId: '2', relation: 'other', allowed: true, owner: OWNERS.other },
    ];
    expect(inferCell(carla, 'tickets', 'view', observations)).toMatchObject({ status: 'contradictory' });
  });
});

/** A result for users with the given true levels on ticket View (every relation sampled) and nothing else sampled. */
function resultOf(users: Array<{ userId: number; roleIds: string[]; teamIds?: string[]; view: Level }>): CalibrationResult {
  const calibrated = users.map((user) => ({
    userId: user.userId,
    name: `User ${user.userId}`,
    roleIds: user.roleIds,
    teamIds: user.teamIds ?? [],
    skipped: null,
    cells: inferCells({ ...carla, userId: user.userId, name: `User ${user.userId}` }, OBJECT_TYPE_NAMES, (objectType, action) =>
      objectType === 'tickets' && action === 'view' ? answers(user.view, OWNER_RELATIONS) : [],
    ),
  }));
  return {
    users: calibrated,
    unreadable: [],
    roles: aggregateRoles(calibrated, [
      { id: '901', name: 'Agent' },
      { id: '902', name: 'Lead' },
    ]),
  };
}

describe('roles, drift and adoption', () => {
  const result = resultOf([
    { userId: 1, roleIds: ['901'], view: 'owned' },
    { userId: 2, roleIds: ['901'], view: 'owned' },
    { userId: 3, roleIds: ['902'], view: 'team' },
    { userId: 4, roleIds: ['902'], teamIds: ['301'], view: 'everything' },
  ]);

  it('gives a role a level only where all its users agree', () => {
    expect(result.roles.find((role) => role.roleId === '901')?.levels.tickets).toEqual({ view: 'owned' });
    expect(result.roles.find((role) => role.roleId === '902')?.levels.tickets).toEqual({});
  });

  it('lists each cell where the policy resolves to another level, in words', () => {
    const policy = { ...EMPTY_POLICY, roles: { '901': { tickets: { view: 'owned' as const } }, '902': { tickets: { view: 'team' as const } } } };
    const drift = driftOf(result, policy);
    expect(drift).toEqual([
      expect.objectContaining({ userId: 4, objectType: 'tickets', action: 'view', hubspot: 'everything', policy: 'team', rule: 'role 902' }),
    ]);
    expect(drift[0]?.sentence).toBe('User 4: HubSpot says All, the policy says Team (tickets View)');
  });

  it('adopts role rules where roles agree and user rules where a team rule would override or the role disagrees; then nothing drifts', () => {
    const current = policyDocumentSchema.parse({ teams: { '301': { tickets: { view: 'team' } } }, default: { contacts: { view: 'owned' } } });
    const adoption = adoptionDocument(current, result);
    expect(adoption.unresolved).toEqual([]);
    expect(policyDocumentSchema.safeParse(adoption.document).success).toBe(true);
    expect(adoption.document.roles['901']).toEqual({ tickets: { view: 'owned' } });
    expect(Object.keys(adoption.document.users).sort()).toEqual(['3', '4']);
    // Cells without evidence keep what the policy said.
    expect(adoption.document.default).toEqual({ contacts: { view: 'owned' } });
    expect(driftOf(result, adoption.document)).toEqual([]);
    expect(resolvePolicyGrant(adoption.document, { userId: 4, superAdmin: false, teamIds: ['301'], roleIds: ['902'] }, 'tickets', 'view').level).toBe(
      'everything',
    );
  });

  it('writes None down as a rule where the policy configures nothing, since unconfigured is not None', () => {
    const nobody = resultOf([{ userId: 5, roleIds: [], view: 'none' }]);
    expect(driftOf(nobody, EMPTY_POLICY)).toMatchObject([{ userId: 5, hubspot: 'none', policy: null, rule: 'not configured' }]);
    const adoption = adoptionDocument(EMPTY_POLICY, nobody);
    expect(adoption.document.users).toEqual({ '5': { tickets: { view: 'none' } } });
    expect(driftOf(nobody, adoption.document)).toEqual([]);
  });

  it('adopts only the chosen cells when told which, as user rules', () => {
    const adoption = adoptionDocument(EMPTY_POLICY, result, [{ userId: 2, objectType: 'tickets', action: 'view' }]);
    expect(adoption.document).toEqual({ ...EMPTY_POLICY, users: { '2': { tickets: { view: 'owned' } } } });
  });
});
