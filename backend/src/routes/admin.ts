import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ACTIONS } from '../access/model.js';
import type { Calibration } from '../usecases/calibration.js';
import { policyDocumentSchema } from '../access/policy.js';
import { viewerOf } from '../pipeline/signed-api.js';
import type { Admin } from '../usecases/admin.js';
import type { Statistics } from '../usecases/statistics.js';
import {
  auditResponse,
  calibrationAdoptResponse,
  calibrationResponse,
  calibrationStartResponse,
  directoryResponse,
  disconnectResponse,
  explainResponse,
  policyHistoryResponse,
  policyResponse,
  statisticsResponse,
  statusResponse,
} from './responses.js';
import { objectType, recordId, userId } from './schemas.js';

declare module 'fastify' {
  interface FastifyInstance {
    admin: Admin;
    statistics: Statistics;
    calibration: Calibration;
  }
}

/**
 * Settings-page API. Every route is `auth: 'admin'`: the pipeline refuses anyone but a Super Admin before the body is
 * validated. HubSpot has no API that answers "does this user hold integrations-management-write", and HubSpot gives
 * Super Admins every permission.
 */
export async function adminRoutes(root: FastifyInstance): Promise<void> {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const admin = { auth: 'admin' } as const;

  app.get('/status', { config: admin, schema: { response: { 200: statusResponse } } }, async (request) => root.admin.status(viewerOf(request)));

  app.get('/statistics', { config: admin, schema: { response: { 200: statisticsResponse } } }, async (request) =>
    root.statistics.forAccount(viewerOf(request)),
  );

  app.get('/directory', { config: admin, schema: { response: { 200: directoryResponse } } }, async (request) => root.admin.directory(viewerOf(request)));

  app.get('/policy', { config: admin, schema: { response: { 200: policyResponse } } }, async (request) => root.admin.policy(viewerOf(request)));

  app.get(
    '/policy/history',
    {
      config: admin,
      schema: { querystring: z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) }), response: { 200: policyHistoryResponse } },
    },
    async (request) => root.admin.policyHistory(viewerOf(request), request.query.limit),
  );

  app.put(
    '/policy',
    { config: { ...admin, write: 'policy-update' }, schema: { body: policyDocumentSchema, response: { 200: policyResponse } } },
    async (request) => root.admin.savePolicy(viewerOf(request), request.body),
  );

  app.post(
    '/explain',
    { config: admin, schema: { body: z.object({ userId, objectType, recordId, action: z.enum(ACTIONS) }), response: { 200: explainResponse } } },
    async (request) => root.admin.explain(viewerOf(request), request.body),
  );

  app.get(
    '/audit',
    {
      config: admin,
      schema: {
        querystring: z.object({
          limit: z.coerce.number().int().min(1).max(200).default(50),
          before: z.string().max(40).optional(),
          // Not `userId`: that name is reserved for the signed identity of the caller.
          user: z.coerce.number().int().positive().refine(Number.isSafeInteger).optional(),
          recordId: z.string().max(20).optional(),
          outcome: z.enum(['allowed', 'refused', 'done', 'failed', 'unknown']).optional(),
        }),
        response: { 200: auditResponse },
      },
    },
    async (request) => root.admin.auditPage(viewerOf(request), request.query),
  );

  app.get('/calibration', { config: admin, schema: { response: { 200: calibrationResponse } } }, async (request) => root.calibration.view(viewerOf(request)));

  app.post('/calibration', { config: { ...admin, write: 'calibration-start' }, schema: { response: { 200: calibrationStartResponse } } }, async (request) =>
    root.calibration.start(viewerOf(request)),
  );

  app.post(
    '/calibration/adopt',
    {
      config: { ...admin, write: 'calibration-adopt' },
      schema: {
        body: z.strictObject({
          runId: z.uuid(),
          cells: z
            .array(z.strictObject({ userId, objectType, action: z.enum(ACTIONS) }))
            .max(10_000)
            .optional(),
        }),
        response: { 200: calibrationAdoptResponse },
      },
    },
    async (request) => root.calibration.adopt(viewerOf(request), request.body),
  );

  app.post('/disconnect', { config: { ...admin, write: 'disconnect' }, schema: { response: { 200: disconnectResponse } } }, async (request) =>
    root.admin.disconnect(viewerOf(request)),
  );
}
