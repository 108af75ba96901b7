export { createFakeHubSpot, type FakeHubSpot, type FakeHubSpotOptions } from './server.js';
export { loadSeed, seedSchema, type Seed, type SeedAccount, type SeedUser } from './seed.js';
export type { ContractViolation } from './contract.js';
export type { FakeWorld } from './world.js';
export type { TokenFault } from './state.js';
