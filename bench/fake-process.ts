/**
 * The local HubSpot in a process of its own, serving a generated world, so its work never counts as the backend's CPU
 * or heap and never competes with the load generator's event loop. Driven by bench/run.ts over IPC.
 */
import { readFileSync } from 'node:fs';
import { APP_CONFIG_FILE } from '../backend/src/config.js';
import { createFakeHubSpot, type FakeHubSpot } from '../test/hubspot-fake/index.js';
import { generateWorld, type WorldSize } from '../test/hubspot-fake/seed-generator.js';
import { TEST_APP } from '../test/support/harness.js';
import { summarizeCalls, type CallSummary } from './instruments.js';
import { serve } from './support/rpc.js';

// A type, not an interface: only a type literal fits Protocol's index signature.
export type FakeProtocol = {
  start(argument: { size: WorldSize }): Promise<{ url: string }>;
  /**
   * `latencyMs`: every API answer is delayed this long (the fake's latencyMs switch). `generalBudget`: HubSpot's
   * general per-account limit (requests per 10 s) the fake enforces and announces in its headers; the search limit
   * stays HubSpot's (5 per second).
   */
  configure(argument: { latencyMs?: number; generalBudget?: number }): Promise<void>;
  issueTokens(argument: { portalId: number; userId: number }): Promise<{ accessToken: string; refreshToken: string }>;
  /** Every access token issued so far stops working, as at its expiry; refresh tokens still work. */
  expireAccessTokens(argument: Record<string, never>): Promise<void>;
  /** The calls answered since the last reset; `reset` starts counting anew. */
  calls(argument: { reset: boolean }): Promise<CallSummary>;
  close(): Promise<void>;
};

let fake: FakeHubSpot | undefined;
const running = (): FakeHubSpot => {
  if (fake === undefined) throw new Error('the local HubSpot is not started');
  return fake;
};

serve({
  async start({ size }) {
    const { auth } = (JSON.parse(readFileSync(APP_CONFIG_FILE, 'utf8')) as { config: { auth: { requiredScopes: string[]; optionalScopes: string[] } } }).config;
    // The contract check validates every answer against HubSpot's OpenAPI specs: the tests' job, and CPU HubSpot would not spend.
    fake = createFakeHubSpot({
      seed: generateWorld(size).seed,
      app: { ...TEST_APP, scopes: { required: auth.requiredScopes, optional: auth.optionalScopes } },
      validateContract: false,
    });
    return { url: await fake.listen() };
  },
  async configure({ latencyMs, generalBudget }) {
    const { switches } = running();
    if (latencyMs !== undefined) switches.latencyMs = latencyMs;
    if (generalBudget !== undefined) switches.rateLimits.general = { ...switches.rateLimits.general, max: generalBudget };
  },
  issueTokens: async ({ portalId, userId }) => running().tokens.issue(portalId, userId),
  async expireAccessTokens() {
    running().tokens.expireAccessTokens();
  },
  async calls({ reset }) {
    const calls = running().calls.all();
    if (reset) running().calls.reset();
    return summarizeCalls(calls);
  },
  async close() {
    await fake?.close();
  },
} satisfies FakeProtocol);
