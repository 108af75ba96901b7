import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import escapeHtml from 'escape-html';
import { z } from 'zod';
import { errorBody, internalError, sendError } from '../errors.js';
import type { FakeContext } from '../server.js';

/**
 * The part of HubSpot's scope catalogue the local HubSpot knows (HubSpot's "Scopes" reference; the deals and companies
 * read and write scopes are also those 2026-03/deals.json and companies.json ask for); a request naming
 * another scope is refused, as HubSpot refuses unknown scopes.
 */
export const KNOWN_SCOPES = new Set([
  'oauth',
  'tickets',
  'crm.objects.contacts.read',
  'crm.objects.contacts.write',
  'crm.objects.companies.read',
  'crm.objects.companies.write',
  'crm.objects.deals.read',
  'crm.objects.deals.write',
  'crm.objects.owners.read',
  'settings.users.read',
  'settings.users.write',
  'settings.users.teams.read',
]);

const CODE_TTL_MS = 10 * 60 * 1000;

const authorizeParams = z.object({
  client_id: z.string().default(''),
  redirect_uri: z.string().default(''),
  scope: z.string().default(''),
  optional_scope: z.string().default(''),
  state: z.string().optional(),
});

const consentForm = authorizeParams.extend({
  userId: z.coerce.number().int().positive(),
  decision: z.enum(['allow', 'deny']),
});

const tokenForm = z.object({
  grant_type: z.string().default(''),
  client_id: z.string().default(''),
  client_secret: z.string().default(''),
  code: z.string().optional(),
  redirect_uri: z.string().optional(),
  refresh_token: z.string().optional(),
});

const scopesOf = (value: string) => value.split(/\s+/).filter(Boolean);
const sameScopes = (value: string, configured: string[]) => {
  const requested = new Set(scopesOf(value));
  return requested.size === new Set(configured).size && configured.every((scope) => requested.has(scope));
};

function page(reply: FastifyReply, title: string, body: string): FastifyReply {
  return reply
    .type('text/html; charset=utf-8')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)} | HubSpot</title></head><body><main>${body}</main></body></html>`,
    );
}

function redirectBack(reply: FastifyReply, redirectUri: string, params: Record<string, string | undefined>): FastifyReply {
  const target = new URL(redirectUri);
  for (const [name, value] of Object.entries(params)) if (value !== undefined) target.searchParams.set(name, value);
  return reply.redirect(target.toString(), 302);
}

export async function oauthRoutes(app: FastifyInstance, { context }: { context: FakeContext }): Promise<void> {
  const { options, state } = context;

  /** Problems HubSpot reports on its own page, never redirecting: the redirect target itself is not trusted yet. */
  function requestProblem(params: z.infer<typeof authorizeParams>): string | undefined {
    if (params.client_id !== options.app.clientId) return 'This app could not be found (unknown client_id).';
    let redirect: URL;
    try {
      redirect = new URL(params.redirect_uri);
    } catch {
      return 'The redirect URL of this app is not valid.';
    }
    if (!/^https?:$/.test(redirect.protocol)) return 'The redirect URL of this app is not valid.';
    if (options.app.redirectUris !== undefined && !options.app.redirectUris.includes(params.redirect_uri)) {
      return "The redirect URL does not match the app's settings.";
    }
    const unknown = [...scopesOf(params.scope), ...scopesOf(params.optional_scope)].filter((scope) => !KNOWN_SCOPES.has(scope));
    if (unknown.length > 0) return `Unknown scopes requested: ${unknown.join(', ')}.`;
    if (scopesOf(params.scope).length === 0) return 'The app did not request any scopes.';
    // HubSpot installs only when `scope` holds the app's required scopes and `optional_scope` its optional ones
    // ("App scope types", https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/scopes).
    // Whether it tolerates extra scopes is not documented, so the local HubSpot demands equality, the strictest reading.
    const configured = options.app.scopes;
    if (configured !== undefined && (!sameScopes(params.scope, configured.required) || !sameScopes(params.optional_scope, configured.optional))) {
      return 'The scopes in the install URL do not match the scopes configured for this app.';
    }
    return undefined;
  }

  app.get('/oauth/authorize', async (request, reply) => {
    const params = authorizeParams.parse(request.query);
    const problem = requestProblem(params);
    if (problem !== undefined) return page(reply.status(400), 'Something went wrong', `<h1>Something went wrong</h1><p>${escapeHtml(problem)}</p>`);
    // `state` is optional: zod leaves the key out when the query has none.
    const hidden = Object.entries<string | undefined>(params)
      .flatMap(([name, value]) => (value === undefined ? [] : [`<input type="hidden" name="${name}" value="${escapeHtml(value)}">`]))
      .join('');
    const userOptions = state.seed.accounts
      .flatMap((account) =>
        account.users.map(
          (user) =>
            `<option value="${user.id}">${escapeHtml(`${user.firstName} ${user.lastName} (${user.email}) — ${account.name}, account ${account.portalId}`)}</option>`,
        ),
      )
      .join('');
    const scopeItems = [...scopesOf(params.scope), ...scopesOf(params.optional_scope).map((scope) => `${scope} (optional)`)]
      .map((scope) => `<li><code>${escapeHtml(scope)}</code></li>`)
      .join('');
    return page(
      reply,
      'Connect app',
      `<h1>Connect app to your HubSpot account</h1>
