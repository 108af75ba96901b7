import type { SeedAccount } from '../seed.js';

type CrmRecord = SeedAccount['tickets'][number];

/**
 * Per account, each ticket's first associated contact (what search's `associations.contact` reads), each contact's
 * tickets by it, and every ticket associated with each contact, built once and built again when the account's lists
 * grow. The fake only ever appends to them (writes push a new ticket and its association; a reassignment edits a record
 * in place), so their lengths tell when the index is stale. A search naming a contact, or a read of a contact's
 * associations, then reads that contact's tickets, not every ticket of a 100,000-ticket world: the local HubSpot answers
 * in the time HubSpot would rather than in the time a full scan takes.
 */
export interface TicketIndex {
  pairs: number;
  records: number;
  contactOf: (ticketId: string) => string | null;
  byFirstContact: Map<string, CrmRecord[]>;
  associated: Map<string, string[]>;
}

const indexes = new WeakMap<SeedAccount, TicketIndex>();

const append = <T>(map: Map<string, T[]>, key: string, value: T) => {
  const values = map.get(key) ?? [];
  values.push(value);
  map.set(key, values);
};

export function ticketIndex(account: SeedAccount): TicketIndex {
  const cached = indexes.get(account);
  if (cached !== undefined && cached.pairs === account.ticketContacts.length && cached.records === account.tickets.length) return cached;
  const firstContact = new Map<string, string>();
  const associated = new Map<string, string[]>();
  for (const [ticket, contact] of account.ticketContacts) {
    if (!firstContact.has(ticket)) firstContact.set(ticket, contact);
    append(associated, contact, ticket);
  }
  const byFirstContact = new Map<string, CrmRecord[]>();
  for (const ticket of account.tickets) {
    const contact = firstContact.get(ticket.id);
    if (contact !== undefined) append(byFirstContact, contact, ticket);
  }
  const index = {
    pairs: account.ticketContacts.length,
    records: account.tickets.length,
    contactOf: (id: string) => firstContact.get(id) ?? null,
    byFirstContact,
    associated,
  };
  indexes.set(account, index);
  return index;
}
