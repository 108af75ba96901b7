import type { Decision } from '../access/decide.js';
import type { Action, ObjectType, RecordFacts } from '../access/model.js';
import { AccessDeniedError, AppError } from '../errors.js';
import type { ContactRecord, TicketRecord } from '../hubspot/crm.js';
import type { Viewer } from '../hubspot/directory.js';
import type { AuditLog } from '../store/index.js';
import type { AccessService } from './access-service.js';
import type { HubSpotApi } from '../hubspot/api.js';

/**
 * The steps every card route takes, in DESIGN.md's order: load the record, decide, refuse (audited) or go on.
 * Records are always read with the viewer's own account token, so an id from another account is simply not found.
 */
export interface RecordGuard {
  ticket(viewer: Viewer, id: string): Promise<{ ticket: TicketRecord; facts: RecordFacts }>;
  contact(viewer: Viewer, id: string): Promise<{ contact: ContactRecord; facts: RecordFacts }>;
  /** Returns the allowing decision, or audits the refusal and throws it as a 403 with the decision's words. */
  /** `hypothetical`: the record does not exist yet (see AccessService.decideNew). */
  require(viewer: Viewer, action: Action, facts: RecordFacts, auditAction?: string, options?: { hypothetical?: boolean }): Promise<Decision>;
  audit(
    viewer: Viewer,
    entry: { action: string; objectType: ObjectType; recordId: string; decision?: Decision; outcome: 'done' | 'failed' | 'refused'; message?: string; hubspotCorrelationId?: string },
  ): Promise<void>;
}

export function createRecordGuard(options: { api: HubSpotApi; access: AccessService; audit: AuditLog; now: () => number }): RecordGuard {
  const audit: RecordGuard['audit'] = (viewer, entry) =>
    options.audit.record(
      {
        portalId: viewer.portalId,
        userId: viewer.userId,
        action: entry.action,
        objectType: entry.objectType,
        recordId: entry.recordId,
        decisionCode: entry.decision?.code ?? null,
        source: entry.decision?.source ?? null,
        outcome: entry.outcome,
        message: entry.message ?? entry.decision?.message ?? null,
        hubspotCorrelationId: entry.hubspotCorrelationId ?? null,
      },
      new Date(options.now()),
    );

  return {
    audit,
    async ticket(viewer, id) {
      const ticket = await options.api.forPortal(viewer.portalId).getTicket(id);
      if (ticket === undefined) throw new AppError('RECORD_NOT_FOUND', { message: `There is no ticket ${id} in this HubSpot account.` });
      return { ticket, facts: await options.access.recordFacts(viewer.portalId, 'tickets', ticket) };
    },
    async contact(viewer, id) {
      const contact = await options.api.forPortal(viewer.portalId).getContact(id);
      if (contact === undefined) throw new AppError('RECORD_NOT_FOUND', { message: `There is no contact ${id} in this HubSpot account.` });
      return { contact, facts: await options.access.recordFacts(viewer.portalId, 'contacts', contact) };
    },
    async require(viewer, action, facts, auditAction, requireOptions) {
      const decision = requireOptions?.hypothetical === true ? await options.access.decideNew(viewer, action, facts) : await options.access.decide(viewer, action, facts);
      if (decision.allowed) return decision;
      await audit(viewer, { action: auditAction ?? action, objectType: facts.objectType, recordId: facts.id, decision, outcome: 'refused' });
      throw new AccessDeniedError(decision.code, decision.message, decision.fix, { decision });
    },
  };
}
