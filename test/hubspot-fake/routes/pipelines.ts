import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { notFound, sendError } from '../errors.js';
import type { FakeContext } from '../server.js';
import { accountOf, API_ROOTS, SEEDED_AT } from './shared.js';

/**
 * GET {root}/tickets/{pipelineId} (2026-03/pipelines.json, crm-pipelines-v3.json: Pipeline with PipelineStage[]). The
 * 2026-03 PipelineStage requires `writePermissions` (CRM_PERMISSIONS_ENFORCEMENT, INTERNAL_ONLY or READ_ONLY); which one
 * a seeded stage has is not documented, and the backend does not read it: the fake answers the one that means
 * "HubSpot's permissions apply".
 */
export async function pipelineRoutes(app: FastifyInstance, { context }: { context: FakeContext }): Promise<void> {
  for (const root of API_ROOTS.pipelines)
    app.get(`${root}/:objectType/:pipelineId`, { config: { scopes: ['tickets'] } }, async (request, reply) => {
      const params = z.object({ objectType: z.string(), pipelineId: z.string() }).parse(request.params);
      const pipeline =
        params.objectType === 'tickets' ? accountOf(request, context.state).ticketPipelines.find((candidate) => candidate.id === params.pipelineId) : undefined;
      if (pipeline === undefined) return sendError(reply, 404, notFound(`Pipeline ${params.pipelineId}`));
      return {
        id: pipeline.id,
        label: pipeline.label,
        displayOrder: 0,
        archived: false,
        createdAt: SEEDED_AT,
        updatedAt: SEEDED_AT,
        stages: pipeline.stages.map((stage, index) => ({
          id: stage.id,
          label: stage.label,
          displayOrder: index,
          archived: false,
          createdAt: SEEDED_AT,
          updatedAt: SEEDED_AT,
          metadata: { ticketState: stage.ticketState },
          writePermissions: 'CRM_PERMISSIONS_ENFORCEMENT',
        })),
      };
    });
}
