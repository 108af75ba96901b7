import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { PAGE_STYLE_SOURCE } from '../views/html.js';

export interface SecurityHeadersOptions {
  publicBaseUrl: string;
}

/** One year, the usual HSTS lifetime (and helmet's default). */
const HSTS_MAX_AGE_S = 365 * 24 * 60 * 60;

/**
 * Security headers on every answer, HTML pages and JSON alike (an API answer opened as a document gets the same
 * nothing-runs policy). The pages (views/) are static server-rendered HTML: one inline <style> (allowed by its
 * hash), no script, image, font or form, links only; they are opened top-level, never framed.
 */
export const securityHeadersPlugin = fp<SecurityHeadersOptions>(
  async (app: FastifyInstance, options) => {
    await app.register(helmet, {
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
  },
  { name: 'security-headers' },
);
