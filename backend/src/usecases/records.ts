import type { Decision } from '../access/decide.js';
import { OBJECT_TYPES, type Action, type ObjectType, type RecordFacts } from '../access/model.js';
import { AccessDeniedError, AppError } from '../errors.js';
import type { ContactRecord, CrmRecord, TicketRecord } from '../hubspot/crm.js';
import type { AccessSource } from './access-source.js';
import type { ViewerContext } from './context.js';

export type LoadedRecord =
  | { objectType: 'tickets'; ticket: TicketRecord; facts: RecordFacts }
  | { objectType: 'contacts'; contact: ContactRecord; facts: RecordFacts }
  | { objectType: Exclude<ObjectType, 'tickets' | 'contacts'>; record: CrmRecord; facts: RecordFacts };

/**
 * Reads a record fresh from HubSpot (its owner decides access, so it is never cached) with the viewer's own account
 * token: an id from another account is simply not found there.
 */
export async function loadRecord(access: AccessSource, ctx: ViewerContext, objectType: ObjectType, id: string): Promise<LoadedRecord> {
  access.prefetch(ctx, objectType, id);
  if (objectType === 'tickets') {
    const ticket = await ctx.portal.getTicket(id);
    if (ticket === undefined) throw notFound(objectType, id);
    return { objectType, ticket, facts: await access.recordFacts(ctx, objectType, ticket) };
  }
  if (objectType === 'contacts') {
    const contact = await ctx.portal.getContact(id);
    if (contact === undefined) throw notFound(objectType, id);
    return { objectType, contact, facts: await access.recordFacts(ctx, objectType, contact) };
  }
  const record = await ctx.portal.getRecord(objectType, id);
  if (record === undefined) throw notFound(objectType, id);
  return { objectType, record, facts: await access.recordFacts(ctx, objectType, record) };
}

const notFound = (objectType: ObjectType, id: string) =>
  new AppError('RECORD_NOT_FOUND', { message: `There is no ${OBJECT_TYPES[objectType].singular} ${id} in this HubSpot account.` });

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
