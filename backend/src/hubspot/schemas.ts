import { z } from 'zod';

/**
 * HubSpot response shapes the backend relies on, written from HubSpot's published OpenAPI specs in
 * shared/hubspot-openapi/ (file and schema named on each). Only fields we use are listed; zod drops the rest,
 * and a response missing a required one is refused rather than guessed at.
 */

const numericId = z.union([z.string().regex(/^\d+$/), z.number().int()]).transform(Number);

/**
 * 2026-03/oauth.json, components.schemas.AccessTokenResponse: `hub_id`, `user_id` and `scopes` are optional there,
 * so the account, installer and scopes come from introspection (below), where they are required.
 */
export const accessTokenResponseSchema = z.object({
  access_token: z.string().min(1),
  refresh_token: z.string().min(1),
  expires_in: z.number().int().positive(),
  token_type: z.string(),
});

/**
 * 2026-03/oauth.json, components.schemas.PublicAccessTokenInfoResponse (required: active, app_id, hub_id, scopes,
 * signed_access_token, user_id, …) and its SignedAccessToken (required: isUserLevel, …).
 */
export const accessTokenInfoSchema = z.object({
  active: z.boolean(),
  app_id: z.number().int().positive(),
  hub_id: z.number().int().positive(),
  user_id: z.number().int().positive(),
  scopes: z.array(z.string()),
  signed_access_token: z.object({ isUserLevel: z.boolean() }),
});
export type AccessTokenResponse = z.infer<typeof accessTokenResponseSchema>;

/** settings-users-v3.json, components.schemas.PublicUser (required: id, email, roleIds, superAdmin). */
export const publicUserSchema = z.object({
  id: numericId,
  email: z.string(),
  firstName: z.string().optional(),
  lastName: z.string().optional(),
  superAdmin: z.boolean(),
  roleIds: z.array(z.string()),
  primaryTeamId: z.string().optional(),
  secondaryTeamIds: z.array(z.string()).optional(),
});
export type PublicUser = z.infer<typeof publicUserSchema>;

/** settings-users-v3.json, CollectionResponsePublicTeamNoPaging / PublicTeam. */
export const teamsResponseSchema = z.object({
  results: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      userIds: z.array(z.string()),
      secondaryUserIds: z.array(z.string()),
    }),
  ),
});

/** settings-users-v3.json, CollectionResponsePublicUserForwardPaging. */
export const usersPageSchema = z.object({
  results: z.array(publicUserSchema),
  paging: z.object({ next: z.object({ after: z.string() }).optional() }).optional(),
});

/** settings-users-v3.json, CollectionResponsePublicPermissionSetNoPaging / PublicPermissionSet. */
export const rolesResponseSchema = z.object({ results: z.array(z.object({ id: z.string(), name: z.string() })) });

/** crm-owners-v3.json, PublicOwner (required: id, type, archived, createdAt, updatedAt). */
export const publicOwnerSchema = z.object({
  id: numericId,
  userId: z.number().int().optional(),
  email: z.string().optional(),
  firstName: z.string().optional(),
  lastName: z.string().optional(),
  archived: z.boolean(),
});
export type PublicOwner = z.infer<typeof publicOwnerSchema>;

/**
 * The error body HubSpot's specs share (components.schemas.Error: category, correlationId, message), plus
 * `status`, which the OAuth v1 endpoint used for BAD_REFRESH_TOKEN and some APIs still send. Every field is
 * optional here because we read error bodies only to explain them, never to decide access.
 */
export const hubspotErrorSchema = z.object({
  category: z.string().optional(),
  subCategory: z.string().optional(),
  status: z.string().optional(),
  error: z.string().optional(),
  message: z.string().optional(),
  correlationId: z.string().optional(),
  /** On a 429, the limit that was hit: "The message and policyName will indicate which limit you hit" (API usage guidelines). */
  policyName: z.string().optional(),
  errors: z.array(z.object({ message: z.string().optional(), context: z.record(z.string(), z.array(z.string())).optional() })).optional(),
  context: z.record(z.string(), z.array(z.string())).optional(),
});
export type HubSpotErrorBody = z.infer<typeof hubspotErrorSchema>;

export function readErrorBody(body: unknown): HubSpotErrorBody {
  const text = typeof body === 'string' ? safeJson(body) : body;
  const parsed = hubspotErrorSchema.safeParse(text);
  return parsed.success ? parsed.data : {};
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
