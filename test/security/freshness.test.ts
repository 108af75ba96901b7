import { describe, it } from 'vitest';
import type { PolicyDocument } from '../../backend/src/access/policy.js';
import {
  ana,
  attack,
  bob,
  carla,
  forge,
  forRoutes,
  json,
  mirroredPolicy,
  northwind,
  ownerIdOf,
  recordContents,
  recordWords,
  refusal,
  registeredRoutes,
  routeName,
  routeRequest,
  send,
  sideEffects,
  targetsOf,
  useStage,
  withIdentity,
  type RequestSpec,
  type Stage,
} from './support.js';

/**
 * Permission facts are never stale across a change we can see (CONTRACT.md): after a reassignment, through our own
 * card API or in HubSpot's UI, the previous owner is refused at once. And a policy never lets anyone write what
 * they may not view.
 */

const table = await registeredRoutes();
const P = northwind.portalId;
const TICKET = '5002';
const [subject, ownerName] = recordWords(northwind, 'tickets', TICKET);
if (subject === undefined || ownerName !== `${bob.firstName} ${bob.lastName}`) throw new Error(`seed.json: ticket ${TICKET} should be Bob's`);

const checks = {
  view: { method: 'GET', path: withIdentity(`/api/v1/records/tickets/${TICKET}/access`, P, bob.id) },
  'add a note': { method: 'POST', path: withIdentity(`/api/v1/tickets/${TICKET}/notes`, P, bob.id), ...json({ body: 'Still mine?' }) },
  'move the stage': { method: 'POST', path: withIdentity(`/api/v1/tickets/${TICKET}/stage`, P, bob.id), ...json({ stageId: '3' }) },
  'assign it back to himself': { method: 'POST', path: withIdentity(`/api/v1/tickets/${TICKET}/assign-to-me`, P, bob.id) },
} satisfies Record<string, RequestSpec>;

async function expectOk(stage: Stage, request: RequestSpec, what: string): Promise<void> {
  const response = await send(stage, forge(stage, request));
  if (response.statusCode !== 200) throw new Error(`${what} answered ${response.statusCode}, not 200: ${response.body}`);
}

const reassignments: Record<string, (stage: Stage) => Promise<void>> = {
  'Ana assigns it to herself through the card API': (stage) =>
    expectOk(stage, { method: 'POST', path: withIdentity(`/api/v1/tickets/${TICKET}/assign-to-me`, P, ana.id) }, 'Ana assign-to-me'),
  "it is reassigned to Ana in HubSpot's UI": async (stage) => {
    stage.h.fake.world.reassign(P, 'tickets', TICKET, ownerIdOf(northwind, ana));
  },
};

// One harness per case: each starts from Bob owning the ticket, with his "allowed" answer freshly cached.
for (const source of ['auto', 'hubspot'] as const) {
  describe(`reassignment, then an immediate re-check (ACCESS_SOURCE=${source})`, () => {
    for (const [reassignment, reassign] of Object.entries(reassignments)) {
      for (const [check, request] of Object.entries(checks)) {
        describe(`${reassignment}; Bob tries to ${check}`, () => {
          const stage = useStage({ env: { ACCESS_SOURCE: source } });
          attack(`Bob is refused at once: ${check}`, async () => {
            await expectOk(stage, checks.view, "Bob's view of his own ticket before the reassignment");
            await reassign(stage);
            return {
              send: () => send(stage, forge(stage, request)),
              expect: refusal(403, 'DENIED_BY_HUBSPOT'),
              // A refused view may name the owner (that is the card's explanation); a refused write shows nothing.
              hidden: [subject],
              unchanged: sideEffects(stage),
            };
          });
        });
      }
    }
  });
}

/**
 * Bob: view "owned" from his own rule, edit "team" from his team's rule (each rule consistent on its own), stored
 * as if saved before the invariant existed: resolution must still never let edit reach past view.
 */
const bobsTeam = bob.primaryTeamId;
if (bobsTeam === undefined) throw new Error('seed.json: Bob should have a primary team');
const widerByRules: PolicyDocument = {
  default: {},
  roles: {},
  teams: { [bobsTeam]: { tickets: { view: 'team', edit: 'team' } } },
  users: { [String(bob.id)]: { tickets: { view: 'owned' } } },
};
/** Dev's ticket, on Bob's team: inside the team edit level, outside Bob's owned view level. */
const TEAM_TICKET = '5005';

