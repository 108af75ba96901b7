import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../errors.js';

/**
 * Who may call a route: anyone (health, install pages), a viewer HubSpot signed for, a Super Admin, or the backend's
 * operator (GET /metrics), with the bearer token from the configuration.
 */
export type RouteAuth = 'public' | 'viewer' | 'admin' | 'operator';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Required on every route: registration fails without it, so no route is guarded by accident or not at all. */
    auth?: RouteAuth;
    /** The audited action name of a route that changes anything (in HubSpot or in our store). */
    write?: string;
    /** A write that makes a new record in HubSpot: sending it twice would make two (see the exactly-once step). */
    creates?: boolean;
    /** Answered 2xx, it is a record view allowed: counted in the account's daily statistics (metrics/usage-tally.ts). */
    countsAs?: 'view-allowed';
  }
  interface FastifyInstance {
    /** Every route as registered, for the refusal tests that must cover each admin and each write route. */
    readonly routeTable: ReadonlyArray<RouteEntry>;
  }
}

export interface RouteEntry {
  method: string;
  url: string;
  auth: RouteAuth;
  write: string | undefined;
}

/** Signed routes live under this prefix, and only there: the signature hooks are registered on it. */
export const SIGNED_PREFIX = '/api/';

export interface RouteConfigOptions {
  /** What `operator` routes ask for as `Authorization: Bearer <token>`; undefined: they answer 404, as if absent. */
  operatorToken: string | undefined;
}

/**
 * The guard of every `operator` route, attached here so none can be registered without it. Without a configured token
 * the route answers exactly as a path that does not exist. With one, the presented token is compared in constant time
 * (both sides hashed first, so their lengths say nothing); anything else is 401 OPERATOR_TOKEN_INVALID. The token is
 * read from the Authorization header only, never from the query string, which ends up in proxies' logs.
 */
function operatorGuard(token: string | undefined): onRequestAsyncHookHandler {
  const expected = token === undefined ? undefined : createHash('sha256').update(token).digest();
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (expected === undefined) {
      reply.callNotFound();
      return reply;
    }
    const presented = /^Bearer ([^\s]+)$/i.exec(request.headers.authorization ?? '')?.[1];
    const digest = createHash('sha256')
      .update(presented ?? '')
      .digest();
    if (presented !== undefined && timingSafeEqual(digest, expected)) return undefined;
    void reply.header('www-authenticate', 'Bearer realm="viewer-guard operator"');
    throw new AppError('OPERATOR_TOKEN_INVALID');
  };
}

/**
 * Collects every route with its guard and refuses, at start, a route that declares no `auth`, a signed route outside
 * SIGNED_PREFIX or another one inside it; attaches the operator guard to `operator` routes. Register first, at the
 * root, so it sees every route.
 */
export const routeConfigPlugin = fp<RouteConfigOptions>(
  async (app: FastifyInstance, options) => {
    const guardOperator = operatorGuard(options.operatorToken);
    const table: RouteEntry[] = [];
    app.decorate('routeTable', table);
    app.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      // @fastify/cors answers preflights on its own `OPTIONS *` route, which carries no data and takes no config.
      const auth = route.config?.auth ?? (methods.every((method) => method === 'OPTIONS') ? 'public' : undefined);
      if (auth === undefined) throw new Error(`${methods.join(',')} ${route.url}: every route must declare config.auth`);
      const signed = route.url.startsWith(SIGNED_PREFIX);
      if (signed !== (auth === 'viewer' || auth === 'admin')) {
        throw new Error(`${methods.join(',')} ${route.url}: routes under ${SIGNED_PREFIX} must be signed (viewer or admin), and only those`);
      }
      if (auth === 'operator') route.onRequest = [guardOperator, ...[route.onRequest ?? []].flat()];
      for (const method of methods) {
        // Fastify adds a HEAD twin for every GET; it runs the same hooks, so it is not a route of its own here.
        if (method === 'HEAD' && table.some((entry) => entry.method === 'GET' && entry.url === route.url)) continue;
        table.push({ method, url: route.url, auth, write: route.config?.write });
      }
    });
  },
  { name: 'route-config' },
);
