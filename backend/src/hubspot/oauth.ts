import { AppError } from '../errors.js';
import { endpointLabel } from './call.js';
import { createDeadlines, type Deadlines } from './deadline.js';
import { HubSpotHttpError, neverSent, readHttpFailure } from './http-error.js';
import type { CallOwner, HubSpotScheduler } from './scheduler.js';
import { accessTokenInfoSchema, accessTokenResponseSchema, readErrorBody, type AccessTokenResponse } from './schemas.js';

/**
 * HubSpot's OAuth token endpoint. @hubspot/api-client 13.x still calls /oauth/v1/token, which HubSpot retires on
 * 2027-02-16, so this call is ours: POST /oauth/2026-03/token, form-encoded, with the client secret in the body
 * (shared/hubspot-openapi/oauth-2026-03.json; "OAuth v3 endpoints" guide).
 */

const TOKEN_PATH = '/oauth/2026-03/token';
const INTROSPECT_PATH = '/oauth/2026-03/token/introspect';

/** What HubSpot says an access token is for, from introspection. */
export interface TokenInfo {
  active: boolean;
  appId: number;
  portalId: number;
  /** Who installed (the user the token was issued to). */
  userId: number;
  scopes: string[];
  /** A user-level install (HubSpot's per-user app model), which Viewer Guard is not built for. */
  userLevel: boolean;
}

/** The refresh token no longer works: the app was uninstalled or access was revoked. Only a reinstall helps. */
export class InvalidGrantError extends Error {
  constructor(readonly hubspotCorrelationId: string | undefined) {
    super('HubSpot refused the refresh token (invalid_grant)');
    this.name = 'InvalidGrantError';
  }
}

export interface OAuthClientOptions {
  apiBaseUrl: string;
  clientId: string;
  clientSecret: string;
  scheduler: HubSpotScheduler;
  /** Each call to the token endpoint runs within a deadline of its own (deadline.ts, `tokenCall`), whoever waits for it. */
  deadlines?: Pick<Deadlines, 'tokenCall'>;
}

export interface OAuthClient {
  exchangeCode(code: string, redirectUri: string): Promise<AccessTokenResponse>;
  refresh(portalId: number, refreshToken: string): Promise<AccessTokenResponse>;
  introspect(accessToken: string): Promise<TokenInfo>;
}

/**
 * HubSpot has answered a dead refresh token as `status: BAD_REFRESH_TOKEN` (v1) and with the OAuth 2.0
 * `invalid_grant` error; we accept either marker wherever it appears in a 400 body.
 */
function isInvalidGrant(status: number, body: unknown): boolean {
  if (status !== 400 && status !== 401) return false;
  const error = readErrorBody(body);
  const markers = [error.status, error.error, error.category, error.subCategory].map((value) => value?.toUpperCase());
  return markers.includes('BAD_REFRESH_TOKEN') || markers.includes('INVALID_GRANT') || markers.includes('BAD_AUTH_CODE');
}

/**
 * Whether a failed refresh may have been carried out by HubSpot anyway, its answer lost on the way: a 5xx, a reset or
 * a timeout after the request left, or a 200 we could not read. Then HubSpot may already have replaced the refresh
 * token (nothing in its docs rules rotation out), so the caller must not send the old one again blindly. Only a
 * refusal HubSpot answered (4xx, 429 included: refused unprocessed) or a connection that never opened proves it was
 * not.
 */
export function refreshMayHaveReachedHubSpot(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current !== undefined && depth < 5; depth += 1) {
    if (current instanceof InvalidGrantError) return false;
    if (current instanceof AppError && current.code === 'HUBSPOT_RATE_LIMITED') return false;
    const failure = readHttpFailure(current);
    if (failure !== undefined) return failure.status >= 500;
    if (neverSent(current)) return false;
    current = current instanceof Error ? current.cause : undefined;
  }
  return true;
}

export function createOAuthClient(options: OAuthClientOptions): OAuthClient {
  const deadlines = options.deadlines ?? createDeadlines();
  async function postForm(path: string, accountKey: string, form: Record<string, string>, owner: CallOwner = {}): Promise<unknown> {
    const body = new URLSearchParams({ ...form, client_id: options.clientId, client_secret: options.clientSecret });
    return options.scheduler.run(
      accountKey,
      deadlines.tokenCall(),
      async (_report, signal) => {
        const response = await fetch(`${options.apiBaseUrl}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body,
          signal,
        });
        const text = await response.text();
        if (!response.ok) {
          throw new HubSpotHttpError(response.status, Object.fromEntries(response.headers), text);
        }
        return JSON.parse(text) as unknown;
      },
      { ...owner, endpoint: endpointLabel({ method: 'POST', path }) },
    );
  }

  async function postToken(accountKey: string, form: Record<string, string>, owner: CallOwner = {}): Promise<AccessTokenResponse> {
    const parsed = accessTokenResponseSchema.safeParse(await postForm(TOKEN_PATH, accountKey, form, owner));
    if (!parsed.success) {
      // Never include the body: it would hold tokens.
      throw new AppError('HUBSPOT_RESPONSE_INVALID', {
        message: `HubSpot's token response is missing ${parsed.error.issues.map((issue) => issue.path.join('.')).join(', ')}.`,
      });
    }
    return parsed.data;
  }

  async function withGrantErrors<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      const failure = readHttpFailure(error);
      if (failure !== undefined && isInvalidGrant(failure.status, failure.body)) {
        throw new InvalidGrantError(readErrorBody(failure.body).correlationId);
      }
      if (failure !== undefined) {
        const body = readErrorBody(failure.body);
        throw new AppError('HUBSPOT_UNAVAILABLE', {
          message: `HubSpot's token endpoint answered ${failure.status}${body.message ? `: ${body.message}` : ''}.`,
          cause: error,
        });
      }
      throw error;
    }
  }

  return {
    exchangeCode: (code, redirectUri) =>
      withGrantErrors(() => postToken('oauth:install', { grant_type: 'authorization_code', code, redirect_uri: redirectUri })),
    // Not retried by the scheduler once it may have reached HubSpot: if HubSpot replaced the refresh token, sending the
    // old one again is refused and would cost the install. The token manager retries, after re-reading the row.
    // (A code exchange sent twice at worst meets BAD_AUTH_CODE, so that one keeps the ordinary retries.)
    refresh: (portalId, refreshToken) =>
      withGrantErrors(() => postToken(`oauth:${portalId}`, { grant_type: 'refresh_token', refresh_token: refreshToken }, { idempotent: false })),
    async introspect(accessToken) {
      const json = await withGrantErrors(() => postForm(INTROSPECT_PATH, 'oauth:install', { token: accessToken, token_type_hint: 'access_token' }));
      const parsed = accessTokenInfoSchema.safeParse(json);
      if (!parsed.success) {
        throw new AppError('HUBSPOT_RESPONSE_INVALID', {
          message: `HubSpot's token introspection is missing ${parsed.error.issues.map((issue) => issue.path.join('.')).join(', ')}.`,
        });
      }
      const info = parsed.data;
      return {
        active: info.active,
        appId: info.app_id,
        portalId: info.hub_id,
        userId: info.user_id,
        scopes: info.scopes,
        userLevel: info.signed_access_token.isUserLevel,
      };
    },
  };
}
