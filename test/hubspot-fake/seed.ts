import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * The local HubSpot's world: accounts with users, teams, roles (permission sets), owners and CRM records.
 * Owner ids are deliberately different numbers from user ids, as in HubSpot, where `hubspot_owner_id`
 * holds an owner id.
 *
 * seed.json's deals and companies (Northwind) are laid out so that every active user who is an owner and not a Super
 * Admin finds, among deals and among companies, a record in each relation: owned by them, owned by a teammate (someone
 * sharing their primary or a secondary team), owned by someone on no team of theirs, and unassigned. Owner 7110 (Quinn
 * Reyes, a partner's owner with no user in the account, so on no team) is that someone for Carla and Hugo, who are on
 * both teams. ONE DELIBERATE GAP: Dev Patel (user 2004, owner 7104, deals "owned") owns no deal, so a calibration from
 * HubSpot's answers cannot tell his deal level "owned" from "none"; the calibration test relies on it. seed.test.ts
 * holds the layout to this.
 */

const level = z.enum(['everything', 'team+unassigned', 'team', 'owned+unassigned', 'owned', 'none']);
const crud = { view: level, edit: level, delete: level };
const nothing = { view: 'none', edit: 'none', delete: 'none' } as const;
/**
 * A user's permission set per object type; `communicate` exists for contacts and companies (HubSpot's user
 * permissions guide, as backend/src/access/model.ts cites it). A world written before deals and companies were
 * served gives its users no access to them, as HubSpot would for a permission set that leaves them out.
 */
export const levelsSchemas = {
  tickets: z.object(crud),
  contacts: z.object({ ...crud, communicate: level }),
  deals: z.object(crud),
  companies: z.object({ ...crud, communicate: level }),
};
export const permissionsSchema = z.object({
  ...levelsSchemas,
  deals: levelsSchemas.deals.default(nothing),
  companies: levelsSchemas.companies.default({ ...nothing, communicate: 'none' }),
});

const userSchema = z.object({
  id: z.number().int().positive(),
  email: z.email(),
  firstName: z.string(),
  lastName: z.string(),
  superAdmin: z.boolean().default(false),
  /** May approve every scope on the consent screen without being a Super Admin. */
  canInstallApps: z.boolean().default(false),
  deactivated: z.boolean().default(false),
  roleIds: z.array(z.string()).default([]),
  primaryTeamId: z.string().optional(),
  secondaryTeamIds: z.array(z.string()).default([]),
  permissions: permissionsSchema,
});

const ownerSchema = z.object({
  id: z.number().int().positive(),
  userId: z.number().int().positive().optional(),
  email: z.email(),
  firstName: z.string(),
  lastName: z.string(),
  archived: z.boolean().default(false),
});

const recordSchema = z.object({
  id: z.string().regex(/^\d+$/),
  properties: z.record(z.string(), z.string().nullable()),
});

const accountSchema = z.object({
  portalId: z.number().int().positive(),
  name: z.string(),
  /** Optional scopes this account's subscription lets an installer grant. */
  grantableOptionalScopes: z.array(z.string()).default([]),
  teams: z.array(z.object({ id: z.string(), name: z.string() })),
  roles: z.array(z.object({ id: z.string(), name: z.string(), requiresBillingWrite: z.boolean().default(false) })),
  users: z.array(userSchema),
  owners: z.array(ownerSchema),
  tickets: z.array(recordSchema),
  contacts: z.array(recordSchema),
  deals: z.array(recordSchema).default([]),
  companies: z.array(recordSchema).default([]),
  /** [ticketId, contactId] pairs: which contact each ticket is about. */
  ticketContacts: z.array(z.tuple([z.string(), z.string()])).default([]),
  ticketPipelines: z.array(
    z.object({
      id: z.string(),
      label: z.string(),
      stages: z.array(z.object({ id: z.string(), label: z.string(), ticketState: z.enum(['OPEN', 'CLOSED']) })),
    }),
  ),
});

export const seedSchema = z.object({ accounts: z.array(accountSchema).min(1) }).superRefine((seed, ctx) => {
  for (const [index, account] of seed.accounts.entries()) {
    const userIds = new Set(account.users.map((user) => user.id));
    for (const owner of account.owners) {
      if (owner.userId !== undefined && !userIds.has(owner.userId)) {
        ctx.addIssue({ code: 'custom', path: ['accounts', index, 'owners'], message: `owner ${owner.id} names unknown user ${owner.userId}` });
      }
      if (userIds.has(owner.id)) {
        ctx.addIssue({ code: 'custom', path: ['accounts', index, 'owners'], message: `owner id ${owner.id} equals a user id; keep them distinct` });
      }
    }
  }
});

export type Seed = z.infer<typeof seedSchema>;
export type SeedAccount = Seed['accounts'][number];
export type SeedUser = SeedAccount['users'][number];
export type SeedOwner = SeedAccount['owners'][number];

export function loadSeed(file: URL = new URL('./seed.json', import.meta.url)): Seed {
  return seedSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
}
