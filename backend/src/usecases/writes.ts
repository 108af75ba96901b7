import type { Decision } from '../access/decide.js';
import type { Action, ObjectType, RecordFacts } from '../access/model.js';
import { AppError, isAppError } from '../errors.js';
import { hubspotCorrelationId } from '../hubspot/http-error.js';
import type { AuditLog } from '../store/index.js';
import type { AccessSource } from './access-source.js';
import { verdict } from './check-record.js';
import type { ViewerContext } from './context.js';
import { loadRecord, requireAll } from './records.js';

export interface WriteDeps {
  access: AccessSource;
  audit: AuditLog;
  now: () => number;
  log: { error(obj: object, msg: string): void };
  /** Waits between audit attempts after HubSpot accepted a write (injectable for tests). */
  sleep?: (ms: number) => Promise<void>;
}

/** Once HubSpot accepted a write, its audit entry is tried this many times before the failure is only logged. */
const AUDIT_ATTEMPTS = 3;
const AUDIT_RETRY_DELAY_MS = 100;

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
 * Every write takes the same steps: load -> decide view and the write's action -> act with the install token ->
 * audit. Refusals are thrown (the error handler audits them); the write's own outcome, done or failed, is audited
 * here. The answer carries the decision, and record data only from a record the viewer may see.
 */
export function createWrites(deps: WriteDeps) {
  const audit = (
    ctx: ViewerContext,
    entry: {
      action: string;
      objectType: ObjectType;
      recordId: string;
      decision: Decision;
      outcome: 'done' | 'failed';
      message?: string;
      hubspotCorrelationId?: string;
    },
  ) =>
    deps.audit.record(
      {
        portalId: ctx.viewer.portalId,
        userId: ctx.viewer.userId,
        action: entry.action,
        objectType: entry.objectType,
        recordId: entry.recordId,
        decisionCode: entry.decision.code,
        source: entry.decision.source,
        outcome: entry.outcome,
        message: entry.message ?? entry.decision.message,
        hubspotCorrelationId: entry.hubspotCorrelationId ?? null,
      },
      new Date(deps.now()),
    );

  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));

  /**
   * HubSpot has accepted the write: the viewer gets their 2xx whatever happens to the audit entry, which is retried a
   * few times and, if the database still refuses it, logged in full so it can be restored.
   */
  async function auditAccepted(ctx: ViewerContext, what: Parameters<typeof audit>[1]) {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await audit(ctx, what);
        return;
      } catch (error) {
        if (attempt >= AUDIT_ATTEMPTS) {
          deps.log.error(
            { err: error, audit: { portalId: ctx.viewer.portalId, userId: ctx.viewer.userId, ...what, decision: what.decision.code } },
            'write done in HubSpot but its audit entry could not be stored',
          );
          return;
        }
        await sleep(AUDIT_RETRY_DELAY_MS * attempt);
      }
    }
  }

  async function perform<T>(
    ctx: ViewerContext,
    what: { action: string; objectType: ObjectType; recordId: string; decision: Decision },
    write: () => Promise<T>,
  ) {
    let result: T;
    try {
      result = await write();
    } catch (error) {
      deps.access.forget(ctx.portal.portalId, what.objectType, what.recordId);
      const correlationId = hubspotCorrelationId(error);
      // The write's own failure is what the viewer must hear about, not a failure to audit it.
      await audit(ctx, {
        ...what,
        outcome: 'failed',
        message: isAppError(error) ? `${error.code}: ${error.message}` : 'unexpected error',
        ...(correlationId === undefined ? {} : { hubspotCorrelationId: correlationId }),
      }).catch((auditError: unknown) => deps.log.error({ err: auditError }, 'a failed write could not be audited'));
      throw error;
    }
    // Our write changed the record: HubSpot's earlier answer about it must not outlive it.
    deps.access.forget(ctx.portal.portalId, what.objectType, what.recordId);
    await auditAccepted(ctx, { ...what, outcome: 'done' });
    return { result, decision: verdict(what.decision) };
  }

  async function checkedTicket(ctx: ViewerContext, id: string, action: Action) {
    const loaded = await loadRecord(deps.access, ctx, 'tickets', id);
    if (loaded.objectType !== 'tickets') throw new AppError('INTERNAL');
    const [, decision] = await requireAll((candidate) => deps.access.decide(ctx, candidate, loaded.facts), ['view', action]);
    return { ticket: loaded.ticket, decision: decision as Decision };
  }

  return {
    async assignToMe(ctx: ViewerContext, ticketId: string) {
      const { decision } = await checkedTicket(ctx, ticketId, 'edit');
      const ownerId = ctx.viewer.ownerId;
      if (ownerId === null) throw new AppError('NOT_AN_OWNER');
      return perform(ctx, { action: 'assign-to-me', objectType: 'tickets', recordId: ticketId, decision }, () => ctx.portal.assignTicket(ticketId, ownerId));
    },

    async moveStage(ctx: ViewerContext, ticketId: string, stageId: string) {
      const { ticket, decision } = await checkedTicket(ctx, ticketId, 'edit');
      const stages = (await ctx.portal.getTicketStages(ticket.pipelineId)) ?? [];
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

    async addNote(ctx: ViewerContext, ticketId: string, body: string) {
      const { decision } = await checkedTicket(ctx, ticketId, 'edit');
      return perform(ctx, { action: 'add-note', objectType: 'tickets', recordId: ticketId, decision }, () =>
        ctx.portal.createNote(ticketId, body, ctx.viewer.ownerId, new Date(deps.now())),
      );
    },

    async createTicket(
      ctx: ViewerContext,
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
