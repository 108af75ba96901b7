import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Config } from '../config.js';
import type { HubSpotApi } from '../hubspot/api.js';
import type { Deadline, Deadlines } from '../hubspot/deadline.js';
import { z } from 'zod';
import { isAppError } from '../errors.js';
import { InvalidGrantError, type OAuthClient } from '../hubspot/oauth.js';
import { TokenDecryptionError, type InstallationStore, type OAuthStateStore } from '../store/index.js';
import { displayName as personName } from '../viewer/directory.js';
import { createOAuthStates, STATE_TTL_MS } from '../oauth/state.js';
import {
  alreadyInstalledPage,
  exchangeFailedPage,
  hubspotErrorPage,
  installedPage,
  landingPage,
  stateProblemPage,
  userLevelInstallPage,
} from '../views/install-pages.js';

const STATE_COOKIE = 'vg_oauth_state';

/** What an optional scope adds, shown on the installed page when an account did not grant it. */
const OPTIONAL_SCOPE_PURPOSE: Record<string, string> = {};

const callbackQuery = z.object({
  code: z.string().min(1).optional(),
  state: z.string().optional(),
  error: z.string().max(200).optional(),
  error_description: z.string().max(1000).optional(),
});

export interface OAuthRouteDeps {
  config: Config;
  oauth: OAuthClient;
  installations: InstallationStore;
  /** Where issued OAuth states are remembered until used once. */
  states: OAuthStateStore;
  hubspot: HubSpotApi;
  /** The install callback's own deadline for its HubSpot API calls; the token endpoint's calls have theirs. */
  deadlines: Pick<Deadlines, 'installPage'>;
  now: () => number;
}

