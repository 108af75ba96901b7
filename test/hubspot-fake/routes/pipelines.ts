import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { notFound, sendError } from '../errors.js';
import type { FakeContext } from '../server.js';
import { accountOf, SEEDED_AT } from './shared.js';

/** GET /crm/v3/pipelines/tickets/{pipelineId} (crm-pipelines-v3.json, Pipeline with PipelineStage[]). */
export async function pipelineRoutes(app: FastifyInstance, { context }: { context: FakeContext }): Promise<void> {
  app.get('/crm/v3/pipelines/:objectType/:pipelineId', { config: { scopes: ['tickets'] } }, async (request, reply) => {
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
      })),
    };
  });
}
