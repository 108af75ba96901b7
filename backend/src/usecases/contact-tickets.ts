import type { Decision } from '../access/decide.js';
import type { Level, RecordFacts } from '../access/model.js';
import { isVisible, type Visibility } from '../access/visibility.js';
import { AccessDeniedError, AppError } from '../errors.js';
import { PERMITTED_USERS_PER_CALL, type ContactTicketsPage, type ContactWithTickets } from '../hubspot/crm.js';
import type { AccessSource } from './access-source.js';
import { verdict } from './check-record.js';
import type { ViewerContext } from './context.js';
import type { PipelineStages } from './pipeline-stages.js';
import { newTicketFacts } from './writes.js';

/** Tickets per page: the page shown is confirmed with HubSpot's permissions API in one call. */
export const TICKETS_PER_PAGE = PERMITTED_USERS_PER_CALL;

interface Reason {
  code: string;
  message: string;
}

/**
 * Why tickets are hidden, worded by the viewer's own level: each phrase is true of every ticket that level hides, so it
 * tells nothing about any one hidden ticket (not its owner, team or whether it is assigned). Nothing but HubSpot's own
 * answer can hide a ticket from a viewer who may see everything.
 */
const HIDDEN_BY_HUBSPOT: Reason = { code: 'DENIED_BY_HUBSPOT', message: 'outside your HubSpot permissions' };
const HIDDEN_BY_LEVEL: Record<Level, Reason> = {
  everything: HIDDEN_BY_HUBSPOT,
  'team+unassigned': { code: 'TEAM_ONLY_OTHER_TEAM', message: 'owned by other teams' },
  team: { code: 'TEAM_ONLY_OTHER_TEAM', message: 'not owned by your teams' },
  'owned+unassigned': { code: 'OWNED_ONLY_NOT_OWNER', message: 'owned by someone else' },
  owned: { code: 'OWNED_ONLY_NOT_OWNER', message: 'not owned by you' },
  none: { code: 'NO_PERMISSION', message: 'you have no access to tickets' },
};
const NOT_SET_UP: Reason = { code: 'NOT_CONFIGURED', message: 'your access has not been set up yet' };
/** HubSpot's per-ticket answers on the page shown: its refusal, or no answer (fail closed). */
const HIDDEN_ON_PAGE: Partial<Record<Decision['code'], Reason>> = {
  DENIED_BY_HUBSPOT: HIDDEN_BY_HUBSPOT,
  ACCESS_UNKNOWN: { code: 'ACCESS_UNKNOWN', message: 'could not be checked right now' },
};

/** The viewer's candidates: the policy's view of them, the scope searched, and the one page HubSpot's search found. */
type Candidates = Awaited<ReturnType<AccessSource['visibility']>> & { scope: Visibility; page: ContactTicketsPage };

/**
 * listContactTickets: one page of the tickets of a contact the viewer may see, and how many of its tickets are hidden
 * from them. Bounded by what is shown, never by how many tickets the contact has:
 * - one read of the contact (its owner decides whether the viewer may see it at all), which also lists its associated
 *   tickets, so their number comes with it;
 * - one search with the viewer's level as filters (the policy compiled to filterGroups), so tickets the level hides are
 *   never fetched; HubSpot's search answers with `total`, every match and not just the page (2026-03/tickets.json,
 *   CollectionResponseWithTotalSimplePublicObject), so the number hidden by the level is the contact's tickets minus
 *   that total, with no walk through them;
 * - with HubSpot's permissions API in charge (ACCESS_SOURCE auto or hubspot), the page's tickets confirmed with it, in one
 *   call (TICKETS_PER_PAGE); a viewer whose level the admin has not set is searched without filters and HubSpot judges
 *   each ticket of the page instead.
 * The first two run together, then the decisions, the pipeline's stages and (only for a contact with more tickets than
 * HubSpot lists in one read, whose exact number needs it) one count-only search.
 *
 * What the viewer learns of tickets they may not see is their number and, per reason, how many: a reason is worded by
 * the viewer's own level, never by a hidden ticket's owner or state. We show that number because it names nothing (no
 * ticket, subject, owner or stage), only to a viewer who may see the contact (without that, the answer is a refusal
 * and holds no count), and because the card's purpose is to say that something is hidden and why, rather than
 * let a list look complete when it is not. Whether HubSpot's own association cards show such a viewer that number is
 * not settled by HubSpot's documentation we have (its permissions guide limits "Owned only" viewers' index pages,
 * lists and reports); see notes/lists.md.
 *
 * `hidden.exact` is false when the count is only a lower bound: HubSpot confirmed this page's tickets, not the other
 * pages', and only tickets it was asked about can be counted as refused by it.
 */
