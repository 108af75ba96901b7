import { describe, expect, it } from 'vitest';
import { levelWithin } from '../../backend/src/access/policy.js';
import { loadSeed, type SeedAccount, type SeedUser } from './seed.js';

const seed = loadSeed();
const northwind = seed.accounts[0]!;
const teamsOf = (user: SeedUser | undefined) =>
  user === undefined ? [] : [...(user.primaryTeamId === undefined ? [] : [user.primaryTeamId]), ...user.secondaryTeamIds];

/** How a record stands to a user: the relations seed.ts promises for deals and companies. */
function relation(account: SeedAccount, user: SeedUser, ownerId: string | null): 'owned' | 'teammate' | 'other team' | 'unassigned' {
  if (ownerId === null) return 'unassigned';
  const owner = account.owners.find((candidate) => String(candidate.id) === ownerId);
  if (owner?.userId === user.id) return 'owned';
  const ownerTeams = teamsOf(account.users.find((candidate) => candidate.id === owner?.userId));
  return ownerTeams.some((team) => teamsOf(user).includes(team)) ? 'teammate' : 'other team';
}

const owningUsers = northwind.users.filter(
  (user) => !user.superAdmin && !user.deactivated && northwind.owners.some((owner) => owner.userId === user.id && !owner.archived),
);
const dev = northwind.users.find((user) => user.firstName === 'Dev')!;

describe('seed.json deals and companies', () => {
  it('gives every active non-admin owner a record in each relation, but for Dev, who deliberately owns no deal', () => {
    expect(owningUsers.length).toBeGreaterThanOrEqual(5);
    for (const kind of ['deals', 'companies'] as const) {
      for (const user of owningUsers) {
        const relations = new Set(northwind[kind].map((record) => relation(northwind, user, record.properties.hubspot_owner_id ?? null)));
        const expected = kind === 'deals' && user.id === dev.id ? ['other team', 'teammate', 'unassigned'] : ['other team', 'owned', 'teammate', 'unassigned'];
        expect([...relations].sort(), `${user.firstName}, ${kind}`).toEqual(expected);
      }
    }
  });

  it('owns every record by a known, active owner or by nobody', () => {
    for (const account of seed.accounts) {
      const active = new Set(account.owners.filter((owner) => !owner.archived).map((owner) => String(owner.id)));
      for (const record of [...account.deals, ...account.companies]) {
        const ownerId = record.properties.hubspot_owner_id ?? null;
        if (ownerId !== null) expect(active.has(ownerId), `record ${record.id}`).toBe(true);
      }
      expect(account.deals.length).toBeGreaterThan(0);
      expect(account.companies.length).toBeGreaterThan(0);
    }
  });

  it('never lets edit, delete or communicate reach past view, and gives some users deal or company levels unlike their ticket ones', () => {
    for (const account of seed.accounts)
      for (const user of account.users)
        for (const kind of ['deals', 'companies'] as const)
          for (const [action, level] of Object.entries(user.permissions[kind]))
            expect(levelWithin(level, user.permissions[kind].view), `${user.firstName} ${kind} ${action}`).toBe(true);
    expect(northwind.users.filter((user) => user.permissions.deals.view !== user.permissions.tickets.view).length).toBeGreaterThanOrEqual(3);
    expect(northwind.users.filter((user) => user.permissions.companies.view !== user.permissions.contacts.view).length).toBeGreaterThanOrEqual(3);
  });
});
