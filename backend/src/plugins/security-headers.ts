import helmet from '@fastify/helmet';
import Fastify, { type FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { z } from 'zod';
import { PAGE_STYLE_SOURCE } from '../views/html.js';

export interface SecurityHeadersOptions {
  publicBaseUrl: string;
}

/** One year, the usual HSTS lifetime (and helmet's default). */
const HSTS_MAX_AGE_S = 365 * 24 * 60 * 60;

/**
 * The headers helmet sets for these options. @fastify/helmet builds helmet's middleware from the options again on every
 * request; the headers depend on nothing in the request, so they are worked out once, by helmet itself, on a request
 * to an instance of their own.
 */
async function helmetHeaders(options: SecurityHeadersOptions): Promise<Record<string, string>> {
  const probe = Fastify({ logger: false });
  await probe.register(helmet, {
    global: true,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        styleSrc: [PAGE_STYLE_SOURCE],
        baseUri: ["'none'"],
        formAction: ["'none'"],
        frameAncestors: ["'none'"],
      },
    },
    // For browsers without frame-ancestors.
    xFrameOptions: { action: 'deny' },
    // The OAuth callback's URL holds the authorization code and state: no link on its page may send them on.
    referrerPolicy: { policy: 'no-referrer' },
    // Only an https origin may pin https; browsers ignore the header over http anyway (RFC 6797, section 8.1).
    // Subdomains are left alone: they may belong to someone else's service.
    strictTransportSecurity: options.publicBaseUrl.startsWith('https://') ? { maxAge: HSTS_MAX_AGE_S, includeSubDomains: false } : false,
  });
  // Helmet has set its headers on the raw response before any handler runs; nothing else has set any yet.
  probe.get('/', async (_request, reply) => reply.raw.getHeaders());
  try {
    const set = z.record(z.string(), z.union([z.string(), z.number()])).parse((await probe.inject({ method: 'GET', url: '/' })).json());
    return Object.fromEntries(Object.entries(set).map(([name, value]) => [name, String(value)]));
  } finally {
    await probe.close();
  }
}

/**
 * Security headers on every answer, HTML pages and JSON alike (an API answer opened as a document gets the same
 * nothing-runs policy). The pages (views/) are static server-rendered HTML: one inline <style> (allowed by its
 * hash), no script, image, font or form, links only; they are opened top-level, never framed.
 */
export const securityHeadersPlugin = fp<SecurityHeadersOptions>(
  async (app: FastifyInstance, options) => {
    const headers = await helmetHeaders(options);
    app.addHook('onRequest', (_request, reply, done) => {
      reply.headers(headers);
      done();
    });
  },
  { name: 'security-headers' },
);
