import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { actionsOf, LEVELS, OBJECT_TYPE_NAMES, type Level, type ObjectType } from '../../backend/src/access/model.js';
import {
  levelMeet,
  levelWithin,
  policyDocumentSchema,
  policyShapeSchema,
  resolvePolicyGrant,
  type LevelMap,
  type PolicyDocument,
} from '../../backend/src/access/policy.js';

/** The levels as sets of owner relations, written out independently of levelCovers so the tests check it too. */
const REACH: Record<Level, ReadonlySet<string>> = {
  everything: new Set(['self', 'team', 'other', 'unassigned']),
  'team+unassigned': new Set(['self', 'team', 'unassigned']),
  team: new Set(['self', 'team']),
  'owned+unassigned': new Set(['self', 'unassigned']),
  owned: new Set(['self']),
  none: new Set(),
};
const subset = (a: Level, b: Level) => [...REACH[a]].every((relation) => REACH[b].has(relation));

const userViewOverTeamEdit = { users: { '2002': { tickets: { view: 'owned' } } }, teams: { '302': { tickets: { edit: 'team' } } } };
const bob = { userId: 2002, superAdmin: false, teamIds: ['302'], roleIds: ['901'] };

describe('level algebra', () => {
  it('meets every pair of levels in the level reaching exactly the records both reach, and orders them by inclusion', () => {
    for (const a of LEVELS) {
      for (const b of LEVELS) {
        expect([...REACH[levelMeet(a, b)]].sort(), `${a} ∩ ${b}`).toEqual([...REACH[a]].filter((relation) => REACH[b].has(relation)).sort());
        expect(levelWithin(a, b), `${a} ⊆ ${b}`).toBe(subset(a, b));
      }
    }
  });
});

describe('resolution caps every action at View', () => {
  const policy = policyDocumentSchema.parse(userViewOverTeamEdit);

  it('limits a team Edit rule to the user View rule above it, and says so', () => {
    expect(resolvePolicyGrant(policy, bob, 'tickets', 'view')).toEqual({ level: 'owned', source: 'policy', rule: 'user 2002', configured: true });
    expect(resolvePolicyGrant(policy, bob, 'tickets', 'edit')).toEqual({
      level: 'owned',
      source: 'policy',
      rule: "team 302, limited to View's level from user 2002",
      configured: true,
    });
  });

  it('leaves a level alone when View already covers it, and an unset action unset', () => {
    const team = { ...bob, userId: 2004 };
    const teamView = policyDocumentSchema.parse({ ...userViewOverTeamEdit, default: { tickets: { view: 'team+unassigned' } } });
    expect(resolvePolicyGrant(teamView, team, 'tickets', 'edit')).toEqual({ level: 'team', source: 'policy', rule: 'team 302', configured: true });
    expect(resolvePolicyGrant(policy, bob, 'tickets', 'delete')).toEqual({ level: 'none', source: 'policy', rule: 'not configured', configured: false });
  });

  it('leaves nothing to edit, as not configured, when no rule sets View', () => {
    const carla = { userId: 2003, superAdmin: false, teamIds: ['301', '302'], roleIds: ['902'] };
    expect(resolvePolicyGrant(policy, carla, 'tickets', 'edit')).toEqual({
      level: 'none',
      source: 'policy',
      rule: "team 302, limited to View's level (not configured)",
      configured: false,
    });
  });

  it('keeps a Super Admin at All for every action', () => {
    for (const action of actionsOf('contacts')) {
      expect(resolvePolicyGrant(policy, { ...bob, superAdmin: true }, 'contacts', action)).toEqual({
        level: 'everything',
        source: 'policy',
        rule: 'super admin',
        configured: true,
      });
    }
  });
});

describe('saving refuses a rule whose own Edit, Delete or Communicate reaches past its View', () => {
  it('names the rule, the level and the way out', () => {
    const result = policyDocumentSchema.safeParse({ users: { '2002': { tickets: { view: 'owned', edit: 'team' } } } });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map(({ path, message }) => ({ path, message }))).toEqual([
      {
        path: ['users', '2002', 'tickets', 'edit'],
        message: "user 2002: tickets Edit 'Team' would reach tickets that View 'Owned only' hides; set Edit to 'Owned only' or narrower, or widen View",
      },
    ]);
  });

  it('reports each broken rule, with the narrowest sensible fix', () => {
    const result = policyDocumentSchema.safeParse({
      default: { contacts: { view: 'none', communicate: 'owned' } },
      roles: { '901': { tickets: { view: 'owned+unassigned', delete: 'team' } } },
      teams: { '302': { tickets: { view: 'team', edit: 'team', delete: 'everything' } } },
    });
    expect(result.error?.issues.map(({ path, message }) => [path.join('.'), message])).toEqual([
      [
        'default.contacts.communicate',
        "account default: contacts Communicate 'Owned only' would reach contacts that View 'None' hides; set Communicate to 'None', or widen View",
      ],
      [
        'roles.901.tickets.delete',
        "role 901: tickets Delete 'Team' would reach tickets that View 'Owned and unassigned' hides; set Delete to 'Owned only' or narrower, or widen View",
      ],
      [
        'teams.302.tickets.delete',
        "team 302: tickets Delete 'All' would reach tickets that View 'Team' hides; set Delete to 'Team' or narrower, or widen View",
      ],
    ]);
  });

  it('accepts a rule without View (resolution caps it) and loads a stored document that breaks the rule', () => {
    expect(policyDocumentSchema.safeParse(userViewOverTeamEdit).success).toBe(true);
    const older = { default: {}, roles: {}, teams: {}, users: { '2002': { tickets: { view: 'owned', edit: 'team' } } } };
    expect(policyShapeSchema.parse(older)).toEqual(older);
  });
});

