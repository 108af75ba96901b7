import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../errors.js';
import { readSignedIdentity, type SignedIdentity } from '../hubspot/identity.js';
import { signedUri, verifySignatureV3 } from '../hubspot/signature.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set only after the HubSpot signature verified; the one source of "who is asking". */
    signedIdentity: SignedIdentity | null;
    rawBody: string | undefined;
  }
}

export interface SignedRequestsOptions {
  clientSecret: string;
  publicBaseUrl: string;
  appId: number | undefined;
  now: () => number;
}

/**
 * Guards every route registered in the same encapsulation context: the request must carry a valid
 * X-HubSpot-Signature-v3 and a consistent signed identity, or it is refused before any handler runs.
 * Register it inside the `/api` scope only; it deliberately keeps the raw body so the signature can be checked
 * over the exact bytes HubSpot signed.
 */
export const signedRequestsPlugin = fp<SignedRequestsOptions>(
  async (app: FastifyInstance, options) => {
    app.decorateRequest('signedIdentity', null);
    app.decorateRequest('rawBody', undefined);

    const parseJson = app.getDefaultJsonParser('error', 'error');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      const text = typeof body === 'string' ? body : body.toString('utf8');
      request.rawBody = text;
      if (text === '') {
        done(null, undefined);
        return;
      }
      parseJson(request, text, done);
    });

    // preValidation: before any schema runs, so an unsigned caller learns nothing about the API's inputs.
    app.addHook('preValidation', async (request: FastifyRequest) => {
      const rawUrl = request.raw.url ?? request.url;
      const check = verifySignatureV3(
        {
          method: request.method,
          uri: signedUri(options.publicBaseUrl, rawUrl),
          body: request.rawBody ?? '',
          signature: headerValue(request.headers['x-hubspot-signature-v3']),
          timestamp: headerValue(request.headers['x-hubspot-request-timestamp']),
        },
        options.clientSecret,
        options.now(),
      );
      if (!check.ok) {
        request.log.warn({ failure: check.failure }, 'signature rejected');
        throw new AppError(check.failure);
      }
      const identity = readSignedIdentity(rawUrl, options.appId);
      if (!identity.ok) {
        request.log.warn({ failure: identity.failure }, 'signed identity rejected');
        throw new AppError(identity.failure);
      }
      request.signedIdentity = identity.identity;
      request.log.info({ portalId: identity.identity.portalId, userId: identity.identity.userId }, 'signed request');
    });
  },
  { name: 'signed-requests' },
);

/** A header sent twice arrives as an array; a signature header sent twice is not something HubSpot does. */
function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? undefined : value;
}

/** For handlers behind the plugin: the verified identity, or a fail-closed error if the guard was bypassed. */
export function requireIdentity(request: FastifyRequest): SignedIdentity {
  if (request.signedIdentity === null) throw new AppError('SIGNATURE_MISSING');
  return request.signedIdentity;
}
