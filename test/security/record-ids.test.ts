import { describe } from 'vitest';
import {
  allRecordWords,
  ana,
  attack,
  bob,
  contoso,
  forge,
  forRoutes,
  json,
  northwind,
  recordWords,
  refusal,
  registeredRoutes,
  routeRequest,
  send,
  sideEffects,
  targetsOf,
  useStage,
  withIdentity,
  yan,
  zoe,
  type Outcome,
  type RouteTarget,
} from './support.js';

/**
 * Record ids on every route that names one (derived from app.routeTable): ids that exist only in another account
 * are 404 RECORD_NOT_FOUND, audited with the asked-for id and never answered with that account's data; absurd ids
 * never reach a record.
 */

const table = await registeredRoutes();
const namesRecord = (target: RouteTarget) => target.objectType !== undefined;

describe('ids of another account', () => {
  const stage = useStage();
  // Both the Super Admin (sees everything in their own account) and an owned-only user, on each side.
  const probes = [
    { viewer: ana, home: northwind, foreign: contoso },
    { viewer: bob, home: northwind, foreign: contoso },
    { viewer: zoe, home: contoso, foreign: northwind },
    { viewer: yan, home: contoso, foreign: northwind },
  ];

  forRoutes(
    table,
    'routes that name a record',
    (route) => route.auth !== 'public' && route.url.includes(':id'),
    (routes) => {
      for (const target of routes.flatMap(targetsOf).filter(namesRecord)) {
        describe(target.name, () => {
          for (const { viewer, home, foreign } of probes) {
            const objectType = target.objectType ?? 'tickets';
            for (const record of foreign[objectType].slice(0, objectType === 'tickets' ? 2 : 1)) {
              attack(`${viewer.firstName} (${home.name}) asks for ${foreign.name}'s ${objectType} ${record.id}`, () => ({
                send: () => send(stage, forge(stage, routeRequest(target, record.id, home.portalId, viewer.id))),
                expect: refusal(404, 'RECORD_NOT_FOUND'),
                hidden: recordWords(foreign, objectType, record.id),
                unchanged: sideEffects(stage, home.portalId),
                audited: { stage, portalId: home.portalId, userId: viewer.id, code: 'RECORD_NOT_FOUND', recordId: record.id },
              }));
            }
          }
        });
      }
    },
  );

  describe('POST /api/v1/admin/explain', () => {
    for (const { viewer, home, foreign } of probes.filter((probe) => probe.viewer.superAdmin)) {
      const record = foreign.tickets[0];
      if (record === undefined) throw new Error(`seed.json: ${foreign.name} has no tickets`);
      const subject = home.users.find((user) => !user.superAdmin) ?? viewer;
      attack(`${viewer.firstName} explains ${foreign.name}'s ticket ${record.id}`, () => ({
        send: () =>
          send(
            stage,
            forge(stage, {
              method: 'POST',
              path: withIdentity('/api/v1/admin/explain', home.portalId, viewer.id),
              ...json({ userId: subject.id, objectType: 'tickets', recordId: record.id, action: 'view' }),
            }),
          ),
        expect: refusal(404, 'RECORD_NOT_FOUND'),
        hidden: recordWords(foreign, 'tickets', record.id),
        unchanged: sideEffects(stage, home.portalId),
      }));
    }
  });
});

describe('absurd record ids in paths', () => {
  const stage = useStage();
  const INVALID = refusal(400, 'VALIDATION_FAILED');
  const NOT_THERE: Outcome[] = [INVALID, refusal(404, 'RECORD_NOT_FOUND')];
  const OFF_ROUTE: Outcome[] = [INVALID, refusal(404, 'NOT_FOUND')];
  const ids: Array<{ name: string; id: string; expect: Outcome | Outcome[] }> = [
    { name: 'letters', id: 'abc', expect: INVALID },
    { name: 'digits then letters', id: '5001abc', expect: INVALID },
    { name: 'negative', id: '-5001', expect: INVALID },
    { name: '21 digits', id: '1'.repeat(21), expect: INVALID },
    { name: '40 digits', id: '9'.repeat(40), expect: INVALID },
    { name: 'a float', id: '5001.0', expect: INVALID },
    { name: 'exponent notation', id: '5e3', expect: INVALID },
    { name: 'hexadecimal', id: '0x1389', expect: INVALID },
    { name: 'a plus sign', id: '+5001', expect: INVALID },
    { name: 'a list', id: '5001,5002', expect: INVALID },
    { name: 'a trailing encoded space', id: '5001%20', expect: INVALID },
    { name: 'an encoded NUL byte', id: '5001%00', expect: INVALID },
    { name: 'full-width digits', id: encodeURIComponent('５００１'), expect: INVALID },
    { name: 'Arabic-Indic digits', id: encodeURIComponent('٥٠٠١'), expect: INVALID },
    { name: 'an unsafe integer', id: '9007199254740993', expect: NOT_THERE },
    { name: 'leading zeros before a seeded id', id: '0005001', expect: NOT_THERE },
    { name: 'zero', id: '0', expect: NOT_THERE },
    { name: '..%2F before a seeded id', id: '..%2F5001', expect: OFF_ROUTE },
    { name: 'a traversal from one seeded id to another', id: '5002%2F..%2F5001', expect: OFF_ROUTE },
    { name: 'encoded dots', id: '%2E%2E', expect: OFF_ROUTE },
  ];

  forRoutes(
    table,
    'routes that name a record',
    (route) => route.auth !== 'public' && route.url.includes(':id'),
    (routes) => {
      for (const target of routes.flatMap(targetsOf).filter(namesRecord)) {
        describe(target.name, () => {
          for (const { name, id, expect: outcome } of ids) {
            attack(`${name}: ${id}`, () => {
              const request = routeRequest(target, id, northwind.portalId, ana.id);
              // HubSpot signs %2F decoded (its documented list); everything else as sent.
              return {
                send: () => send(stage, forge(stage, request, { path: request.path.replaceAll('%2F', '/') })),
                expect: outcome,
                hidden: allRecordWords(northwind),
                unchanged: sideEffects(stage),
              };
            });
          }
        });
      }
    },
  );
});
