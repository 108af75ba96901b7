import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ana,
  attack,
  forge,
  forRoutes,
  mirroredPolicy,
  northwind,
  refusal,
  registeredRoutes,
  routeName,
  routeRequest,
  send,
  sideEffects,
  targetsOf,
  unsigned,
  useStage,
  validInput,
  withIdentity,
  type Forged,
  type Outcome,
  type RequestSpec,
  type RouteTarget,
  type Stage,
} from './support.js';

/**
 * Bodies of every content type on every write route (derived from app.routeTable), sent by the Super Admin, who
 * may write, so only the body handling can refuse: the signature covers the raw bytes of any content type, /api
 * takes only application/json (415 after a valid signature), nothing is parsed before the signature verdict, and
 * oversized, malformed, deeply nested or prototype-polluting JSON never writes (CONTRACT.md, step 1).
 */

const table = await registeredRoutes();
const P = northwind.portalId;
/** Records the Super Admin may write to: Bob's ticket, contact, deal and company. */
const ids = { tickets: '5002', contacts: '6002', deals: '8001', companies: '9001' };

const UNSUPPORTED = refusal(415, 'UNSUPPORTED_MEDIA_TYPE');
const SIGNATURE_INVALID = refusal(401, 'SIGNATURE_INVALID');
const SIGNATURE_MISSING = refusal(401, 'SIGNATURE_MISSING');
const MALFORMED = refusal(400, 'VALIDATION_FAILED');
const TOO_LARGE = refusal(413, 'BODY_TOO_LARGE');

const FORM = 'body=unsigned+note&stageId=4&subject=unsigned+ticket&default=';
const BOUNDARY = 'viewer-guard-probe';
const MULTIPART = `--${BOUNDARY}\r\nContent-Disposition: form-data; name="body"\r\n\r\nunsigned note\r\n--${BOUNDARY}--\r\n`;
/** HubSpot's hubspot.fetch() payload limit is 1 MB; one byte over 1 MiB of JSON. */
const OVERSIZED = JSON.stringify({ body: 'x'.repeat(1024 * 1024 - 10) });
const DEPTH = 50_000;

function requestFor(target: RouteTarget, body: string, contentType: string | undefined): RequestSpec {
  const base = routeRequest(target, target.objectType === undefined ? '' : ids[target.objectType], P, ana.id);
  return { method: base.method, path: base.path, body, ...(contentType === undefined ? {} : { contentType }) };
}

interface Variant {
  name: string;
  forged: (stage: Stage, target: RouteTarget) => Forged;
  expect: Outcome | readonly Outcome[];
}

/** `body` sent with `contentType`, signed over its own bytes, over an empty body, or not at all. */
const signedOver = (body: string, contentType: string | undefined) => (stage: Stage, target: RouteTarget) =>
  forge(stage, requestFor(target, body, contentType));
const signedEmpty = (body: string, contentType: string | undefined) => (stage: Stage, target: RouteTarget) =>
  forge(stage, requestFor(target, body, contentType), { body: '' });
const unsignedBody = (body: string, contentType: string | undefined) => (_stage: Stage, target: RouteTarget) => unsigned(requestFor(target, body, contentType));

const FORM_TYPE = 'application/x-www-form-urlencoded';
const contentTypes: Variant[] = [
  { name: 'form-urlencoded, signed over an empty body', forged: signedEmpty(FORM, FORM_TYPE), expect: SIGNATURE_INVALID },
  { name: 'form-urlencoded, signed over its bytes', forged: signedOver(FORM, FORM_TYPE), expect: UNSUPPORTED },
  { name: 'form-urlencoded, unsigned', forged: unsignedBody(FORM, FORM_TYPE), expect: SIGNATURE_MISSING },
  { name: 'text/plain, signed over an empty body', forged: signedEmpty('unsigned note', 'text/plain'), expect: SIGNATURE_INVALID },
  { name: 'text/plain, signed over its bytes', forged: signedOver('unsigned note', 'text/plain'), expect: UNSUPPORTED },
  { name: 'text/plain, unsigned', forged: unsignedBody('unsigned note', 'text/plain'), expect: SIGNATURE_MISSING },
  { name: 'multipart, signed over an empty body', forged: signedEmpty(MULTIPART, `multipart/form-data; boundary=${BOUNDARY}`), expect: SIGNATURE_INVALID },
  { name: 'multipart, signed over its bytes', forged: signedOver(MULTIPART, `multipart/form-data; boundary=${BOUNDARY}`), expect: UNSUPPORTED },
  { name: 'no content type, signed over an empty body', forged: signedEmpty('{"body":"unsigned note"}', undefined), expect: SIGNATURE_INVALID },
  { name: 'no content type, signed over its bytes', forged: signedOver('{"body":"unsigned note"}', undefined), expect: UNSUPPORTED },
  { name: 'text/json, signed over its bytes', forged: signedOver('{"body":"unsigned note"}', 'text/json'), expect: UNSUPPORTED },
  { name: 'application/vnd.api+json, signed over its bytes', forged: signedOver('{"body":"unsigned note"}', 'application/vnd.api+json'), expect: UNSUPPORTED },
  { name: 'JSON, signed over an empty body', forged: signedEmpty('{"body":"unsigned note"}', 'application/json'), expect: SIGNATURE_INVALID },
  { name: 'JSON over 1 MiB, signed over its bytes', forged: signedOver(OVERSIZED, 'application/json'), expect: [TOO_LARGE, SIGNATURE_INVALID] },
  { name: 'JSON over 1 MiB, unsigned', forged: unsignedBody(OVERSIZED, 'application/json'), expect: [TOO_LARGE, SIGNATURE_MISSING] },
  { name: 'text/plain over 1 MiB, signed over an empty body', forged: signedEmpty(OVERSIZED, 'text/plain'), expect: [TOO_LARGE, SIGNATURE_INVALID] },
];

