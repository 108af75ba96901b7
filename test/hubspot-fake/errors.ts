import { randomUUID } from 'node:crypto';
import type { FastifyReply } from 'fastify';

/**
 * HubSpot's error bodies. Every one carries the fields the specs' shared Error schema requires (category,
 * correlationId, message; e.g. shared/hubspot-openapi/crm-owners-v3.json components.schemas.Error) plus the
 * `status: "error"` HubSpot's APIs add beside them.
 */
export interface HubSpotErrorBody {
  status: string;
  message: string;
  correlationId: string;
  category: string;
  subCategory?: string;
  errors?: Array<{ message: string; context?: Record<string, string[]> }>;
  context?: Record<string, string[]>;
  [extra: string]: unknown;
}

export function errorBody(category: string, message: string, extra: Partial<HubSpotErrorBody> = {}): HubSpotErrorBody {
  return { status: 'error', message, correlationId: randomUUID(), category, ...extra };
}

export function sendError(reply: FastifyReply, status: number, body: HubSpotErrorBody): FastifyReply {
  return reply.status(status).header('content-type', 'application/json;charset=utf-8').send(body);
}

export const notFound = (what: string) => errorBody('OBJECT_NOT_FOUND', `${what} was not found.`);

export const invalidAuthentication = () =>
  errorBody(
    'INVALID_AUTHENTICATION',
    'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview',
  );

export const expiredAuthentication = () => errorBody('EXPIRED_AUTHENTICATION', 'The OAuth token used to make this call expired.');

/** The body HubSpot sends when a token lacks a scope: the scopes it wanted are listed in errors[].context. */
export const missingScopes = (scopes: string[]) =>
  errorBody(
    'MISSING_SCOPES',
    "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
    {
      errors: [{ message: 'One or more of the following scopes are required.', context: { requiredGranularScopes: scopes } }],
    },
  );

/**
 * 429 body: "The message and policyName will indicate which limit you hit" (API usage guidelines), with
 * `errorType: RATE_LIMIT`; TEN_SECONDLY_ROLLING is the 10-second limit the guidelines name. What a search 429 names
 * is documented nowhere we have: SECONDLY is what HubSpot answered for its per-second limits (an unconfirmed
 * assumption; the backend pauses the search lane whatever the name).
 */
export const rateLimited = (lane: 'general' | 'search') =>
  lane === 'general'
    ? errorBody('RATE_LIMITS', 'You have reached your ten_secondly_rolling limit.', { errorType: 'RATE_LIMIT', policyName: 'TEN_SECONDLY_ROLLING' })
    : errorBody('RATE_LIMITS', 'You have reached your secondly limit.', { errorType: 'RATE_LIMIT', policyName: 'SECONDLY' });

export const internalError = () => errorBody('INTERNAL_ERROR', 'An internal error occurred.');
