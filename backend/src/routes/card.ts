import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Decision } from '../access/decide.js';
import { LEVEL_LABELS } from '../access/catalogue.js';
import { actionsOf, OBJECT_TYPE_NAMES, type ObjectType, type RecordFacts } from '../access/model.js';
import { AppError, isAppError } from '../errors.js';
import { DEFAULT_TICKET_PIPELINE } from '../hubspot/crm.js';
import { hubspotCorrelationId } from '../hubspot/http-error.js';
import type { Viewer } from '../hubspot/directory.js';
import { contactTickets } from '../guard/contact-tickets.js';
import { signedViewer } from './viewer.js';

const recordId = z.string().regex(/^\d{1,20}$/, 'must be a HubSpot record id (digits)');

function summary(decision: Decision) {
  return {
    allowed: decision.allowed,
    code: decision.code,
    message: decision.message,
    fix: decision.fix,
    level: decision.level,
    levelLabel: decision.level === null ? null : LEVEL_LABELS[decision.level],
    source: decision.source,
  };
}

/** Stage labels of a pipeline, for showing where tickets stand; an unknown pipeline just shows no labels. */
async function stagesOf(app: FastifyInstance, portalId: number, pipelineId: string | null) {
  return (await app.hubspot.forPortal(portalId).getTicketPipelineStages(pipelineId ?? DEFAULT_TICKET_PIPELINE)) ?? [];
}

/** The card API: every read and write checked against the viewer's own permission on that record. */
export async function cardRoutes(root: FastifyInstance): Promise<void> {
  const app = root.withTypeProvider<ZodTypeProvider>();

  app.get(
    '/records/:objectType/:id/access',
    { schema: { params: z.object({ objectType: z.enum(OBJECT_TYPE_NAMES as [ObjectType, ...ObjectType[]]), id: recordId }) } },
    async (request) => {
      const viewer = await signedViewer(root, request);
      const { objectType, id } = request.params;
      const loaded = objectType === 'tickets' ? await root.guard.ticket(viewer, id) : await root.guard.contact(viewer, id);
      const view = await root.guard.require(viewer, 'view', loaded.facts);
      const verdicts = Object.fromEntries(
        await Promise.all(actionsOf(objectType).map(async (action) => [action, summary(action === 'view' ? view : await root.access.decide(viewer, action, loaded.facts))])),
      );
      const owner = loaded.facts.owner;
      const teams = await root.directory.teams(viewer.portalId);
      return {
        record: {
          objectType,
          id,
          title: 'ticket' in loaded ? loaded.ticket.subject : loaded.contact.name,
          owner: owner === null ? null : { ownerId: owner.ownerId, name: owner.name, teams: owner.teamIds.map((teamId) => ({ id: teamId, name: teams.find((team) => team.id === teamId)?.name ?? `Team ${teamId}` })) },
          ...('ticket' in loaded
            ? { pipelineId: loaded.ticket.pipelineId, stageId: loaded.ticket.stageId, stages: (await stagesOf(root, viewer.portalId, loaded.ticket.pipelineId)).map(({ id: stageId, label }) => ({ id: stageId, label })) }
            : {}),
        },
        viewer: { userId: viewer.userId, ownerId: viewer.ownerId, superAdmin: viewer.superAdmin, teams: viewer.teams },
        verdicts,
      };
    },
  );

  app.get('/contacts/:id/tickets', { schema: { params: z.object({ id: recordId }) } }, async (request) => {
    const viewer = await signedViewer(root, request);
    const { facts } = await root.guard.contact(viewer, request.params.id);
    await root.guard.require(viewer, 'view', facts);
    const { visible, total, hidden } = await contactTickets({ api: root.hubspot, access: root.access }, viewer, request.params.id);
    const stageLabels = new Map((await stagesOf(root, viewer.portalId, DEFAULT_TICKET_PIPELINE)).map((stage) => [stage.id, stage.label]));
    return {
      contactId: request.params.id,
      canCreateTicket: summary(await root.access.decideNew(viewer, 'edit', newTicketFacts(viewer))),
      tickets: await Promise.all(
        visible.map(async (ticket) => ({
          id: ticket.id,
          subject: ticket.subject,
          stageId: ticket.stageId,
          stageLabel: ticket.stageId === null ? null : (stageLabels.get(ticket.stageId) ?? ticket.stageId),
          pipelineId: ticket.pipelineId,
          priority: ticket.priority,
          owner: ticket.ownerId === null ? null : { ownerId: ticket.ownerId, name: await root.access.ownerName(viewer.portalId, ticket.ownerId) },
        })),
      ),
      hidden: { count: total - visible.length, reasons: hidden.map(({ decision, count }) => ({ code: decision.code, message: hiddenMessage(decision), count })) },
    };
  });

  app.post('/tickets/:id/assign-to-me', { schema: { params: z.object({ id: recordId }) } }, async (request) => {
    const viewer = await signedViewer(root, request);
    const { facts } = await root.guard.ticket(viewer, request.params.id);
    const decision = await root.guard.require(viewer, 'edit', facts, 'assign-to-me');
    if (viewer.ownerId === null) {
      await root.guard.audit(viewer, { action: 'assign-to-me', objectType: 'tickets', recordId: facts.id, decision, outcome: 'refused', message: 'viewer is not an owner' });
      throw new AppError('NOT_AN_OWNER');
    }
    const ownerId = viewer.ownerId;
    return performWrite(root, viewer, 'assign-to-me', facts.id, decision, () =>
      root.hubspot.forPortal(viewer.portalId).assignTicket(facts.id, ownerId),
    );
  });

  app.post(
    '/tickets/:id/stage',
    { schema: { params: z.object({ id: recordId }), body: z.object({ stageId: z.string().min(1).max(64) }) } },
    async (request) => {
      const viewer = await signedViewer(root, request);
      const { ticket, facts } = await root.guard.ticket(viewer, request.params.id);
      const decision = await root.guard.require(viewer, 'edit', facts, 'move-stage');
      const stages = await stagesOf(root, viewer.portalId, ticket.pipelineId);
      if (!stages.some((stage) => stage.id === request.body.stageId)) {
        throw new AppError('VALIDATION_FAILED', {
          details: [{ field: 'body.stageId', message: `must be one of this ticket's pipeline stages: ${stages.map((stage) => `${stage.id} (${stage.label})`).join(', ')}` }],
        });
      }
      return performWrite(root, viewer, 'move-stage', facts.id, decision, () =>
        root.hubspot.forPortal(viewer.portalId).moveTicketStage(facts.id, request.body.stageId),
      );
    },
  );

  app.post(
    '/tickets/:id/notes',
    { schema: { params: z.object({ id: recordId }), body: z.object({ body: z.string().trim().min(1, 'must not be empty').max(10_000) }) } },
    async (request) => {
      const viewer = await signedViewer(root, request);
      const { facts } = await root.guard.ticket(viewer, request.params.id);
      const decision = await root.guard.require(viewer, 'edit', facts, 'add-note');
      const note = await performWrite(root, viewer, 'add-note', facts.id, decision, async () =>
        root.hubspot.forPortal(viewer.portalId).createNote(facts.id, request.body.body, viewer.ownerId, new Date(root.now())),
      );
      return note;
    },
  );

  app.post(
    '/contacts/:id/tickets',
    {
      schema: {
        params: z.object({ id: recordId }),
        body: z.object({
          subject: z.string().trim().min(1, 'must not be empty').max(255),
          content: z.string().max(10_000).optional(),
          priority: z.enum(['LOW', 'MEDIUM', 'HIGH']).optional(),
        }),
      },
    },
    async (request) => {
      const viewer = await signedViewer(root, request);
      const { facts } = await root.guard.contact(viewer, request.params.id);
      await root.guard.require(viewer, 'view', facts, 'create-ticket');
      const decision = await root.guard.require(viewer, 'edit', newTicketFacts(viewer), 'create-ticket', { hypothetical: true });
      // New tickets start in the first open stage of HubSpot's default ticket pipeline.
      const firstOpen = (await stagesOf(root, viewer.portalId, DEFAULT_TICKET_PIPELINE)).find((stage) => !stage.closed);
      if (firstOpen === undefined) throw new AppError('HUBSPOT_RESPONSE_INVALID', { message: 'The default ticket pipeline has no open stage.' });
      return performWrite(root, viewer, 'create-ticket', request.params.id, decision, () =>
        root.hubspot
          .forPortal(viewer.portalId)
          .createTicket({ ...request.body, ownerId: viewer.ownerId, pipelineId: DEFAULT_TICKET_PIPELINE, stageId: firstOpen.id }, request.params.id),
      );
    },
  );
}

