import type { z } from 'zod';
import { endpointLabel, type GetToken, type HubSpotRequest, type PortalCall, type RenewToken } from './call.js';
import { AppError } from '../errors.js';
import type { Deadline } from './deadline.js';
import { readHttpFailure } from './http-error.js';
import { sendHubSpotRequest } from './http.js';
import type { HubSpotScheduler } from './scheduler.js';
import { createCrmApi, type CrmApi } from './crm.js';
import {
  publicOwnerSchema,
  publicUserSchema,
  readErrorBody,
  rolesResponseSchema,
  teamsResponseSchema,
  usersPageSchema,
  type PublicOwner,
  type PublicUser,
} from './schemas.js';

export interface HubSpotApiOptions {
  apiBaseUrl: string;
  scheduler: HubSpotScheduler;
  getToken: GetToken;
  /** Without it, HubSpot's 401 stands. */
  renewToken?: RenewToken;
}

export interface Team {
  id: string;
  name: string;
}

/** What the backend asks HubSpot about one account, always with that account's own install token. */
export interface PortalApi extends CrmApi {
  readonly portalId: number;
  /** The one deadline every call below runs within (and whoever waits on work shared with other requests). */
  readonly deadline: Deadline;
  /** undefined when the user is not (or no longer) a user of this account. */
  getUser(userId: number): Promise<PublicUser | undefined>;
  /** The CRM owner record of a user (owner ids differ from user ids); undefined when the user owns nothing. */
  getOwnerByUserId(userId: number): Promise<PublicOwner | undefined>;
  listTeams(): Promise<Team[]>;
  listRoles(): Promise<Team[]>;
  /** Active users of the account, every page. */
  listUsers(): Promise<PublicUser[]>;
}

export interface PortalCaller {
  /** Every call, its waits and the token it needs end at this deadline: the request's, created once when it arrived. */
  deadline: Deadline;
  /**
   * The install token the caller already holds for this request (the pipeline reads the installation once); without
   * it every call asks `getToken`.
   */
  token?: string;
  /** The HubSpot user the calls are made for, whose fair share of the account's rate limit they use; calls for nobody in particular share one. */
  userId?: number;
  /** Work for nobody waiting (calibration): its calls hold at most `share` of each window (CallOwner.share), under `name`. */
  background?: { name: string; share: number };
}

export interface HubSpotApi {
  forPortal(portalId: number, caller: PortalCaller): PortalApi;
}

/** HubSpot's dated (2026-03) user provisioning and owners APIs (shared/hubspot-openapi/2026-03/users.json, owners.json). */
const USERS = '/settings/users/2026-03';
const OWNERS = '/crm/owners/2026-03';

/** HubSpot's 403 body names the scopes it wanted (Error.errors[].context.requiredGranularScopes). */
function missingScopes(body: unknown): string[] {
  const error = readErrorBody(body);
  const contexts = [error.context, ...(error.errors ?? []).map((detail) => detail.context)];
  return [...new Set(contexts.flatMap((context) => context?.requiredGranularScopes ?? context?.missingScopes ?? []))];
}

/** What HubSpot's refusal means here: a missing scope (403), a token it no longer accepts (401), or its own words. */
function refusal(error: unknown, failure: ReturnType<typeof readHttpFailure>, what: string): unknown {
  if (failure?.status === 403) {
    const scopes = missingScopes(failure.body);
    return new AppError('HUBSPOT_SCOPE_MISSING', {
      message:
        scopes.length > 0
          ? `HubSpot refused to ${what}: this account did not grant Viewer Guard ${scopes.join(' or ')}.`
          : `HubSpot refused to ${what} for this account.`,
      cause: error,
    });
  }
  if (failure?.status === 401) {
    return new AppError('INSTALL_NEEDS_REPAIR', { message: "HubSpot no longer accepts Viewer Guard's access token for this account.", cause: error });
  }
  if (failure !== undefined) {
    const body = readErrorBody(failure.body);
    return new AppError('HUBSPOT_REFUSED', {
      message: `HubSpot refused to ${what} (HTTP ${failure.status}${body.message === undefined ? '' : `: ${body.message}`}).`,
      cause: error,
    });
  }
  return error;
}

