import type { IdentitySource } from '../hubspot/identity.js';

/** How many of an account's latest requests the settings page sums up. */
export const RECENT_PER_ACCOUNT = 50;
/** Accounts remembered at once; the one seen least recently is forgotten first. */
export const MAX_ACCOUNTS = 1_000;

export interface IdentitySourceSummary {
  hubspot: number;
  card: number;
  /** When the oldest request counted arrived (ISO 8601), or null when none was counted. */
  since: string | null;
}

/**
 * Where the identity of each account's latest requests came from: the pipeline records every request whose signature
 * and identity passed, and the settings page status shows the tally, so the first request in a real account confirms
 * or refutes that HubSpot appends the viewer's identity (hubspot/identity.ts).
 *
 * In memory and per instance on purpose: the admin's own status request is recorded by the instance that answers it,
 * so the tally is never empty when it is read; it costs no write per request (reads stay read-only) and no migration,
 * and a diagnostic needs no retention. Bounded: RECENT_PER_ACCOUNT sources for each of at most MAX_ACCOUNTS accounts.
 */
export function createIdentitySources(options: { now: () => number }) {
  // Map iteration follows insertion order; re-inserting on each request keeps the least recently seen account first.
  const accounts = new Map<number, Array<{ source: IdentitySource; at: number }>>();

  return {
    record(portalId: number, source: IdentitySource): void {
      const recent = accounts.get(portalId) ?? [];
      accounts.delete(portalId);
      recent.push({ source, at: options.now() });
      if (recent.length > RECENT_PER_ACCOUNT) recent.shift();
      accounts.set(portalId, recent);
      const oldest = accounts.keys().next();
      if (accounts.size > MAX_ACCOUNTS && oldest.done !== true) accounts.delete(oldest.value);
    },

    summary(portalId: number): IdentitySourceSummary {
      const recent = accounts.get(portalId) ?? [];
      const first = recent[0];
      return {
        hubspot: recent.filter((entry) => entry.source === 'hubspot').length,
        card: recent.filter((entry) => entry.source === 'card').length,
        since: first === undefined ? null : new Date(first.at).toISOString(),
      };
    },
  };
}
export type IdentitySources = ReturnType<typeof createIdentitySources>;