/** The install pages and the OAuth flow: public routes (a browser, not a card, calls them). */
export async function oauthRoutes(app: FastifyInstance, deps: OAuthRouteDeps): Promise<void> {
  const { config } = deps;
  const base = config.publicBaseUrl;
  const redirectUri = `${base}/oauth/callback`;
  const landingUrl = `${base}/`;
  const states = createOAuthStates(config.hubspot.clientSecret, deps.states, deps.now);
  const secureCookie = base.startsWith('https://');

  const sendPage = (reply: FastifyReply, status: number, body: string) =>
    reply.status(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);

  app.get('/', { config: { auth: 'public' } }, async (_request, reply) =>
    sendPage(reply, 200, landingPage({ installUrl: `${base}/oauth/install`, requiredScopes: config.hubspot.requiredScopes })),
  );

  app.get('/oauth/install', { config: { auth: 'public' } }, async (_request, reply) => {
    const { state, nonce } = await states.issue();
    const authorize = new URL(config.hubspot.authorizeUrl);
    authorize.searchParams.set('client_id', config.hubspot.clientId);
    authorize.searchParams.set('redirect_uri', redirectUri);
    authorize.searchParams.set('scope', config.hubspot.requiredScopes.join(' '));
    if (config.hubspot.optionalScopes.length > 0) {
      authorize.searchParams.set('optional_scope', config.hubspot.optionalScopes.join(' '));
    }
    authorize.searchParams.set('state', state);
    return reply
      .setCookie(STATE_COOKIE, nonce, {
        path: '/oauth',
        httpOnly: true,
        secure: secureCookie,
        // Lax: the cookie must ride along on HubSpot's top-level redirect back to us.
        sameSite: 'lax',
        maxAge: STATE_TTL_MS / 1000,
      })
      .header('cache-control', 'no-store')
      .redirect(authorize.toString(), 302);
  });

  app.get('/oauth/callback', { config: { auth: 'public' } }, async (request, reply) => {
    const deadline = deps.deadlines.installPage();
    const query = callbackQuery.safeParse(request.query);
    const params = query.success ? query.data : {};
    // The cookie stays until it expires: the stored nonce makes the state single-use, and a reload of this page then
    // explains that the link was used instead of saying the install session is missing.
    const cookieNonce = request.cookies[STATE_COOKIE];

    // A HubSpot error is shown even without a valid state: it carries no credential, and hiding it helps no one.
    if (params.error !== undefined) {
      request.log.info({ hubspotError: params.error }, 'install returned an error from HubSpot');
      return sendPage(reply, 400, hubspotErrorPage({ error: params.error, description: params.error_description, landingUrl }));
    }
    const stateCheck = await states.redeem(params.state, cookieNonce);
    if (stateCheck !== 'ok') {
      request.log.warn({ stateCheck }, 'install callback refused: state');
      return sendPage(reply, 400, stateProblemPage({ problem: stateCheck, landingUrl }));
    }
    if (params.code === undefined) {
      return sendPage(reply, 400, exchangeFailedPage({ reason: 'HubSpot came back without an authorization code.', landingUrl }));
    }

    // The token answer may omit the account, installer and scopes (2026-03 spec): introspection names them for sure.
    let tokens;
    let info;
    try {
      tokens = await deps.oauth.exchangeCode(params.code, redirectUri);
      info = await deps.oauth.introspect(tokens.access_token);
    } catch (error) {
      request.log.warn({ err: error }, 'install code exchange failed');
      const reason =
        error instanceof InvalidGrantError
          ? 'HubSpot did not accept the authorization code (it was already used or has expired).'
          : isAppError(error)
            ? error.message
            : 'Viewer Guard could not reach HubSpot to finish the install.';
      return sendPage(reply, 502, exchangeFailedPage({ reason, landingUrl }));
    }
    if (!info.active) {
      return sendPage(reply, 502, exchangeFailedPage({ reason: 'HubSpot reports the new access token as inactive.', landingUrl }));
    }
    if (config.hubspot.appId !== undefined && info.appId !== config.hubspot.appId) {
      request.log.warn({ appId: info.appId }, 'install refused: token issued for another app');
      return sendPage(
        reply,
        502,
        exchangeFailedPage({
          reason: `HubSpot issued this install to app ${info.appId}, not to this backend's app (HUBSPOT_APP_ID ${config.hubspot.appId}).`,
          landingUrl,
        }),
      );
    }
    if (info.userLevel) {
      request.log.info({ portalId: info.portalId }, 'install refused: user-level');
      return sendPage(reply, 409, userLevelInstallPage({ portalId: info.portalId, landingUrl }));
    }

    const now = new Date(deps.now());
    // An install whose tokens no configured key opens is unusable, and reinstalling is its repair: it is replaced like any.
    const previous = await deps.installations.get(info.portalId).catch((error: unknown) => {
      if (!(error instanceof TokenDecryptionError)) throw error;
      request.log.warn({ portalId: info.portalId }, 'reinstall replaces an install whose tokens the configured keys cannot open');
      return undefined;
    });
    const installation = await deps.installations.saveInstall(
      {
        portalId: info.portalId,
        accessToken: tokens.access_token,
        refreshToken: tokens.refresh_token,
        accessTokenExpiresAt: new Date(now.getTime() + tokens.expires_in * 1000),
        scopes: info.scopes,
        installedByUserId: info.userId,
      },
      now,
    );
    request.log.info({ portalId: installation.portalId, scopes: info.scopes.length }, 'installed');

    if (previous !== undefined && previous.status === 'active') {
      return sendPage(
        reply,
        200,
        alreadyInstalledPage({
          portalId: installation.portalId,
          installedBy: await displayName(deps, app, deadline, installation.portalId, previous.installedByUserId),
          installedAt: previous.installedAt,
        }),
      );
    }
    const granted = new Set(info.scopes);
    return sendPage(
      reply,
      200,
      installedPage({
        portalId: installation.portalId,
        installerName: await displayName(deps, app, deadline, installation.portalId, installation.installedByUserId),
        grantedScopes: info.scopes,
        missingOptional: config.hubspot.optionalScopes
          .filter((scope) => !granted.has(scope))
          .map((scope) => ({ scope, disables: OPTIONAL_SCOPE_PURPOSE[scope] ?? 'an optional feature' })),
      }),
    );
  });
}

/** A person's name for a page; the page must still render when HubSpot cannot be asked. */
async function displayName(deps: OAuthRouteDeps, app: FastifyInstance, deadline: Deadline, portalId: number, userId: number): Promise<string> {
  try {
    const user = await deps.hubspot.forPortal(portalId, { deadline }).getUser(userId);
    if (user !== undefined) return personName(user) === user.email ? user.email : `${personName(user)} (${user.email})`;
  } catch (error) {
    app.log.warn({ err: error, portalId }, 'could not look up installer name');
  }
  return `HubSpot user ${userId}`;
}
