import type { Decision } from '../access/decide.js';
import { isVisible } from '../access/visibility.js';
import type { TicketRecord } from '../hubspot/crm.js';
import type { AccessSource } from './access-source.js';
import { verdict } from './check-record.js';
import type { ViewerContext } from './context.js';
import { loadRecord, requireAll } from './records.js';
import { newTicketFacts } from './writes.js';

/** A contact's card lists at most this many tickets; the count of the rest is still exact. */
const MAX_LISTED_TICKETS = 100;

/** Why tickets are hidden, in words that name no ticket and no owner: the viewer may not see them. */
const HIDDEN_BECAUSE: Partial<Record<Decision['code'], string>> = {
  OWNED_ONLY_NOT_OWNER: 'owned by someone else',
  TEAM_ONLY_OTHER_TEAM: 'owned by other teams',
  OWNED_ONLY_UNASSIGNED: 'not assigned to anyone',
  TEAM_ONLY_UNASSIGNED: 'not assigned to anyone',
  DENIED_BY_HUBSPOT: 'outside your HubSpot permissions',
  NO_PERMISSION: 'you have no access to tickets',
  NOT_CONFIGURED: 'your access has not been set up yet',
  ACCESS_UNKNOWN: 'could not be checked right now',
};

/**
 * listContactTickets: the tickets of a contact the viewer may see. The search is narrowed at the source by the
 * viewer's level (the policy compiled to filterGroups), so a viewer's hidden tickets are not fetched for them. With
 * HubSpot's permissions API in charge (ACCESS_SOURCE auto or hubspot), each listed ticket is then confirmed with
 * HubSpot (the uncached ones asked for together, 20 per call), and a viewer whose level the admin has not set is
 * checked ticket by ticket instead of being shown nothing.
 */
export function createContactTickets(deps: { access: AccessSource }) {
  const { access } = deps;

  return async function listContactTickets(ctx: ViewerContext, contactId: string) {
    const contact = await loadRecord(access, ctx, 'contacts', contactId);
    await requireAll((action) => access.decide(ctx, action, contact.facts), ['view']);

    const { rule, configured, decisionFor } = await access.visibility(ctx, 'tickets');
    const byHubSpot = access.mode !== 'policy';
    const facts = (ticket: TicketRecord) => access.recordFacts(ctx, 'tickets', ticket);

    const found = await ctx.portal.searchContactTickets(contactId, byHubSpot && !configured ? { kind: 'all' } : rule, MAX_LISTED_TICKETS);
    // Past HubSpot's search limits the rule cannot be a filter; it is applied here instead.
    const listed = found.narrowed ? found.tickets : found.tickets.filter((ticket) => isVisible(rule, ticket.ownerId));
    const listedFacts = await Promise.all(listed.map(facts));
    const decisions = byHubSpot ? await access.decideMany(ctx, 'view', listedFacts) : listedFacts.map(decisionFor);
    const decided = listed.map((ticket, index) => ({ ticket, decision: decisions[index] as Decision }));
    const visible = decided.filter((entry) => entry.decision.allowed).map((entry) => entry.ticket);
    const total = await ctx.portal.countContactTickets(contactId);

    const reasons = new Map<string, { code: string; message: string; count: number }>();
    const count = (decision: Decision) => {
      const reason = reasons.get(decision.code) ?? { code: decision.code, message: HIDDEN_BECAUSE[decision.code] ?? decision.message, count: 0 };
      reason.count += 1;
      reasons.set(decision.code, reason);
    };
    for (const entry of decided) if (!entry.decision.allowed) count(entry.decision);
    if (listed.length < total) {
      const shown = new Set(listed.map((ticket) => ticket.id));
      const everything = await ctx.portal.searchContactTickets(contactId, { kind: 'all' }, MAX_LISTED_TICKETS);
      for (const ticket of everything.tickets.filter((candidate) => !shown.has(candidate.id))) count(decisionFor(await facts(ticket)));
    }

    const stages = new Map(((await ctx.portal.getTicketStages(null)) ?? []).map((stage) => [stage.id, stage.label]));
    return {
      contactId,
      canCreateTicket: verdict(await access.decideNew(ctx, 'edit', newTicketFacts(ctx))),
      tickets: await Promise.all(
        visible.map(async (ticket) => ({
          id: ticket.id,
          subject: ticket.subject,
          stageId: ticket.stageId,
          stageLabel: ticket.stageId === null ? null : (stages.get(ticket.stageId) ?? ticket.stageId),
          pipelineId: ticket.pipelineId,
          priority: ticket.priority,
          owner: ticket.ownerId === null ? null : { ownerId: ticket.ownerId, name: await access.ownerName(ctx, ticket.ownerId) },
        })),
      ),
      hidden: { count: total - visible.length, reasons: [...reasons.values()] },
    };
  };
}
