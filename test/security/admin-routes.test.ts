import { describe, expect, it } from 'vitest';
import {
  allRecordWords,
  ana,
  attack,
  bob,
  farid,
  forge,
  forRoutes,
  MALFORMED_INPUT,
  mirroredPolicy,
  northwind,
  refusal,
  registeredRoutes,
  routeName,
  routeRequest,
  send,
  sideEffects,
  targetsOf,
  useStage,
  validInput,
  type RouteTarget,
} from './support.js';

/**
 * Every admin route (derived from app.routeTable, so a new one cannot be forgotten) as a non-admin, with a valid,
 * a schema-invalid and no input: always 403 NOT_AN_ADMIN, never 400 (the guard runs before validation), audited,
 * and nothing changed.
 */

const table = await registeredRoutes();
const P = northwind.portalId;

function inputs(target: RouteTarget) {
  const bodyless = target.route.method === 'GET';
  return {
    'a valid input': validInput(target.route),
    'a schema-invalid input': { body: bodyless ? undefined : MALFORMED_INPUT.body, query: MALFORMED_INPUT.query },
    'no input': { body: undefined, query: '' },
  };
}

describe('admin routes as a non-admin', () => {
  const stage = useStage({ policy: mirroredPolicy });

  it('control: the Super Admin reads the settings', async () => {
    const response = await send(stage, forge(stage, { method: 'GET', path: `/api/v1/admin/status?portalId=${P}&userId=${ana.id}` }));
    expect(response.statusCode, response.body).toBe(200);
  });

  forRoutes(
    table,
    'admin routes',
    (route) => route.auth === 'admin',
    (routes) => {
      for (const target of routes.flatMap(targetsOf)) {
        describe(routeName(target.route), () => {
          // Bob: an owned-only agent. Farid: may install apps in HubSpot, but is no Super Admin.
          for (const viewer of [bob, farid]) {
            for (const [inputName, input] of Object.entries(inputs(target))) {
              attack(`${viewer.firstName} with ${inputName}`, () => ({
                send: () => send(stage, forge(stage, routeRequest(target, '5001', P, viewer.id, input))),
                expect: refusal(403, 'NOT_AN_ADMIN'),
                hidden: allRecordWords(northwind),
                unchanged: sideEffects(stage),
                audited: { stage, portalId: P, userId: viewer.id, code: 'NOT_AN_ADMIN' },
              }));
            }
          }
        });
      }
    },
  );
});