<form method="post" action="/oauth/authorize">${hidden}
<label for="userId">Logged in as</label> <select id="userId" name="userId">${userOptions}</select>
<p>This app is requesting access to:</p><ul>${scopeItems}</ul>
<button type="submit" name="decision" value="allow">Connect app</button>
<button type="submit" name="decision" value="deny">Cancel</button>
</form>`,
    );
  });

  app.post('/oauth/authorize', async (request, reply) => {
    const parsed = consentForm.safeParse(request.body);
    if (!parsed.success) return page(reply.status(400), 'Something went wrong', '<h1>Something went wrong</h1><p>The consent form was incomplete.</p>');
    const form = parsed.data;
    const problem = requestProblem(form);
    if (problem !== undefined) return page(reply.status(400), 'Something went wrong', `<h1>Something went wrong</h1><p>${escapeHtml(problem)}</p>`);
    if (form.decision === 'deny') {
      return redirectBack(reply, form.redirect_uri, { error: 'access_denied', error_description: 'The user declined to connect the app.', state: form.state });
    }
    const found = state.findUser(form.userId);
    if (found === undefined || found.user.deactivated) {
      return page(reply.status(403), 'Log in', '<h1>Log in to HubSpot</h1><p>That user cannot log in.</p>');
    }
    if (!found.user.superAdmin && !found.user.canInstallApps) {
      // What HubSpot shows a user whose permissions do not cover the requested scopes; it does not redirect.
      return page(
        reply,
        'Permissions error',
        '<h1>Permissions error</h1><p>You do not have the correct role to grant these permissions. Ask a Super Admin in your account to install this app.</p>',
      );
    }
    const grantable = new Set(found.account.grantableOptionalScopes);
    const scopes = [...scopesOf(form.scope), ...scopesOf(form.optional_scope).filter((scope) => grantable.has(scope))];
    const code = `fake-code-${randomBytes(12).toString('hex')}`;
    state.codes.set(code, {
      portalId: found.account.portalId,
      userId: found.user.id,
      scopes,
      redirectUri: form.redirect_uri,
      expiresAt: state.now() + CODE_TTL_MS,
    });
    return redirectBack(reply, form.redirect_uri, { code, state: form.state });
  });

  // POST /oauth/2026-03/token (shared/hubspot-openapi/oauth-2026-03.json): form-encoded, client secret in the body.
  app.post('/oauth/2026-03/token', async (request, reply) => {
    const fault = state.tokenFaults.shift();
    // A request that gets no answer still reached HubSpot: counted with status 0, since onResponse never runs for it.
    const unanswered = () => state.calls.push({ method: 'POST', route: '/oauth/2026-03/token', status: 0, at: state.now() });
    if (fault === 'hang') {
      // Never answers; ends when the client gives up or the fake closes (forceCloseConnections).
      unanswered();
      reply.hijack();
      await new Promise((resolve) => request.raw.socket.once('close', resolve));
      return reply;
    }
    if (fault !== undefined && fault !== 'answer-lost') return sendError(reply, fault.status, internalError());
    const form = tokenForm.parse(request.body ?? {});
    if (form.client_id !== options.app.clientId || form.client_secret !== options.app.clientSecret) {
      return sendError(
        reply,
        400,
        errorBody('VALIDATION_ERROR', 'missing or invalid client credentials', { status: 'BAD_CLIENT_ID', error: 'invalid_client' }),
      );
    }
    const respond = async (grant: { portalId: number; userId: number; scopes: string[] }, refreshToken: string) => {
      const accessToken = state.issueAccessToken(grant);
      if (fault === 'answer-lost') {
        // The grant is carried out; the answer never arrives.
        unanswered();
        reply.hijack();
        request.raw.socket.destroy();
        return reply;
      }
      state.tokenAnswersOnTheWay += 1;
      try {
        if (state.tokenAnswerDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, state.tokenAnswerDelayMs));
        return await reply.send({
          access_token: accessToken,
          refresh_token: refreshToken,
          expires_in: context.options.accessTokenTtlSeconds ?? 1800,
          token_type: 'bearer',
          token_use: 'access_token',
          hub_id: grant.portalId,
          user_id: grant.userId,
          scopes: grant.scopes,
        });
      } finally {
        state.tokenAnswersOnTheWay -= 1;
      }
    };
    if (form.grant_type === 'authorization_code') {
      const code = form.code === undefined ? undefined : state.codes.get(form.code);
      if (form.code !== undefined) state.codes.delete(form.code);
      if (code === undefined || code.expiresAt < state.now() || code.redirectUri !== form.redirect_uri) {
        return sendError(reply, 400, errorBody('VALIDATION_ERROR', 'missing or unknown auth code', { status: 'BAD_AUTH_CODE', error: 'invalid_grant' }));
      }
      const { refreshToken } = state.issueTokens(code.portalId, code.userId, code.scopes);
      return respond(code, refreshToken);
    }
    if (form.grant_type === 'refresh_token') {
      const grant = form.refresh_token === undefined ? undefined : state.refreshTokens.get(form.refresh_token);
      if (grant === undefined || form.refresh_token === undefined) {
        // HubSpot's v1 endpoint answered a dead refresh token with status BAD_REFRESH_TOKEN; OAuth 2.0 calls it invalid_grant.
        return sendError(
          reply,
          400,
          errorBody('VALIDATION_ERROR', 'missing or invalid refresh token', { status: 'BAD_REFRESH_TOKEN', error: 'invalid_grant' }),
        );
      }
      return respond(grant, state.rotate(form.refresh_token, grant));
    }
    return sendError(reply, 400, errorBody('VALIDATION_ERROR', `unsupported grant_type ${form.grant_type}`, { error: 'unsupported_grant_type' }));
  });

  // POST /oauth/2026-03/token/introspect (shared/hubspot-openapi/2026-03/oauth.json, PublicAccessTokenInfoResponse with
  // SignedAccessToken): what HubSpot knows about an access token. Every field the spec requires is served.
  app.post('/oauth/2026-03/token/introspect', async (request, reply) => {
    const form = z
      .object({ client_id: z.string().default(''), client_secret: z.string().default(''), token: z.string().default('') })
      .parse(request.body ?? {});
    if (form.client_id !== options.app.clientId || form.client_secret !== options.app.clientSecret) {
      return sendError(
        reply,
        400,
        errorBody('VALIDATION_ERROR', 'missing or invalid client credentials', { status: 'BAD_CLIENT_ID', error: 'invalid_client' }),
      );
    }
    const record = state.accessTokens.get(form.token);
    if (record === undefined || record.expiresAt <= state.now()) {
      return sendError(reply, 400, errorBody('VALIDATION_ERROR', 'the token is not active', { status: 'BAD_ACCESS_TOKEN', error: 'invalid_token' }));
    }
    const expiresInSeconds = Math.floor((record.expiresAt - state.now()) / 1000);
    return reply.send({
      active: true,
      app_id: options.app.appId,
      client_id: options.app.clientId,
      expires_in: expiresInSeconds,
      hub_id: record.portalId,
      is_private_distribution: false,
      scopes: record.scopes,
      token: form.token,
      token_type: 'bearer',
      token_use: 'access_token',
      user_id: record.userId,
      signed_access_token: {
        appId: options.app.appId,
        appInstallId: `install-${record.portalId}`,
        audience: 'api',
        expiresAt: record.expiresAt,
        hubId: record.portalId,
        hublet: 'na1',
        installingUserId: record.userId,
        isPrivateDistribution: false,
        isServiceAccount: false,
        isUserLevel: state.userLevelInstalls,
        newSignature: randomBytes(16).toString('base64url'),
        scopeToScopeGroupPks: '',
        scopes: record.scopes.join(' '),
        signature: randomBytes(16).toString('base64url'),
        trialScopeToScopeGroupPks: '',
        trialScopes: '',
        userId: record.userId,
      },
    });
  });
}
