import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide } from '../../backend/src/access/decide.js';
import { LEVELS, type Grant, type Level, type RecordFacts, type ViewerFacts } from '../../backend/src/access/model.js';
import { EMPTY_POLICY, policyDocumentSchema, resolvePolicyGrant } from '../../backend/src/access/policy.js';
import { isVisible, visibility } from '../../backend/src/access/visibility.js';

const grant = (level: Level): Grant => ({ level, source: 'policy', rule: 'test', configured: true });
const ana = { ownerId: 501, name: 'Ana Silva', teamIds: ['10'] };
const bob: ViewerFacts = { userId: 2, name: 'Bob Stone', superAdmin: false, ownerId: 502, teams: [{ id: '20', name: 'Support US' }] };
const ticket = (owner: RecordFacts['owner']): RecordFacts => ({ objectType: 'tickets', id: '42', owner });

describe('decide()', () => {
  it("refuses an owned-only user someone else's ticket, naming the owner, with the fix", () => {
    const decision = decide(bob, 'view', ticket(ana), grant('owned'));
    expect(decision).toMatchObject({ allowed: false, code: 'OWNED_ONLY_NOT_OWNER', level: 'owned', source: 'policy' });
    expect(decision.message).toBe('You can only open tickets you own. This one is owned by Ana Silva.');
    expect(decision.fix).toBe('Ask a Super Admin to give you Team access to tickets, or ask Ana to reassign it.');
    expect(decision.facts.record).toMatchObject({ ownerId: 501, ownerName: 'Ana Silva' });
  });

  it('allows the owner, the team, unassigned with +unassigned, and the Super Admin', () => {
    expect(decide(bob, 'edit', ticket({ ownerId: 502, name: 'Bob Stone', teamIds: ['20'] }), grant('owned')).code).toBe('ALLOWED_OWNER');
    expect(decide(bob, 'view', ticket({ ownerId: 503, name: 'Cy Team', teamIds: ['20'] }), grant('team')).code).toBe('ALLOWED_TEAM');
    expect(decide(bob, 'view', ticket(ana), grant('team')).code).toBe('TEAM_ONLY_OTHER_TEAM');
    expect(decide(bob, 'view', ticket(null), grant('owned+unassigned')).code).toBe('ALLOWED_UNASSIGNED');
    expect(decide(bob, 'view', ticket(null), grant('owned')).code).toBe('OWNED_ONLY_UNASSIGNED');
    expect(decide(bob, 'view', ticket(null), grant('team')).code).toBe('TEAM_ONLY_UNASSIGNED');
    expect(decide({ ...bob, superAdmin: true }, 'delete', ticket(ana), grant('none')).code).toBe('ALLOWED_SUPER_ADMIN');
  });

  it('names the missing permission when the level is none, and says when nothing is configured', () => {
    const none = decide(bob, 'edit', ticket(ana), grant('none'));
    expect(none.code).toBe('NO_PERMISSION');
    expect(none.message).toBe("You don't have the Edit permission for tickets in HubSpot.");
    const unset = decide(bob, 'view', ticket(ana), { level: 'none', source: 'policy', rule: 'not configured', configured: false });
    expect(unset.code).toBe('NOT_CONFIGURED');
    expect(unset.fix).toContain('Super Admin');
  });

  it('does not offer communicate on tickets', () => {
    expect(decide(bob, 'communicate', ticket(ana), grant('everything')).code).toBe('ACTION_NOT_APPLICABLE');
  });

  it('agrees with the compiled visibility for every viewer, grant and record', () => {
    const teamIds = fc.subarray(['10', '20', '30']);
    fc.assert(
      fc.property(
        fc.record({
          superAdmin: fc.boolean(),
          ownerId: fc.option(fc.integer({ min: 1, max: 6 }), { nil: null }),
          teams: teamIds,
          level: fc.constantFrom(...LEVELS),
          configured: fc.boolean(),
        }),
        fc.array(fc.record({ id: fc.integer({ min: 1, max: 6 }), teams: teamIds }), { maxLength: 6 }),
        fc.option(fc.integer({ min: 1, max: 6 }), { nil: null }),
        (v, owners, recordOwnerId) => {
          const ownerTeams = new Map(owners.map((owner) => [owner.id, owner.teams]));
          const viewer: ViewerFacts = { userId: 1, name: 'V', superAdmin: v.superAdmin, ownerId: v.ownerId, teams: v.teams.map((id) => ({ id, name: id })) };
          const g: Grant = { level: v.level, source: 'policy', rule: 'r', configured: v.configured };
          const teamOwnerIds = [...ownerTeams].filter(([, teams]) => teams.some((t) => v.teams.includes(t))).map(([id]) => id);
          const record = ticket(recordOwnerId === null ? null : { ownerId: recordOwnerId, name: 'O', teamIds: ownerTeams.get(recordOwnerId) ?? [] });
          expect(isVisible(visibility(viewer, g, teamOwnerIds), recordOwnerId)).toBe(decide(viewer, 'view', record, g).allowed);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('policy levels', () => {
  const policy = policyDocumentSchema.parse({
    default: { tickets: { view: 'owned' } },
    roles: { '7': { tickets: { view: 'team' } } },
    teams: { '10': { tickets: { view: 'owned+unassigned' } }, '20': { tickets: { view: 'everything' } } },
    users: { '2': { tickets: { view: 'none' } } },
  });
  const subject = { userId: 9, superAdmin: false, teamIds: [] as string[], roleIds: [] as string[] };

  it('picks the most specific rule and names it', () => {
    expect(resolvePolicyGrant(policy, subject, 'tickets', 'view')).toMatchObject({ level: 'owned', rule: 'account default' });
    expect(resolvePolicyGrant(policy, { ...subject, roleIds: ['7'] }, 'tickets', 'view')).toMatchObject({ level: 'team', rule: 'role 7' });
    expect(resolvePolicyGrant(policy, { ...subject, roleIds: ['7'], teamIds: ['10'] }, 'tickets', 'view')).toMatchObject({
      level: 'owned+unassigned',
      rule: 'team 10',
    });
    expect(resolvePolicyGrant(policy, { ...subject, teamIds: ['10', '20'] }, 'tickets', 'view')).toMatchObject({ level: 'everything', rule: 'team 20' });
    expect(resolvePolicyGrant(policy, { ...subject, userId: 2, teamIds: ['20'] }, 'tickets', 'view')).toMatchObject({ level: 'none', rule: 'user 2' });
    expect(resolvePolicyGrant(policy, { ...subject, superAdmin: true, userId: 2 }, 'tickets', 'view')).toMatchObject({
      level: 'everything',
      rule: 'super admin',
    });
  });

  it('reports unconfigured viewers as such', () => {
    expect(resolvePolicyGrant(EMPTY_POLICY, subject, 'contacts', 'edit')).toEqual({
      level: 'none',
      source: 'policy',
      rule: 'not configured',
      configured: false,
    });
  });

  it('rejects levels, actions and ids that do not exist', () => {
    const result = policyDocumentSchema.safeParse({ users: { abc: {} }, default: { tickets: { view: 'most', communicate: 'owned' } } });
    expect(result.success).toBe(false);
    const paths = result.error?.issues.map((issue) => issue.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['default.tickets.view', 'default.tickets', 'users.abc']));
    expect(result.error?.issues.find((issue) => issue.path.join('.') === 'default.tickets')?.message).toContain('communicate');
  });
});
