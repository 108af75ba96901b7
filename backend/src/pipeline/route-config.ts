import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/** Who may call a route: anyone (health, install pages), a viewer HubSpot signed for, or a Super Admin. */
export type RouteAuth = 'public' | 'viewer' | 'admin';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Required on every route: registration fails without it, so no route is guarded by accident or not at all. */
    auth?: RouteAuth;
    /** The audited action name of a route that changes anything (in HubSpot or in our store). */
    write?: string;
    /** A write that makes a new record in HubSpot: sending it twice would make two (see the exactly-once step). */
    creates?: boolean;
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

/**
 * Collects every route with its guard and refuses, at start, a route that declares no `auth`, a signed route outside
 * SIGNED_PREFIX or a public one inside it. Register first, at the root, so it sees every route.
 */
export const routeConfigPlugin = fp(
  async (app: FastifyInstance) => {
    const table: RouteEntry[] = [];
    app.decorate('routeTable', table);
    app.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      // @fastify/cors answers preflights on its own `OPTIONS *` route, which carries no data and takes no config.
      const auth = route.config?.auth ?? (methods.every((method) => method === 'OPTIONS') ? 'public' : undefined);
      if (auth === undefined) throw new Error(`${methods.join(',')} ${route.url}: every route must declare config.auth`);
      const signed = route.url.startsWith(SIGNED_PREFIX);
      if (signed !== (auth !== 'public')) {
        throw new Error(`${methods.join(',')} ${route.url}: routes under ${SIGNED_PREFIX} must be signed (viewer or admin), and only those`);
      }
      for (const method of methods) {
        // Fastify adds a HEAD twin for every GET; it runs the same hooks, so it is not a route of its own here.
        if (method === 'HEAD' && table.some((entry) => entry.method === 'GET' && entry.url === route.url)) continue;
        table.push({ method, url: route.url, auth, write: route.config?.write });
      }
    });
  },
  { name: 'route-config' },
);