describe('a policy whose edit level resolves wider than view (ACCESS_SOURCE=policy)', () => {
  const policyStage = { env: { ACCESS_SOURCE: 'policy' }, policy: widerByRules };
  describe('reads', () => {
    const stage = useStage(policyStage);
    it('control: Bob still writes to his own ticket', async () => {
      await expectOk(stage, checks['add a note'], 'Bob adding a note to his own ticket');
    });
    attack('Bob may not view the team ticket', () => ({
      send: () => send(stage, forge(stage, { method: 'GET', path: withIdentity(`/api/v1/records/tickets/${TEAM_TICKET}/access`, P, bob.id) })),
      expect: refusal(403, 'OWNED_ONLY_NOT_OWNER'),
      hidden: recordContents(northwind, 'tickets', TEAM_TICKET),
    }));
  });

  // A harness per write: a wrongly accepted assign-to-me would make Bob the owner for the next one.
  forRoutes(
    table,
    'write routes on tickets',
    (route) => route.write !== undefined && route.url.includes('/tickets/:id'),
    (routes) => {
      for (const target of routes.flatMap(targetsOf)) {
        describe(routeName(target.route), () => {
          const stage = useStage(policyStage);
          attack('on the team ticket is refused', () => ({
            send: () => send(stage, forge(stage, routeRequest(target, TEAM_TICKET, P, bob.id))),
            expect: refusal(403, 'OWNED_ONLY_NOT_OWNER'),
            hidden: recordContents(northwind, 'tickets', TEAM_TICKET),
            unchanged: sideEffects(stage),
          }));
        });
      }
    },
  );
});

describe('saving a policy whose own rule has an action wider than view', () => {
  const stage = useStage({ policy: mirroredPolicy });
  const rule = (objectType: 'tickets' | 'contacts', levels: Record<string, string>) => ({ [objectType]: levels });
  const documents: Record<string, Record<string, unknown>> = {
    'default: tickets view owned, edit team': { default: rule('tickets', { view: 'owned', edit: 'team' }) },
    'default: tickets view owned, edit owned+unassigned': { default: rule('tickets', { view: 'owned', edit: 'owned+unassigned' }) },
    'default: tickets view team, edit owned+unassigned (not inside team)': { default: rule('tickets', { view: 'team', edit: 'owned+unassigned' }) },
    'a user rule: tickets view none, edit everything': { users: { [String(bob.id)]: rule('tickets', { view: 'none', edit: 'everything' }) } },
    'a user rule: contacts view owned+unassigned, edit team (not inside)': {
      users: { [String(carla.id)]: rule('contacts', { view: 'owned+unassigned', edit: 'team' }) },
    },
    'a team rule: tickets view team, delete team+unassigned': { teams: { '302': rule('tickets', { view: 'team', delete: 'team+unassigned' }) } },
    'a role rule: contacts view owned, communicate everything': { roles: { '901': rule('contacts', { view: 'owned', communicate: 'everything' }) } },
  };

  it('control: a consistent document is saved', async () => {
    await expectOk(stage, { method: 'PUT', path: withIdentity('/api/v1/admin/policy', P, ana.id), ...json(mirroredPolicy) }, 'saving the mirrored levels');
  });

  for (const [name, document] of Object.entries(documents)) {
    attack(`PUT ${name} is refused`, () => ({
      send: () => send(stage, forge(stage, { method: 'PUT', path: withIdentity('/api/v1/admin/policy', P, ana.id), ...json(document) })),
      expect: refusal(400, 'VALIDATION_FAILED'),
      unchanged: sideEffects(stage),
    }));
  }
});

/** Changes to the viewer in HubSpot are not seen at once (the viewer is cached), but never beyond the cache's bound. */
describe("the viewer changed in HubSpot's UI, once the viewer cache has expired", () => {
  const afterViewerTtl = (stage: Stage) => stage.clock.step(stage.h.config.viewerCacheTtlMs + 1_000);

  describe('Bob is deactivated', () => {
    const stage = useStage();
    attack('Bob no longer opens his own ticket', async () => {
      await expectOk(stage, checks.view, "Bob's view of his own ticket before he is deactivated");
      stage.h.fake.world.deactivateUser(P, bob.id);
      afterViewerTtl(stage);
      return {
        send: () => send(stage, forge(stage, checks.view)),
        expect: refusal(403, 'USER_NOT_IN_PORTAL'),
        hidden: [subject],
        audited: { stage, portalId: P, userId: bob.id, code: 'USER_NOT_IN_PORTAL' },
      };
    });
  });

  describe('Carla leaves her secondary team (ACCESS_SOURCE=policy)', () => {
    const stage = useStage({ env: { ACCESS_SOURCE: 'policy' }, policy: mirroredPolicy });
    const carlasView = { method: 'GET', path: withIdentity(`/api/v1/records/tickets/${TICKET}/access`, P, carla.id) } satisfies RequestSpec;
    attack("Carla no longer opens a ticket of that team's member", async () => {
      // Carla sees team tickets; Bob's team is her secondary team.
      await expectOk(stage, carlasView, "Carla's view of Bob's ticket through her secondary team");
      stage.h.fake.world.setTeams(P, carla.id, { primary: carla.primaryTeamId, secondary: [] });
      afterViewerTtl(stage);
      return { send: () => send(stage, forge(stage, carlasView)), expect: refusal(403, 'TEAM_ONLY_OTHER_TEAM'), hidden: [subject] };
    });
  });
});
