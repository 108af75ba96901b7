import { describe } from 'vitest';
import {
  ana,
  attack,
  bob,
  contoso,
  forge,
  forRoutes,
  mirroredPolicy,
  northwind,
  recordContents,
  recordWords,
  refusal,
  registeredRoutes,
  routeRequest,
  send,
  sideEffects,
  targetsOf,
  unsigned,
  useStage,
  zoe,
  type AuditExpectation,
  type Forged,
  type Outcome,
  type RouteTarget,
  type Stage,
} from './support.js';

/**
 * Every write route (derived from app.routeTable: entries with `write`) refused for each kind of refusal. The
 * signature and identity kinds are sent as the Super Admin, who could otherwise do it, so only that check stands
 * in the way. A refused write changes nothing in HubSpot or here, and its answer shows nothing of the record.
 */

const table = await registeredRoutes();
const P = northwind.portalId;
const MINUTE = 60_000;

/**
 * The Northwind record a write route is aimed at (Ana's, so owned-only Bob may not touch it: he may open Ana's company,
 * companies being View all for him, but edits his own only), and a Contoso one.
 */
const victims = {
  tickets: { home: '5001', foreign: '5101' },
  contacts: { home: '6001', foreign: '6101' },
  deals: { home: '8006', foreign: '8101' },
  companies: { home: '9008', foreign: '9101' },
};

interface Kind {
  name: string;
  applies: (target: RouteTarget) => boolean;
  forged: (stage: Stage, target: RouteTarget, id: string) => Forged;
  expect: Outcome;
  /** Who must show up in the audit log with the refusal, if anyone (refusals of a verified identity are audited). */
  audited?: { userId: number; withRecord: boolean };
  foreign?: boolean;
}

const anyRoute = () => true;
const namesRecord = (target: RouteTarget) => target.objectType !== undefined;
const isAdmin = (target: RouteTarget) => target.route.auth === 'admin';

const kinds: Kind[] = [
  { name: 'unsigned', applies: anyRoute, forged: (_s, t, id) => unsigned(routeRequest(t, id, P, ana.id)), expect: refusal(401, 'SIGNATURE_MISSING') },
  {
    name: 'signed with another secret',
    applies: anyRoute,
    forged: (s, t, id) => forge(s, routeRequest(t, id, P, ana.id), { secret: 'not-the-secret' }),
    expect: refusal(401, 'SIGNATURE_INVALID'),
  },
  {
    name: 'signed 10 minutes ago',
    applies: anyRoute,
    forged: (s, t, id) => forge(s, routeRequest(t, id, P, ana.id), { timestamp: s.clock.now() - 10 * MINUTE }),
    expect: refusal(401, 'SIGNATURE_EXPIRED'),
  },
  {
    name: 'two userIds (the admin and an agent)',
    applies: anyRoute,
    forged: (s, t, id) => {
      const request = routeRequest(t, id, P, ana.id);
      return forge(s, { ...request, path: `${request.path}&userId=${bob.id}` });
    },
    expect: refusal(401, 'IDENTITY_CONFLICT'),
  },
  {
    name: "another account's Super Admin claiming this account",
    applies: anyRoute,
    forged: (s, t, id) => forge(s, routeRequest(t, id, P, zoe.id)),
    expect: refusal(403, 'USER_NOT_IN_PORTAL'),
    audited: { userId: zoe.id, withRecord: false },
  },
  {
    name: 'an agent on an admin route',
    applies: isAdmin,
    forged: (s, t, id) => forge(s, routeRequest(t, id, P, bob.id)),
    expect: refusal(403, 'NOT_AN_ADMIN'),
    audited: { userId: bob.id, withRecord: false },
  },
  {
    name: 'an owned-only agent on a record he does not own',
    applies: (target) => namesRecord(target) && !isAdmin(target),
    forged: (s, t, id) => forge(s, routeRequest(t, id, P, bob.id)),
    expect: refusal(403, 'OWNED_ONLY_NOT_OWNER'),
    audited: { userId: bob.id, withRecord: true },
  },
  {
    name: "the Super Admin on another account's record",
    applies: namesRecord,
    forged: (s, t, id) => forge(s, routeRequest(t, id, P, ana.id)),
    expect: refusal(404, 'RECORD_NOT_FOUND'),
    audited: { userId: ana.id, withRecord: true },
    foreign: true,
  },
];

function refusedWrite(stage: Stage, target: RouteTarget, kind: Kind): void {
  const objectType = target.objectType;
  const id = objectType === undefined ? '' : kind.foreign === true ? victims[objectType].foreign : victims[objectType].home;
  const audited: AuditExpectation | undefined =
    kind.audited === undefined
      ? undefined
      : { stage, portalId: P, userId: kind.audited.userId, code: kind.expect.code ?? '', ...(kind.audited.withRecord ? { recordId: id } : {}) };
  attack(kind.name, () => ({
    send: () => send(stage, kind.forged(stage, target, id)),
    expect: kind.expect,
    hidden: objectType === undefined ? [] : kind.foreign === true ? recordWords(contoso, objectType, id) : recordContents(northwind, objectType, id),
    unchanged: sideEffects(stage),
    ...(audited === undefined ? {} : { audited }),
  }));
}

describe('write routes, each refusal kind (ACCESS_SOURCE=policy, levels mirrored)', () => {
  const stage = useStage({ env: { ACCESS_SOURCE: 'policy' }, policy: mirroredPolicy });
  forRoutes(
    table,
    'write routes',
    (route) => route.write !== undefined,
    (routes) => {
      for (const target of routes.flatMap(targetsOf)) {
        describe(target.name, () => {
          for (const kind of kinds.filter((candidate) => candidate.applies(target))) refusedWrite(stage, target, kind);
        });
      }
    },
  );
});

// HubSpot's own permissions API decides: no levels are saved, so the refusal is HubSpot's.
for (const source of ['hubspot', 'auto'] as const) {
  describe(`write routes refused by HubSpot's permissions (ACCESS_SOURCE=${source})`, () => {
    const stage = useStage({ env: { ACCESS_SOURCE: source } });
    const deniedByHubSpot: Kind = {
      name: 'an owned-only agent on a record he does not own',
      applies: (target) => namesRecord(target) && !isAdmin(target),
      forged: (s, t, id) => forge(s, routeRequest(t, id, P, bob.id)),
      expect: refusal(403, 'DENIED_BY_HUBSPOT'),
      audited: { userId: bob.id, withRecord: true },
    };
    forRoutes(
      table,
      'write routes on records',
      (route) => route.write !== undefined && route.auth !== 'admin' && route.url.includes(':id'),
      (routes) => {
        for (const target of routes.flatMap(targetsOf)) {
          describe(target.name, () => refusedWrite(stage, target, deniedByHubSpot));
        }
      },
    );
  });
}