/** For routes that take a JSON body: its valid fields with something hostile added. */
const withValid = (target: RouteTarget, extra: string) => (validInput(target.route).body ?? '{}').replace(/^\{/, `{${extra},`);
/** Its valid fields, but the first (a field the route validates) replaced by `value`. */
function inFirstField(target: RouteTarget, value: string): string {
  const valid = z.record(z.string(), z.unknown()).parse(JSON.parse(validInput(target.route).body ?? '{}'));
  const [first, ...rest] = Object.keys(valid);
  if (first === undefined) throw new Error(`${routeName(target.route)}: its valid input has no field to replace`);
  return `{${JSON.stringify(first)}:${value}${rest.map((key) => `,${JSON.stringify(key)}:${JSON.stringify(valid[key])}`).join('')}}`;
}
const jsonBodies: Array<{
  name: string;
  body: (target: RouteTarget) => string;
  forged: (body: string) => (stage: Stage, target: RouteTarget) => Forged;
  expect: Outcome;
}> = [
  { name: 'malformed JSON, signed', body: () => '{"body": "unterminated', forged: (body) => signedOver(body, 'application/json'), expect: MALFORMED },
  {
    name: 'malformed JSON, unsigned',
    body: () => '{"body": "unterminated',
    forged: (body) => unsignedBody(body, 'application/json'),
    expect: SIGNATURE_MISSING,
  },
  {
    name: 'malformed JSON, signed with another secret',
    body: () => '{"body": "unterminated',
    forged: (body) => (stage, target) => forge(stage, requestFor(target, body, 'application/json'), { secret: 'x' }),
    expect: SIGNATURE_INVALID,
  },
  {
    name: `arrays nested ${DEPTH} deep, signed`,
    body: () => `${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}`,
    forged: (body) => signedOver(body, 'application/json'),
    expect: MALFORMED,
  },
  {
    name: `objects nested ${DEPTH} deep in place of a validated field, signed`,
    body: (target) => inFirstField(target, `${'{"a":'.repeat(DEPTH)}1${'}'.repeat(DEPTH)}`),
    forged: (body) => signedOver(body, 'application/json'),
    expect: MALFORMED,
  },
  {
    name: 'a __proto__ key, signed',
    body: (target) => withValid(target, '"__proto__":{"polluted":"yes","superAdmin":true}'),
    forged: (body) => signedOver(body, 'application/json'),
    expect: MALFORMED,
  },
  {
    name: 'a constructor.prototype key, signed',
    body: (target) => withValid(target, '"constructor":{"prototype":{"polluted":"yes"}}'),
    forged: (body) => signedOver(body, 'application/json'),
    expect: MALFORMED,
  },
  {
    name: 'a __proto__ key in place of a validated field, signed',
    body: (target) => inFirstField(target, '{"__proto__":{"polluted":"yes"}}'),
    forged: (body) => signedOver(body, 'application/json'),
    expect: MALFORMED,
  },
];

describe('bodies on write routes', () => {
  // A wrongly accepted disconnect would leave the account uninstalled for the next case.
  const stage = useStage({ policy: mirroredPolicy, reinstall: true });

  it('control: JSON with a charset parameter is JSON', async () => {
    const request: RequestSpec = {
      method: 'POST',
      path: withIdentity(`/api/v1/tickets/${ids.tickets}/notes`, P, ana.id),
      body: '{"body":"Charset note"}',
      contentType: 'application/json; charset=utf-8',
    };
    const response = await send(stage, forge(stage, request));
    expect(response.statusCode, response.body).toBe(200);
  });

  forRoutes(
    table,
    'write routes',
    (route) => route.write !== undefined,
    (routes) => {
      for (const target of routes.flatMap(targetsOf)) {
        describe(routeName(target.route), () => {
          for (const variant of contentTypes) {
            attack(variant.name, () => ({ send: () => send(stage, variant.forged(stage, target)), expect: variant.expect, unchanged: sideEffects(stage) }));
          }
          if (validInput(target.route).body === undefined) return;
          for (const variant of jsonBodies) {
            attack(variant.name, () => ({
              send: () => send(stage, variant.forged(variant.body(target))(stage, target)),
              expect: variant.expect,
              unchanged: sideEffects(stage),
            }));
          }
        });
      }
    },
  );
});
