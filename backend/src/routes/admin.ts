import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ACTIONS, OBJECT_TYPE_NAMES, type ObjectType } from '../access/model.js';
import { policyDocumentSchema, resolvePolicyGrant } from '../access/policy.js';
import { AppError } from '../errors.js';
import type { Viewer } from '../hubspot/directory.js';
import { signedViewer } from './viewer.js';

/** What each required scope enables, for the status page's "missing scopes" explanation. */
const SCOPE_PURPOSE: Record<string, string> = {
  oauth: 'basic app access',
  tickets: 'reading and changing tickets',
  'crm.objects.contacts.read': 'reading contacts and their tickets',
  'crm.objects.contacts.write': 'adding notes',
  'crm.objects.owners.read': 'knowing who owns a record',
  'settings.users.read': 'knowing who the viewer is',
  'settings.users.teams.read': 'team-level access',
};

/**
 * Settings-page API. HubSpot has no API that answers "does this user hold integrations-management-write", so admin
 * routes are for Super Admins (Users API), which HubSpot gives every permission.
 */
export async function adminRoutes(root: FastifyInstance): Promise<void> {
  const app = root.withTypeProvider<ZodTypeProvider>();

  async function admin(request: FastifyRequest): Promise<Viewer> {
    const viewer = await signedViewer(root, request);
    if (!viewer.superAdmin) {
      await root.audit.record({ portalId: viewer.portalId, userId: viewer.userId, action: `admin ${request.method} ${request.routeOptions.url ?? ''}`, outcome: 'refused', decisionCode: 'NOT_AN_ADMIN' }, new Date(root.now()));
      throw new AppError('NOT_AN_ADMIN');
    }
    return viewer;
  }

  app.get('/status', async (request) => {
    const viewer = await admin(request);
    const installation = await root.installations.get(viewer.portalId);
    const requested = [...root.config.hubspot.requiredScopes, ...root.config.hubspot.optionalScopes];
    const granted = new Set(installation?.scopes ?? []);
    const installer = installation === undefined ? undefined : await root.hubspot.forPortal(viewer.portalId).getUser(installation.installedByUserId).catch(() => undefined);
    const recent = await root.audit.page(viewer.portalId, { limit: 5, outcome: 'failed' });
    return {
      installation:
        installation === undefined
          ? null
          : {
              status: installation.status,
              statusReason: installation.statusReason,
              installedAt: installation.installedAt.toISOString(),
              installedBy: { userId: installation.installedByUserId, name: installer === undefined ? null : [installer.firstName, installer.lastName].filter(Boolean).join(' ') || installer.email },
              tokenExpiresAt: installation.accessTokenExpiresAt.toISOString(),
            },
      scopes: {
        requested,
        granted: [...granted],
        missing: requested.filter((scope) => !granted.has(scope)).map((scope) => ({ scope, disables: SCOPE_PURPOSE[scope] ?? 'an optional feature' })),
      },
      accessSource: { configured: root.config.accessSource },
      recentFailures: recent.entries.map((entry) => ({ at: entry.at.toISOString(), action: entry.action, recordId: entry.recordId, message: entry.message })),
      installUrl: `${root.config.publicBaseUrl}/`,
    };
  });

  /** Who and what the policy editor and the decision explorer can pick from, with names. */
  app.get('/directory', async (request) => {
    const viewer = await admin(request);
    const portal = root.hubspot.forPortal(viewer.portalId);
    const [users, teams, roles] = await Promise.all([portal.listUsers(), root.directory.teams(viewer.portalId), portal.listRoles()]);
    return {
      users: users.map((user) => ({
        id: user.id,
        name: [user.firstName, user.lastName].filter(Boolean).join(' ') || user.email,
        email: user.email,
        superAdmin: user.superAdmin,
        teamIds: [...(user.primaryTeamId === undefined ? [] : [user.primaryTeamId]), ...(user.secondaryTeamIds ?? [])],
        roleIds: user.roleIds,
      })),
      teams,
      roles,
    };
  });

  app.get('/policy', async (request) => {
    const viewer = await admin(request);
    const stored = await root.policies.current(viewer.portalId);
    return stored === undefined
      ? { version: 0, document: policyDocumentSchema.parse({}), changedBy: null, changedAt: null }
      : { version: stored.version, document: stored.document, changedBy: stored.changedByUserId, changedAt: stored.changedAt.toISOString() };
  });

  /** Who changed the levels, and when: every saved version, newest first. */
  app.get('/policy/history', { schema: { querystring: z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) }) } }, async (request) => {
    const viewer = await admin(request);
    const versions = await root.policies.history(viewer.portalId, request.query.limit);
    return { versions: versions.map((stored) => ({ version: stored.version, document: stored.document, changedBy: stored.changedByUserId, changedAt: stored.changedAt.toISOString() })) };
  });

  app.put('/policy', { schema: { body: policyDocumentSchema } }, async (request) => {
    const viewer = await admin(request);
    const saved = await root.policies.save(viewer.portalId, request.body, viewer.userId, new Date(root.now()));
    await root.audit.record({ portalId: viewer.portalId, userId: viewer.userId, action: 'policy-update', outcome: 'done', message: `policy version ${saved.version}` }, new Date(root.now()));
    return { version: saved.version, document: saved.document, changedBy: saved.changedByUserId, changedAt: saved.changedAt.toISOString() };
  });

  app.post(
    '/explain',
    {
      schema: {
        body: z.object({
          userId: z.number().int().positive(),
          objectType: z.enum(OBJECT_TYPE_NAMES as [ObjectType, ...ObjectType[]]),
          recordId: z.string().regex(/^\d{1,20}$/),
          action: z.enum(ACTIONS),
        }),
      },
    },
    async (request) => {
      const viewer = await admin(request);
      const { userId, objectType, recordId, action } = request.body;
      const subject = await root.directory.resolveViewer(viewer.portalId, userId);
      const loaded = objectType === 'tickets' ? await root.guard.ticket(subject, recordId) : await root.guard.contact(subject, recordId);
      const decision = await root.access.decide(subject, action, loaded.facts);
      const policyGrant = resolvePolicyGrant(await root.access.policy(viewer.portalId), { userId, superAdmin: subject.superAdmin, teamIds: subject.teams.map((team) => team.id), roleIds: subject.roleIds }, objectType, action);
      return {
        decision,
        trace: {
          viewer: { userId, ownerId: subject.ownerId, superAdmin: subject.superAdmin, teams: subject.teams, roleIds: subject.roleIds },
          record: loaded.facts,
          policyRule: policyGrant,
          accessSource: root.config.accessSource,
        },
      };
    },
  );

  app.get(
    '/audit',
    {
      schema: {
        querystring: z.object({
          limit: z.coerce.number().int().min(1).max(200).default(50),
          before: z.string().max(40).optional(),
          // Not `userId`: that name is reserved for the signed identity of the caller.
          user: z.coerce.number().int().positive().optional(),
          recordId: z.string().max(20).optional(),
          outcome: z.enum(['allowed', 'refused', 'done', 'failed']).optional(),
        }),
      },
    },
    async (request) => {
      const viewer = await admin(request);
      const { user, ...filters } = request.query;
      const page = await root.audit.page(viewer.portalId, { ...filters, ...(user === undefined ? {} : { userId: user }) });
      return { entries: page.entries.map((entry) => ({ ...entry, at: entry.at.toISOString() })), nextCursor: page.nextCursor };
    },
  );

  app.post('/disconnect', async (request) => {
    const viewer = await admin(request);
    await root.hubspot.forPortal(viewer.portalId).uninstall();
    await root.installations.forgetTokens(viewer.portalId, new Date(root.now()));
    await root.audit.record({ portalId: viewer.portalId, userId: viewer.userId, action: 'disconnect', outcome: 'done', message: 'uninstalled from HubSpot; tokens deleted' }, new Date(root.now()));
    return { disconnected: true, installUrl: `${root.config.publicBaseUrl}/` };
  });
}