const ids = { users: ['1', '2', '3'], teams: ['10', '20', '30'], roles: ['7', '8'] } as const;
const optionalLevel = fc.option(fc.constantFrom(...LEVELS), { nil: undefined, freq: 2 });
const levelMapArbitrary: fc.Arbitrary<LevelMap> = fc.record(
  Object.fromEntries(
    OBJECT_TYPE_NAMES.map((objectType) => [
      objectType,
      fc.record(Object.fromEntries(actionsOf(objectType).map((action) => [action, optionalLevel])), { requiredKeys: [] }),
    ]),
  ),
  { requiredKeys: [] },
);
const mapsFor = (keys: readonly string[]) => fc.dictionary(fc.constantFrom(...keys), levelMapArbitrary, { maxKeys: keys.length });
/** Random documents of the right shape: no undefined values, as JSON would carry them. */
const documentArbitrary: fc.Arbitrary<PolicyDocument> = fc
  .record({ default: levelMapArbitrary, users: mapsFor(ids.users), teams: mapsFor(ids.teams), roles: mapsFor(ids.roles) })
  .map((document) => JSON.parse(JSON.stringify(document)) as PolicyDocument);
const subjectArbitrary = fc.record({
  userId: fc.constantFrom(...ids.users.map(Number)),
  superAdmin: fc.nat(9).map((pick) => pick === 0),
  teamIds: fc.subarray([...ids.teams]),
  roleIds: fc.subarray([...ids.roles]),
});

/** The same document with View at All everywhere, so that resolving an action there gives its level before the cap. */
function viewEverywhere(document: PolicyDocument): PolicyDocument {
  const lift = (map: LevelMap): LevelMap => Object.fromEntries(OBJECT_TYPE_NAMES.map((objectType) => [objectType, { ...map[objectType], view: 'everything' }]));
  const liftAll = (maps: Record<string, LevelMap>) => Object.fromEntries(Object.entries(maps).map(([id, map]) => [id, lift(map)]));
  return { default: lift(document.default), roles: liftAll(document.roles), teams: liftAll(document.teams), users: liftAll(document.users) };
}

describe('for random documents and viewers', () => {
  it('every resolved Edit, Delete and Communicate reaches only records the resolved View reaches, narrowed no further than that', () => {
    fc.assert(
      fc.property(documentArbitrary, subjectArbitrary, fc.constantFrom(...OBJECT_TYPE_NAMES), (document, subject, objectType: ObjectType) => {
        const view = resolvePolicyGrant(document, subject, objectType, 'view');
        for (const action of actionsOf(objectType).filter((name) => name !== 'view')) {
          const grant = resolvePolicyGrant(document, subject, objectType, action);
          expect(subset(grant.level, view.level)).toBe(true);
          const uncapped = resolvePolicyGrant(viewEverywhere(document), subject, objectType, action);
          expect(grant.level).toBe(levelMeet(uncapped.level, view.level));
          if (grant.level === uncapped.level) expect(grant).toEqual(uncapped);
          else expect(grant.rule).toBe(`${uncapped.rule}, limited to View's level ${view.configured ? `from ${view.rule}` : '(not configured)'}`);
          if (subject.superAdmin) expect(grant.level).toBe('everything');
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('saving refuses exactly the rules that break the invariant within themselves, naming each', () => {
    fc.assert(
      fc.property(documentArbitrary, (document) => {
        const rules: Array<[string, string[], LevelMap]> = [
          ['account default', ['default'], document.default],
          ...(['roles', 'teams', 'users'] as const).flatMap((key) =>
            Object.entries(document[key]).map(([id, map]): [string, string[], LevelMap] => [`${key.slice(0, -1)} ${id}`, [key, id], map]),
          ),
        ];
        const expected = rules.flatMap(([name, path, map]) =>
          OBJECT_TYPE_NAMES.flatMap((objectType) => {
            const levels = (map[objectType] ?? {}) as Partial<Record<string, Level>>;
            const view = levels.view;
            return view === undefined
              ? []
              : actionsOf(objectType)
                  .filter((action) => levels[action] !== undefined && !subset(levels[action], view))
                  .map((action) => ({ field: [...path, objectType, action].join('.'), rule: name }));
          }),
        );
        const result = policyDocumentSchema.safeParse(document);
        expect(result.success).toBe(expected.length === 0);
        const issues = (result.error?.issues ?? []).map((issue) => ({ field: issue.path.join('.'), rule: issue.message.split(':')[0] }));
        const byField = (a: { field: string }, b: { field: string }) => a.field.localeCompare(b.field);
        expect(issues.sort(byField)).toEqual(expected.sort(byField));
      }),
      { numRuns: 2000 },
    );
  });
});
