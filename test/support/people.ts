import { loadSeed, type SeedAccount, type SeedUser } from '../hubspot-fake/index.js';

/** Who is who in seed.json, looked up by name so a changed seed fails here, loudly, not in some assertion. */
export const seed = loadSeed();

function accountNamed(name: string): SeedAccount {
  const account = seed.accounts.find((candidate) => candidate.name === name);
  if (account === undefined) throw new Error(`seed.json has no account named ${name}`);
  return account;
}

export const northwind = accountNamed('Northwind Support');
export const contoso = accountNamed('Contoso Retail');

function person(account: SeedAccount, firstName: string): SeedUser {
  const user = account.users.find((candidate) => candidate.firstName === firstName);
  if (user === undefined) throw new Error(`seed.json has no user ${firstName} in ${account.name}`);
  return user;
}

/** Northwind: Ana Super Admin; Bob owned-only; Carla team level, Bob's team as her secondary; Farid may install apps, no Super Admin; Gina deactivated. */
export const ana = person(northwind, 'Ana');
export const bob = person(northwind, 'Bob');
export const carla = person(northwind, 'Carla');
export const farid = person(northwind, 'Farid');
export const gina = person(northwind, 'Gina');
/** Contoso: Zoe Super Admin, Yan owned-only. */
export const zoe = person(contoso, 'Zoe');
export const yan = person(contoso, 'Yan');
