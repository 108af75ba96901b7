import type { Seed, SeedAccount, SeedOwner, SeedUser } from './seed.js';

/**
 * Generated worlds for the local HubSpot, sized for load (the benchmark, `npm run bench`): one account with `users`
 * users (each with an owner, teams, a permission set), `tickets` tickets in one pipeline, each owned (or unassigned)
 * and associated with one contact, and one "big" contact holding the first min(1,000, tickets) tickets; one deal and
 * one company per ten tickets (at least ten of each), owned or unassigned like tickets. The same numbers give the same
 * world, byte for byte; seed.json stays the hand-written world of the tests. Deals and companies are drawn from their
 * own generator after everything else, so the users, tickets and contacts of a size are those they were before deals
 * and companies were generated.
 *
 * Ids are laid out so nothing collides with seed.json or with each other: users 40,000,001+, owners 50,000,001+
 * (owner ids differ from user ids, as in HubSpot), tickets 1,000,001+ in creation order, contacts 3,000,001+, deals
 * 5,000,001+, companies 7,000,001+.
 */
export interface GeneratedWorld {
  seed: Seed;
  portalId: number;
  /** The contact whose tickets are the first `bigContactTickets` tickets. */
  bigContactId: string;
  bigContactTickets: number;
  /** Users chosen for what the benchmark needs, all active and not Super Admins unless named so. */
  people: {
    /** A Super Admin: installs the app. */
    installer: number;
    /** Sees every ticket and contact (everything), edits every ticket, deletes none. */
    agent: number;
    /** Sees the tickets of their teams' owners only; sees every contact. */
    teamAgent: number;
  };
}

export interface WorldSize {
  users: number;
  tickets: number;
  /** Any integer: the pseudo-random choices (permission sets, owners, teams, stages) follow from it. */
  seed: number;
}

export const GENERATED_PORTAL_ID = 30_000_001;
export const BIG_CONTACT_TICKETS = 1_000;
const USER_BASE = 40_000_000;
const OWNER_BASE = 50_000_000;
const TICKET_BASE = 1_000_000;
const CONTACT_BASE = 3_000_000;
const DEAL_BASE = 5_000_000;
const COMPANY_BASE = 7_000_000;
/** Deals and companies: one each per this many tickets, at least this many. */
const TICKETS_PER_DEAL = 10;
/** Mixed into the seed for the deals' and companies' own generator. */
const SALES_SEED_SALT = 0x5a1e5;
/** Ten tickets per contact on average, at least ten contacts. */
const TICKETS_PER_CONTACT = 10;
const USERS_PER_TEAM = 10;

type Permissions = SeedUser['permissions'];

/**
 * Permission sets an admin would give, each valid for the policy invariant (Edit and Delete never reach past View),
 * with how often each is drawn. The first three are the named people's. Deals follow the ticket levels and companies
 * the contact levels, so a profile stays one admin's choice.
 */
const PROFILES: Array<{ weight: number; permissions: Permissions }> = [
  { weight: 0, permissions: profile(['everything', 'everything', 'everything'], ['everything', 'everything', 'everything', 'everything']) },
  { weight: 35, permissions: profile(['everything', 'everything', 'none'], ['everything', 'everything', 'none', 'everything']) },
  { weight: 20, permissions: profile(['team', 'team', 'none'], ['everything', 'team', 'none', 'team']) },
  { weight: 10, permissions: profile(['team+unassigned', 'team', 'none'], ['team+unassigned', 'team', 'none', 'team']) },
  { weight: 15, permissions: profile(['owned', 'owned', 'none'], ['owned', 'owned', 'none', 'owned']) },
  { weight: 10, permissions: profile(['owned+unassigned', 'owned', 'owned'], ['owned+unassigned', 'owned', 'none', 'owned']) },
  { weight: 7, permissions: profile(['everything', 'none', 'none'], ['everything', 'none', 'none', 'none']) },
  { weight: 3, permissions: profile(['none', 'none', 'none'], ['none', 'none', 'none', 'none']) },
];
const [SUPER_ADMIN, AGENT, TEAM_AGENT] = [0, 1, 2];
/** One in this many drawn users is a Super Admin, one in this many deactivated. */
const SUPER_ADMIN_ONE_IN = 50;
const DEACTIVATED_ONE_IN = 40;
/** One in this many tickets is unassigned. */
const UNASSIGNED_ONE_IN = 10;