/** The ticket-create rule: the viewer must be allowed to edit the ticket they are about to own. */
function newTicketFacts(viewer: Viewer): RecordFacts {
  return { objectType: 'tickets', id: 'new', owner: viewer.ownerId === null ? null : { ownerId: viewer.ownerId, name: 'you', teamIds: viewer.teams.map((team) => team.id) } };
}

function hiddenMessage(decision: Decision): string {
  switch (decision.code) {
    case 'OWNED_ONLY_NOT_OWNER':
      return 'owned by someone else';
    case 'TEAM_ONLY_OTHER_TEAM':
      return 'owned by other teams';
    case 'OWNED_ONLY_UNASSIGNED':
    case 'TEAM_ONLY_UNASSIGNED':
      return 'not assigned to anyone';
    case 'DENIED_BY_HUBSPOT':
      return 'outside your HubSpot permissions';
    case 'NO_PERMISSION':
      return 'you have no access to tickets';
    case 'NOT_CONFIGURED':
      return 'your access has not been set up yet';
    case 'ACCESS_UNKNOWN':
      return 'could not be checked right now';
    default:
      return decision.message;
  }
}

/** Performs a checked write with the install token and audits the outcome either way. */
async function performWrite<T>(app: FastifyInstance, viewer: Viewer, action: string, recordId: string, decision: Decision, write: () => Promise<T>): Promise<{ result: T; decision: ReturnType<typeof summary> }> {
  const objectType = action === 'create-ticket' ? 'contacts' : 'tickets';
  try {
    const result = await write();
    await app.guard.audit(viewer, { action, objectType, recordId, decision, outcome: 'done' });
    return { result, decision: summary(decision) };
  } catch (error) {
    const correlationId = hubspotCorrelationId(error);
    await app.guard.audit(viewer, {
      action,
      objectType,
      recordId,
      decision,
      outcome: 'failed',
      message: isAppError(error) ? `${error.code}: ${error.message}` : 'unexpected error',
      ...(correlationId === undefined ? {} : { hubspotCorrelationId: correlationId }),
    });
    throw error;
  }
}