export function createHubSpotApi(options: HubSpotApiOptions): HubSpotApi {
  /** The token one portal's calls are made with: the one handed in, else the token manager's; replaced once HubSpot refuses it. */
  function tokenHolder(portalId: number, { deadline, token: known }: PortalCaller) {
    let current: Promise<string> | undefined = known === undefined ? undefined : Promise.resolve(known);
    return {
      get: () => (current ??= options.getToken(portalId, deadline)),
      async renew(refused: string): Promise<string | undefined> {
        const held = await current;
        // Another call of this portal renewed it already.
        if (held !== undefined && held !== refused) return held;
        const renewed = await options.renewToken?.(portalId, refused, deadline);
        if (renewed !== undefined) current = Promise.resolve(renewed);
        return renewed;
      },
    };
  }

  async function call<S extends z.ZodType>(
    portalId: number,
    { deadline, userId: viewerId, background }: PortalCaller,
    tokens: ReturnType<typeof tokenHolder>,
    what: string,
    schema: S,
    request: HubSpotRequest,
    { notFoundIsEmpty, creates = false, search = false }: { notFoundIsEmpty: boolean; creates?: boolean; search?: boolean },
  ): Promise<z.infer<S> | undefined> {
    let token = await tokens.get();
    const send = (bearer: string) =>
      options.scheduler.run(
        portalId,
        deadline,
        async (report, signal) => {
          const answer = await sendHubSpotRequest({ apiBaseUrl: options.apiBaseUrl, token: bearer }, request, signal);
          // Already lower-case: http.ts reads them from fetch's Headers, whose names are (Fetch standard, "header list").
          report(answer.headers);
          return answer.data;
        },
        {
          user: background?.name ?? viewerId,
          ...(background === undefined ? {} : { share: background.share }),
          lane: search ? 'search' : 'general',
          idempotent: !creates,
          endpoint: endpointLabel(request),
        },
      );
    let result: unknown;
    for (let renewed = false; ; renewed = true) {
      try {
        result = await send(token);
        break;
      } catch (error) {
        const failure = readHttpFailure(error);
        if (failure?.status === 401 && !renewed) {
          // Renewed even for a create, so the calls after it do not meet the same refusal; a create is never sent twice.
          const next = await tokens.renew(token);
          if (next !== undefined && !creates) {
            token = next;
            continue;
          }
        }
        if (failure?.status === 404 && notFoundIsEmpty) return undefined;
        throw refusal(error, failure, what);
      }
    }
    const parsed = schema.safeParse(result);
    if (!parsed.success) {
      throw new AppError('HUBSPOT_RESPONSE_INVALID', {
        message: `HubSpot's answer when asked to ${what} lacks ${parsed.error.issues.map((i) => i.path.join('.') || 'a body').join(', ')}.`,
      });
    }
    return parsed.data;
  }

  return {
    forPortal(portalId, caller) {
      const tokens = tokenHolder(portalId, caller);
      const portalCall: PortalCall = (what, schema, request, callOptions) => call(portalId, caller, tokens, what, schema, request, callOptions);
      return {
        portalId,
        deadline: caller.deadline,
        ...createCrmApi(portalCall, portalId),
        // 2026-03/users.json, GET /settings/users/2026-03/{userId}: idProperty defaults to USER_ID.
        getUser: (userId) => portalCall('read a user', publicUserSchema, { method: 'GET', path: `${USERS}/${userId}` }, { notFoundIsEmpty: true }),
        // 2026-03/owners.json, GET /crm/owners/2026-03/{ownerId}: idProperty=userId looks the owner up by user id; archived defaults to false.
        getOwnerByUserId: (userId) =>
          portalCall(
            'read an owner',
            publicOwnerSchema,
            { method: 'GET', path: `${OWNERS}/${userId}`, query: { idProperty: 'userId' } },
            { notFoundIsEmpty: true },
          ),
        async listTeams() {
          const teams = await portalCall('list teams', teamsResponseSchema, { method: 'GET', path: `${USERS}/teams` }, { notFoundIsEmpty: false });
          return (teams?.results ?? []).map((team) => ({ id: team.id, name: team.name }));
        },
        async listRoles() {
          const roles = await portalCall('list roles', rolesResponseSchema, { method: 'GET', path: `${USERS}/roles` }, { notFoundIsEmpty: false });
          return (roles?.results ?? []).map((role) => ({ id: role.id, name: role.name }));
        },
        async listUsers() {
          const users: PublicUser[] = [];
          let after: string | undefined;
          do {
            // 2026-03/users.json, GET /settings/users/2026-03: `limit` and `after`, CollectionResponsePublicUserForwardPaging.
            const page = await portalCall(
              'list users',
              usersPageSchema,
              { method: 'GET', path: USERS, query: { limit: 100, after } },
              { notFoundIsEmpty: false },
            );
            users.push(...(page?.results ?? []));
            after = page?.paging?.next?.after;
          } while (after !== undefined);
          return users;
        },
      };
    },
  };
}
