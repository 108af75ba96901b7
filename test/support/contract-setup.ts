import { afterAll, expect } from 'vitest';
import { violationRegistry } from '../hubspot-fake/contract.js';

/**
 * Fails a test file if any response the local HubSpot gave during it does not match HubSpot's published
 * OpenAPI specs, so every suite that talks to the fake is also a contract test.
 */
afterAll(() => {
  const lines = violationRegistry.map((violation) => `${violation.method} ${violation.url} -> ${violation.status}: ${violation.errors.join('; ')}`);
  expect(lines, "responses from the local HubSpot that break HubSpot's OpenAPI specs").toEqual([]);
});
