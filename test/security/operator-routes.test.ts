import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loggerOptions } from '../../backend/src/logging.js';
import { startHarness, type Harness } from '../support/harness.js';
import {
  ana,
  attack,
  forge,
  forRoutes,
  northwind,
  refusal,
  registeredRoutes,
  routeName,
  SteppingClock,
  unsigned,
  withIdentity,
  type RouteEntry,
  type Stage,
} from './support.js';

/**
 * Every operator route (derived from app.routeTable: `auth: 'operator'`, GET /metrics today) refuses whoever does not
 * present the bearer token from METRICS_TOKEN, compared in full: 401 OPERATOR_TOKEN_INVALID, and nothing of what it
 * serves. Without a configured token the route answers as a path that does not exist. A HubSpot signature, even a
 * Super Admin's, is no substitute. The refusals name no account, so they are logged (without the token), not audited.
 */

const table = await registeredRoutes();
const TOKEN = randomBytes(32).toString('hex');
const P = northwind.portalId;
/** What only a successful answer of an operator route contains. */
const SERVED = ['viewer_guard_'];

function stageWith(env: Record<string, string>, lines: string[]): Stage & { ready: Promise<void> } {
  let harness: Harness | undefined;
  const clock = new SteppingClock();
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  let started: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (started = resolve));
  beforeAll(async () => {
    harness = await startHarness({ now: clock.now, env, logger: pino(loggerOptions('trace'), sink) });
    await harness.installDirect(P, ana.id);
    started();
  });
  afterAll(async () => harness?.close());
  return {
    ready,
    clock,
    get h() {
      if (harness === undefined) throw new Error('the harness is used before beforeAll started it');
      return harness;
    },
  };
}

/** Audit entries of every kind: a refusal here names no account, so none may be added. */
const auditRows = (stage: Stage) => async () =>
  Number(
    (
      await stage.h.database.db
        .selectFrom('audit_log')
        .select((eb) => eb.fn.countAll().as('rows'))
        .executeTakeFirstOrThrow()
    ).rows,
  );

/** Everything a caller might try instead of `Authorization: Bearer <token>`. */
function attempts(route: RouteEntry, stage: Stage): Array<[string, () => ReturnType<typeof unsigned>]> {
  const plain = (headers: Record<string, string> = {}, path = route.url) => unsigned({ method: route.method as 'GET', path, headers });
  const wrong = randomBytes(32).toString('hex');
  return [
    ['no Authorization header', () => plain()],
    ['another token of the same length', () => plain({ authorization: `Bearer ${wrong}` })],
    ['the token without its last character', () => plain({ authorization: `Bearer ${TOKEN.slice(0, -1)}` })],
    ['the token with one character more', () => plain({ authorization: `Bearer ${TOKEN}0` })],
    ['the token in another case', () => plain({ authorization: `Bearer ${TOKEN.toUpperCase()}` })],
    ['the token as Basic credentials', () => plain({ authorization: `Basic ${Buffer.from(`metrics:${TOKEN}`).toString('base64')}` })],
    ['the token without a scheme', () => plain({ authorization: TOKEN })],
    ['an empty bearer', () => plain({ authorization: 'Bearer ' })],
    ['the token in the query string', () => plain({}, `${route.url}?token=${TOKEN}&access_token=${TOKEN}`)],
    ['the token in another header', () => plain({ 'x-metrics-token': TOKEN, cookie: `token=${TOKEN}` })],
    ["a Super Admin's valid HubSpot signature", () => forge(stage, { method: route.method as 'GET', path: withIdentity(route.url, P, ana.id) })],
  ];
}

describe('operator routes with METRICS_TOKEN set', () => {
  const lines: string[] = [];
  const stage = stageWith({ METRICS_TOKEN: TOKEN }, lines);

  forRoutes(
    table,
    'operator routes',
    (route) => route.auth === 'operator',
    (routes) => {
      for (const route of routes) {
        describe(routeName(route), () => {
          it('control: answers the operator who presents the token', async () => {
            await stage.ready;
            const response = await stage.h.app.inject(
              unsigned({ method: route.method as 'GET', path: route.url, headers: { authorization: `Bearer ${TOKEN}` } }),
            );
            expect(response.statusCode, response.body).toBe(200);
            for (const word of SERVED) expect(response.body).toContain(word);
          });

          for (const [name, request] of attempts(route, stage)) {
            attack(name, async () => {
              await stage.ready;
              return {
                send: async () => {
                  const response = await stage.h.app.inject(request());
                  expect(response.headers['www-authenticate']).toMatch(/^Bearer /);
                  return response;
                },
                expect: refusal(401, 'OPERATOR_TOKEN_INVALID'),
                hidden: SERVED,
                unchanged: auditRows(stage),
              };
            });
          }

          it('never logs the token, presented or configured', () => {
            expect(lines.length).toBeGreaterThan(0);
            expect(lines.filter((line) => line.includes(TOKEN) || line.includes(TOKEN.slice(0, -1)))).toEqual([]);
          });
        });
      }
    },
  );
});

describe('operator routes without METRICS_TOKEN', () => {
  const stage = stageWith({}, []);

  forRoutes(
    table,
    'operator routes',
    (route) => route.auth === 'operator',
    (routes) => {
      for (const route of routes) {
        describe(routeName(route), () => {
          for (const [name, request] of [
            ...attempts(route, stage),
            [
              'a bearer token, which nothing could match',
              () => unsigned({ method: route.method as 'GET', path: route.url, headers: { authorization: `Bearer ${TOKEN}` } }),
            ] as const,
          ]) {
            attack(`${name}: answered as a path that does not exist`, async () => {
              await stage.ready;
              return {
                send: async () => {
                  const response = await stage.h.app.inject(request());
                  const absent = await stage.h.app.inject({ method: route.method as 'GET', url: `${route.url}-absent` });
                  expect(response.json().error.message).toBe(absent.json().error.message.replace('-absent', ''));
                  expect(response.headers['www-authenticate']).toBeUndefined();
                  return response;
                },
                expect: refusal(404, 'NOT_FOUND'),
                hidden: SERVED,
                unchanged: auditRows(stage),
              };
            });
          }
        });
      }
    },
  );
});
