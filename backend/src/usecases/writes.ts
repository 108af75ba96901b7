import type { Decision } from '../access/decide.js';
import type { Action, ObjectType, RecordCardType, RecordFacts } from '../access/model.js';
import { AppError, isAppError, type ErrorCode } from '../errors.js';
import { hubspotCorrelationId } from '../hubspot/http-error.js';
import type { AccessSource } from './access-source.js';
import { verdict } from './check-record.js';
import type { ViewerContext, WriteContext } from './context.js';
import type { PipelineStages } from './pipeline-stages.js';
import { loadRecord, requireAll } from './records.js';

export interface WriteDeps {
  access: AccessSource;
  pipelines: PipelineStages;
  now: () => number;
}

/**
 * Failures that prove HubSpot did not carry the write out: it answered with a refusal (4xx, 429) or the install token
 * was refused. Any other failure (a 5xx, a reset, a timeout, an answer we could not read) may follow a write HubSpot
 * made, so its outcome is unknown.
 */
const NOT_CARRIED_OUT: ReadonlySet<ErrorCode> = new Set(['HUBSPOT_REFUSED', 'HUBSPOT_SCOPE_MISSING', 'HUBSPOT_RATE_LIMITED', 'INSTALL_NEEDS_REPAIR']);

/** The ticket-create rule: the viewer must be allowed to edit the ticket they are about to own. */
export function newTicketFacts(ctx: ViewerContext): RecordFacts {
  const { viewer } = ctx;
  return {
    objectType: 'tickets',
    id: 'new',
    owner: viewer.ownerId === null ? null : { ownerId: viewer.ownerId, name: 'you', teamIds: viewer.teams.map((team) => team.id) },
  };
}

/**
 * Every write takes the same steps: load -> decide view and the write's action -> record the intent -> act with the
 * install token -> tell the journal the outcome. Refusals are thrown (the error handler audits them); the write's own
 * audit entry is written by the pipeline from the journal, together with the request's answer. Nothing is sent to
 * HubSpot unless the intent was stored. The answer carries the decision, and record data only from a record the
 * viewer may see.
 */
export function createWrites(deps: WriteDeps) {
  async function perform<T>(
    ctx: WriteContext,
    what: { action: string; objectType: ObjectType; recordId: string; decision: Decision },
    write: () => Promise<T>,
  ) {
    const { action, objectType, recordId, decision } = what;
    await ctx.journal.intend({ userId: ctx.viewer.userId, action, objectType, recordId, decisionCode: decision.code, source: decision.source });
    let result: T;
    try {
      result = await write();
    } catch (error) {
      deps.access.forget(ctx.portal.portalId, objectType, recordId);
      ctx.journal.settle({
        outcome: isAppError(error) && NOT_CARRIED_OUT.has(error.code) ? 'failed' : 'unknown',
        message: isAppError(error) ? `${error.code}: ${error.message}` : 'unexpected error',
        hubspotCorrelationId: hubspotCorrelationId(error) ?? null,
      });
      throw error;
    }
    // Our write changed the record: HubSpot's earlier answer about it must not outlive it.
    deps.access.forget(ctx.portal.portalId, objectType, recordId);
    ctx.journal.settle({ outcome: 'done', message: decision.message, hubspotCorrelationId: null });
    return { result, decision: verdict(decision) };
  }

  async function checked(ctx: ViewerContext, objectType: ObjectType, id: string, action: Action) {
    const loaded = await loadRecord(deps.access, ctx, objectType, id);
    const [, decision] = await requireAll((candidate) => deps.access.decide(ctx, candidate, loaded.facts), ['view', action]);
    return { loaded, decision: decision as Decision };
  }

  async function checkedTicket(ctx: ViewerContext, id: string, action: Action) {
    const { loaded, decision } = await checked(ctx, 'tickets', id, action);
    if (loaded.objectType !== 'tickets') throw new AppError('INTERNAL');
    return { ticket: loaded.ticket, decision };
  }

  /** Assigning takes edit, and an owner id: a viewer who is no HubSpot owner cannot own anything. */
  async function assignToMe<T>(ctx: WriteContext, objectType: ObjectType, id: string, assign: (ownerId: number) => Promise<T>) {
    const { decision } = await checked(ctx, objectType, id, 'edit');
    const ownerId = ctx.viewer.ownerId;
    if (ownerId === null) throw new AppError('NOT_AN_OWNER');
    return perform(ctx, { action: 'assign-to-me', objectType, recordId: id, decision }, () => assign(ownerId));
  }

  return {
    assignToMe: (ctx: WriteContext, ticketId: string) => assignToMe(ctx, 'tickets', ticketId, (ownerId) => ctx.portal.assignTicket(ticketId, ownerId)),

    assignRecordToMe: (ctx: WriteContext, objectType: RecordCardType, id: string) =>
      assignToMe(ctx, objectType, id, (ownerId) => ctx.portal.assignRecord(objectType, id, ownerId)),

    async moveStage(ctx: WriteContext, ticketId: string, stageId: string) {
      const { ticket, decision } = await checkedTicket(ctx, ticketId, 'edit');
      // A stage the cached pipeline lacks reads it again: an admin may have just added it.
      const stages = (await deps.pipelines.stagesOf(ctx.portal, ticket.pipelineId, stageId)) ?? [];
      if (!stages.some((stage) => stage.id === stageId)) {
        throw new AppError('VALIDATION_FAILED', {
          details: [
            {
              field: 'body.stageId',
              message: `must be one of this ticket's pipeline stages: ${stages.map((stage) => `${stage.id} (${stage.label})`).join(', ')}`,
            },
          ],
        });
      }
      return perform(ctx, { action: 'move-stage', objectType: 'tickets', recordId: ticketId, decision }, () => ctx.portal.moveTicketStage(ticketId, stageId));
    },

    /** A note on any record the viewer may edit (tickets through their own route, the record card's types through theirs). */
    async addNote(ctx: WriteContext, objectType: ObjectType, id: string, body: string) {
      const { decision } = await checked(ctx, objectType, id, 'edit');
      return perform(ctx, { action: 'add-note', objectType, recordId: id, decision }, () =>
        ctx.portal.createNoteOn(objectType, id, body, ctx.viewer.ownerId, new Date(deps.now())),
      );
    },

    async createTicket(
      ctx: WriteContext,
      contactId: string,
      input: { subject: string; content?: string | undefined; priority?: 'LOW' | 'MEDIUM' | 'HIGH' | undefined },
    ) {
      const contact = await loadRecord(deps.access, ctx, 'contacts', contactId);
      await requireAll((action) => deps.access.decide(ctx, action, contact.facts), ['view']);
      const [, decision] = await requireAll((action) => deps.access.decideNew(ctx, action, newTicketFacts(ctx)), ['view', 'edit']);
      return perform(ctx, { action: 'create-ticket', objectType: 'contacts', recordId: contactId, decision: decision as Decision }, () =>
        ctx.portal.createTicket(
          {
            subject: input.subject,
            ownerId: ctx.viewer.ownerId,
            ...(input.content === undefined ? {} : { content: input.content }),
            ...(input.priority === undefined ? {} : { priority: input.priority }),
          },
          contactId,
        ),
      );
    },
  };
}
export type Writes = ReturnType<typeof createWrites>;
