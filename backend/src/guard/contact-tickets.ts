import type { Decision } from '../access/decide.js';
import { isVisible } from '../access/visibility.js';
import type { HubSpotApi } from '../hubspot/api.js';
import type { TicketRecord } from '../hubspot/crm.js';
import type { Viewer } from '../hubspot/directory.js';
import { associatedWithContact, visibilityFilterGroups } from '../hubspot/search-filters.js';
import type { AccessService } from './access-service.js';

/** A contact's card lists at most this many tickets; the count of the rest is still exact. */
const MAX_LISTED_TICKETS = 100;

export interface ContactTicketsView {
  visible: TicketRecord[];
  total: number;
  /** Why the others are hidden, grouped by decision code; their contents never leave the backend. */
  hidden: Array<{ decision: Decision; count: number }>;
}

/**
 * The tickets of a contact the viewer may see. The search is narrowed at the source by the viewer's level (the
 * policy compiled to filterGroups), so a viewer's hidden tickets are not fetched for them. With HubSpot's permissions
 * API in charge (ACCESS_SOURCE auto or hubspot), each listed ticket is then confirmed with HubSpot, and a viewer
 * whose level the admin has not set is checked ticket by ticket instead of being shown nothing.
 */
export async function contactTickets(options: { api: HubSpotApi; access: AccessService }, viewer: Viewer, contactId: string): Promise<ContactTicketsView> {
  const api = options.api.forPortal(viewer.portalId);
  const about = associatedWithContact(contactId);
  const { rule, configured, decisionFor } = await options.access.visibility(viewer, 'tickets');
  const byHubSpot = options.access.mode !== 'policy';
  const facts = (ticket: TicketRecord) => options.access.recordFacts(viewer.portalId, 'tickets', ticket);

  const narrowed = byHubSpot && !configured ? [{ filters: about }] : visibilityFilterGroups(rule, about);
  let listed: TicketRecord[] = [];
  if (narrowed !== 'none') {
    const found = await api.searchTickets(narrowed ?? [{ filters: about }], MAX_LISTED_TICKETS);
    // Past HubSpot's search limits the rule cannot be a filter; it is applied here instead.
    listed = narrowed === undefined ? found.tickets.filter((ticket) => isVisible(rule, ticket.ownerId)) : found.tickets;
  }
  const decided = await Promise.all(
    listed.map(async (ticket) => ({ ticket, decision: byHubSpot ? await options.access.decide(viewer, 'view', await facts(ticket)) : decisionFor(await facts(ticket)) })),
  );
  const visible = decided.filter((entry) => entry.decision.allowed).map((entry) => entry.ticket);
  const total = await api.countTickets(about);

  const reasons = new Map<string, { decision: Decision; count: number }>();
  const count = (decision: Decision) => {
    const reason = reasons.get(decision.code) ?? { decision, count: 0 };
    reason.count += 1;
    reasons.set(decision.code, reason);
  };
  for (const entry of decided) if (!entry.decision.allowed) count(entry.decision);
  if (listed.length < total) {
    const shown = new Set(listed.map((ticket) => ticket.id));
    const everything = await api.searchTickets([{ filters: about }], MAX_LISTED_TICKETS);
    for (const ticket of everything.tickets.filter((candidate) => !shown.has(candidate.id))) count(decisionFor(await facts(ticket)));
  }
  return { visible, total, hidden: [...reasons.values()] };
}