export function createContactTickets(deps: { access: AccessSource; pipelines: PipelineStages }) {
  const { access } = deps;
  const byHubSpot = access.mode !== 'policy';

  async function candidates(ctx: ViewerContext, contactId: string, after: string | undefined): Promise<Candidates> {
    const seen = await access.visibility(ctx, 'tickets');
    const scope: Visibility = byHubSpot && !seen.configured ? { kind: 'all' } : seen.rule;
    return { ...seen, scope, page: await ctx.portal.searchContactTickets(contactId, scope, { limit: TICKETS_PER_PAGE, after }) };
  }

  /** Each ticket of the page decided; a ticket past HubSpot's search limits that the scope excludes is refused here. */
  async function decidePage(ctx: ViewerContext, found: Candidates, tickets: readonly RecordFacts[]): Promise<Decision[]> {
    if (!byHubSpot) return tickets.map(found.decisionFor);
    const admitted = tickets.filter((ticket) => found.page.narrowed || isVisible(found.scope, ticket.owner?.ownerId ?? null));
    const decided = await access.decideMany(ctx, 'view', admitted);
    const byTicket = new Map(admitted.map((ticket, index) => [ticket, decided[index] as Decision]));
    return tickets.map((ticket) => byTicket.get(ticket) ?? found.decisionFor(ticket));
  }

  /** How many tickets the contact has: from its read when HubSpot listed them all, else from a search's total. */
  async function ticketCount(ctx: ViewerContext, contactId: string, read: ContactWithTickets, found: Candidates): Promise<number> {
    if (read.tickets.complete) return read.tickets.count;
    if (found.scope.kind === 'all') return found.page.total;
    return ctx.portal.countContactTickets(contactId);
  }

  return async function listContactTickets(ctx: ViewerContext, contactId: string, after?: string) {
    const [read, found] = await Promise.all([ctx.portal.getContactWithTickets(contactId), candidates(ctx, contactId, after)]);
    if (read === undefined) throw new AppError('RECORD_NOT_FOUND', { message: `There is no contact ${contactId} in this HubSpot account.` });
    const [contactFacts, ticketFacts] = await Promise.all([
      access.recordFacts(ctx, 'contacts', read.contact),
      Promise.all(found.page.tickets.map((ticket) => access.recordFacts(ctx, 'tickets', ticket))),
    ]);
    const [contactView, decisions, associated, stages] = await Promise.all([
      access.decide(ctx, 'view', contactFacts),
      decidePage(ctx, found, ticketFacts),
      ticketCount(ctx, contactId, read, found),
      found.page.tickets.length === 0 ? undefined : deps.pipelines.stagesOf(ctx.portal, null),
    ]);
    if (!contactView.allowed) throw new AccessDeniedError(contactView);

    const byLevel = found.configured ? HIDDEN_BY_LEVEL[found.level] : NOT_SET_UP;
    const reasons = new Map<string, Reason & { count: number }>();
    const hide = (reason: Reason, count: number) => {
      if (count === 0) return;
      const entry = reasons.get(reason.code) ?? { ...reason, count: 0 };
      entry.count += count;
      reasons.set(reason.code, entry);
    };
    // Searched without the level's filters, the search's total is every ticket: none was hidden at the source.
    hide(byLevel, found.scope.kind === 'all' ? 0 : Math.max(0, associated - found.page.total));
    for (const decision of decisions) if (!decision.allowed) hide(HIDDEN_ON_PAGE[decision.code] ?? byLevel, 1);

    const stageLabels = new Map((stages ?? []).map((stage) => [stage.id, stage.label]));
    const visible = found.page.tickets.filter((_, index) => decisions[index]?.allowed === true);
    const decidedAtSource = found.page.narrowed && (!byHubSpot || ctx.viewer.superAdmin);
    return {
      contactId,
      canCreateTicket: verdict(await access.decideNew(ctx, 'edit', newTicketFacts(ctx))),
      tickets: await Promise.all(
        visible.map(async (ticket) => ({
          id: ticket.id,
          subject: ticket.subject,
          stageId: ticket.stageId,
          stageLabel: ticket.stageId === null ? null : (stageLabels.get(ticket.stageId) ?? ticket.stageId),
          pipelineId: ticket.pipelineId,
          priority: ticket.priority,
          owner: ticket.ownerId === null ? null : { ownerId: ticket.ownerId, name: await access.ownerName(ctx, ticket.ownerId) },
        })),
      ),
      hidden: {
        count: [...reasons.values()].reduce((sum, reason) => sum + reason.count, 0),
        exact: decidedAtSource || (after === undefined && found.page.next === null),
        reasons: [...reasons.values()],
      },
      nextPage: found.page.next,
    };
  };
}