type Level = Permissions['tickets']['view'];
function profile(tickets: [Level, Level, Level], contacts: [Level, Level, Level, Level]): Permissions {
  return {
    tickets: { view: tickets[0], edit: tickets[1], delete: tickets[2] },
    contacts: { view: contacts[0], edit: contacts[1], delete: contacts[2], communicate: contacts[3] },
    deals: { view: tickets[0], edit: tickets[1], delete: tickets[2] },
    companies: { view: contacts[0], edit: contacts[1], delete: contacts[2], communicate: contacts[3] },
  };
}

/** mulberry32: a small, well-mixed 32-bit generator; Math.random cannot be seeded. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const FIRST_NAMES = ['Ana', 'Bob', 'Chen', 'Dana', 'Emil', 'Fatima', 'Goran', 'Hana', 'Ivo', 'Jun', 'Kofi', 'Lena', 'Mateo', 'Nia', 'Omar', 'Pia'];
const LAST_NAMES = ['Silva', 'Stone', 'Wei', 'Novak', 'Berg', 'Haddad', 'Ilic', 'Sato', 'Moreau', 'Okafor', 'Rossi', 'Kowal', 'Lund', 'Park'];
const SUBJECTS = ['Invoice shows the wrong VAT rate', 'Cannot reset password', 'Export times out', 'Duplicate charge', 'Delivery is late'];
const STAGES = [
  { id: '1', label: 'New', ticketState: 'OPEN' as const },
  { id: '2', label: 'Waiting on contact', ticketState: 'OPEN' as const },
  { id: '3', label: 'Waiting on us', ticketState: 'OPEN' as const },
  { id: '4', label: 'Closed', ticketState: 'CLOSED' as const },
];
const PRIORITIES = ['LOW', 'MEDIUM', 'HIGH'];

export function generateWorld(size: WorldSize): GeneratedWorld {
  if (!Number.isInteger(size.users) || size.users < 3) throw new Error(`generateWorld: users must be an integer of at least 3 (got ${size.users})`);
  if (!Number.isInteger(size.tickets) || size.tickets < 1) throw new Error(`generateWorld: tickets must be a positive integer (got ${size.tickets})`);
  const next = random(size.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const totalWeight = PROFILES.reduce((sum, entry) => sum + entry.weight, 0);
  const drawProfile = (): Permissions => {
    let ticket = next() * totalWeight;
    for (const entry of PROFILES) {
      ticket -= entry.weight;
      if (ticket < 0) return entry.permissions;
    }
    return PROFILES[AGENT]!.permissions;
  };

  const teams = Array.from({ length: Math.max(2, Math.ceil(size.users / USERS_PER_TEAM)) }, (_, index) => ({
    id: String(700 + index + 1),
    name: `Support ${index + 1}`,
  }));
  const roles = [
    { id: '901', name: 'Support Agent', requiresBillingWrite: true },
    { id: '902', name: 'Support Lead', requiresBillingWrite: true },
    { id: '903', name: 'Sales Rep', requiresBillingWrite: false },
  ];

  const users: SeedUser[] = Array.from({ length: size.users }, (_, index) => {
    const named = index === SUPER_ADMIN || index === AGENT || index === TEAM_AGENT;
    const superAdmin = index === SUPER_ADMIN || (!named && next() < 1 / SUPER_ADMIN_ONE_IN);
    const permissions = structuredClone(named ? PROFILES[index]!.permissions : superAdmin ? PROFILES[SUPER_ADMIN]!.permissions : drawProfile());
    const primary = pick(teams).id;
    const secondary = next() < 0.1 ? teams.map((team) => team.id).filter((id) => id !== primary && next() < 2 / teams.length) : [];
    const firstName = pick(FIRST_NAMES);
    const lastName = pick(LAST_NAMES);
    return {
      id: USER_BASE + index + 1,
      email: `${firstName.toLowerCase()}.${lastName.toLowerCase()}.${index + 1}@generated.example`,
      firstName,
      lastName,
      superAdmin,
      canInstallApps: superAdmin,
      deactivated: !named && next() < 1 / DEACTIVATED_ONE_IN,
      roleIds: [pick(roles).id],
      primaryTeamId: primary,
      secondaryTeamIds: secondary,
      permissions,
    };
  });
  const owners: SeedAccount['owners'] = users.map((user, index) => ({
    id: OWNER_BASE + index + 1,
    userId: user.id,
    email: user.email,
    firstName: user.firstName,
    lastName: user.lastName,
    archived: user.deactivated,
  }));
  const activeOwners = owners.filter((owner) => !owner.archived);

  const contactCount = Math.max(TICKETS_PER_CONTACT, Math.ceil(size.tickets / TICKETS_PER_CONTACT));
  const contacts: SeedAccount['contacts'] = Array.from({ length: contactCount }, (_, index) => {
    const firstName = pick(FIRST_NAMES);
    const lastName = pick(LAST_NAMES);
    return {
      id: String(CONTACT_BASE + index + 1),
      properties: {
        firstname: firstName,
        lastname: lastName,
        email: `${firstName.toLowerCase()}.${index + 1}@customer.example`,
        hubspot_owner_id: String(pick(activeOwners).id),
      },
    };
  });
  const bigContactId = contacts[0]!.id;
  const bigContactTickets = Math.min(BIG_CONTACT_TICKETS, size.tickets);

  const tickets: SeedAccount['tickets'] = [];
  const ticketContacts: SeedAccount['ticketContacts'] = [];
  for (let index = 0; index < size.tickets; index += 1) {
    const id = String(TICKET_BASE + index + 1);
    const owner = next() < 1 / UNASSIGNED_ONE_IN ? null : String(pick(activeOwners).id);
    tickets.push({
      id,
      properties: {
        subject: `${pick(SUBJECTS)} #${index + 1}`,
        hubspot_owner_id: owner,
        hs_pipeline: '0',
        hs_pipeline_stage: pick(STAGES).id,
        hs_ticket_priority: pick(PRIORITIES),
      },
    });
    // The big contact's tickets first; the rest spread over the other contacts (or the big one, in a tiny world).
    const contact = index < bigContactTickets ? bigContactId : (contacts[1 + Math.floor(next() * (contacts.length - 1))]?.id ?? bigContactId);
    ticketContacts.push([id, contact]);
  }

  const sales = random(size.seed ^ SALES_SEED_SALT);
  const salesOwner = () => (sales() < 1 / UNASSIGNED_ONE_IN ? null : String((activeOwners[Math.floor(sales() * activeOwners.length)] as SeedOwner).id));
  const salesCount = Math.max(TICKETS_PER_DEAL, Math.ceil(size.tickets / TICKETS_PER_DEAL));
  const deals: SeedAccount['deals'] = Array.from({ length: salesCount }, (_, index) => ({
    id: String(DEAL_BASE + index + 1),
    properties: {
      dealname: `Deal #${index + 1}`,
      amount: String(1_000 * (1 + (index % 50))),
      dealstage: 'appointmentscheduled',
      hubspot_owner_id: salesOwner(),
    },
  }));
  const companies: SeedAccount['companies'] = Array.from({ length: salesCount }, (_, index) => ({
    id: String(COMPANY_BASE + index + 1),
    properties: { name: `Company ${index + 1}`, domain: `company-${index + 1}.example`, hubspot_owner_id: salesOwner() },
  }));

  const account: SeedAccount = {
    portalId: GENERATED_PORTAL_ID,
    name: `Generated ${size.users} users, ${size.tickets} tickets (seed ${size.seed})`,
    grantableOptionalScopes: [],
    teams,
    roles,
    users,
    owners,
    tickets,
    contacts,
    deals,
    companies,
    ticketContacts,
    ticketPipelines: [{ id: '0', label: 'Support Pipeline', stages: STAGES }],
  };
  const userId = (index: number) => users[index]!.id;
  return {
    seed: { accounts: [account] },
    portalId: GENERATED_PORTAL_ID,
    bigContactId,
    bigContactTickets,
    people: { installer: userId(SUPER_ADMIN), agent: userId(AGENT), teamAgent: userId(TEAM_AGENT) },
  };
}
