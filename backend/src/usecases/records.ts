import type { Decision } from '../access/decide.js';
import type { Action, ObjectType, RecordFacts } from '../access/model.js';
import { AccessDeniedError, AppError } from '../errors.js';
import type { ContactRecord, TicketRecord } from '../hubspot/crm.js';
import type { AccessSource } from './access-source.js';
import type { ViewerContext } from './context.js';

export type LoadedRecord =
  { objectType: 'tickets'; ticket: TicketRecord; facts: RecordFacts } | { objectType: 'contacts'; contact: ContactRecord; facts: RecordFacts };

/**
 * Reads a record fresh from HubSpot (its owner decides access, so it is never cached) with the viewer's own account
 * token: an id from another account is simply not found there.
 */
export async function loadRecord(access: AccessSource, ctx: ViewerContext, objectType: ObjectType, id: string): Promise<LoadedRecord> {
  access.prefetch(ctx, objectType, id);
  if (objectType === 'tickets') {
    const ticket = await ctx.portal.getTicket(id);
    if (ticket === undefined) throw new AppError('RECORD_NOT_FOUND', { message: `There is no ticket ${id} in this HubSpot account.` });
    return { objectType, ticket, facts: await access.recordFacts(ctx, objectType, ticket) };
  }
  const contact = await ctx.portal.getContact(id);
  if (contact === undefined) throw new AppError('RECORD_NOT_FOUND', { message: `There is no contact ${id} in this HubSpot account.` });
  return { objectType, contact, facts: await access.recordFacts(ctx, objectType, contact) };
}

/**
 * The decisions a request needs, `view` first: nothing about a record is acted on or answered unless the viewer may
 * see it, so a policy or a HubSpot answer that allows edit but not view can never open a write. Throws the first
 * refusal as a 403 with the decision's words (the error handler audits it).
 */
export async function requireAll(decide: (action: Action) => Promise<Decision>, actions: readonly Action[]): Promise<Decision[]> {
  const decisions: Decision[] = [];
  for (const action of actions) {
    const decision = await decide(action);
    if (!decision.allowed) throw new AccessDeniedError(decision);
    decisions.push(decision);
  }
  return decisions;
}
