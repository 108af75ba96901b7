import type { ChangeFeed } from '../instances/change-feed.js';
import type { CacheRegistry } from '../lib/bounded-cache.js';
import { INSTALLATION_TOPIC, type Installation, type InstallationStore } from '../store/index.js';

export interface TokenCacheOptions {
  /** The store whose every change to an install's tokens or status is announced on `feed` (INSTALLATION_TOPIC). */
  installations: InstallationStore;
  feed: ChangeFeed;
  /** The token manager refreshes this long before expiry: an install is kept no longer, so it sees the row by then. */
  refreshMarginMs: number;
  now: () => number;
  /** Accounts kept at most (oldest dropped first): one decrypted install each, about ENTRY_BYTES. */
  maxEntries?: number;
  /** Where /metrics finds this cache's hits, misses and size. */
  registry?: CacheRegistry;
}

/** The store, reading active installs from memory; and the one thing only HubSpot can tell it. */
export interface CachedInstallations extends InstallationStore {
  /** HubSpot refused this access token (401): it is never served from memory again; the next read goes to the row. */
  refused(portalId: number, accessToken: string): void;
}

interface Entry {
  installation: Installation;
  /** When the token manager would refresh it: the entry is dropped then. */
  usableUntil: number;
  /** The feed's epoch and the account's change count when the row was read. */
  epoch: number;
  changes: number;
}

/** Accounts whose install is held: 4 MiB with ENTRY_BYTES; an instance serving more reads the others from the database. */
const MAX_ENTRIES = 2_000;
/** An install as held: its two tokens (a few hundred characters each), scopes, dates and the Map's own share. */
const ENTRY_BYTES = 2_048;

/**
 * The installation row, decrypted once and kept in memory, in front of the token manager (which reads through it and
 * decides, as before, whether the token is usable, fresh or due for a refresh): a warm card view reads no row and opens
 * no ciphertext. Only an active install whose access token is not yet due for a refresh is kept, and only:
 * - until the token manager's refresh margin before the token expires (TOKEN_REFRESH_MARGIN_SECONDS): the refresh itself
 *   reads the row under its lock, past this cache;
 * - until a change to the install's tokens or status (a refresh, a status mark such as needs_reinstall, a disconnect, a
 *   reinstall), which the store announces on the change feed in the transaction that makes it: every instance drops the
 *   entry once it commits, and this one drops it as soon as its own change returns;
 * - while the feed is listening and has been since the row was read: while it is down, and once after it reconnects
 *   (a change may have gone unheard meanwhile), every read goes to the row;
 * - until HubSpot refuses the token (401), which nothing else may have told us about.
 * A read that began before a change heard for its account is not kept, so no entry outlives a change we can see.
 */
export function cacheInstallations(options: TokenCacheOptions): CachedInstallations {
  const { installations: store, feed } = options;
  const maxEntries = options.maxEntries ?? MAX_ENTRIES;
  const entries = new Map<number, Entry>();
  /** Changes heard per account: a read that started before one cannot vouch for its result after it. */
  const changes = new Map<number, number>();
  const counted = { hits: 0, misses: 0, evictions: 0 };
  options.registry?.add({
    stats: () => ({
      name: 'install-tokens',
      entries: entries.size,
      bytes: entries.size * ENTRY_BYTES,
      maxBytes: maxEntries * ENTRY_BYTES,
      ...counted,
    }),
  });

  const heard = (portalId: number) => {
    changes.set(portalId, (changes.get(portalId) ?? 0) + 1);
    entries.delete(portalId);
  };
  feed.subscribe(INSTALLATION_TOPIC, heard);

  /** One of the store's changes, after which the account's entry is dropped here without waiting for the feed. */
  const dropAfter = async <R>(portalId: number, change: Promise<R>): Promise<R> => {
    try {
      return await change;
    } finally {
      heard(portalId);
    }
  };

  return {
    ...store,

    async get(portalId) {
      const epoch = feed.epoch;
      const changesBefore = changes.get(portalId) ?? 0;
      const hit = entries.get(portalId);
      if (hit !== undefined && hit.epoch === epoch && hit.changes === changesBefore && hit.usableUntil > options.now()) {
        counted.hits += 1;
        return hit.installation;
      }
      counted.misses += 1;
      if (hit !== undefined) entries.delete(portalId);
      const installation = await store.get(portalId);
      if (installation?.status !== 'active' || epoch === undefined || feed.epoch !== epoch || (changes.get(portalId) ?? 0) !== changesBefore) {
        return installation;
      }
      const usableUntil = installation.accessTokenExpiresAt.getTime() - options.refreshMarginMs;
      if (usableUntil <= options.now()) return installation;
      entries.set(portalId, { installation, usableUntil, epoch, changes: changesBefore });
      // Map keeps insertion order: the first key is the oldest entry.
      if (entries.size > maxEntries) {
        const oldest = entries.keys().next().value;
        if (oldest !== undefined) entries.delete(oldest);
        counted.evictions += 1;
      }
      return installation;
    },

    saveInstall: (input, now) => dropAfter(input.portalId, store.saveInstall(input, now)),
    saveRefreshedTokens: (portalId, ...rest) => dropAfter(portalId, store.saveRefreshedTokens(portalId, ...rest)),
    markStatus: (portalId, ...rest) => dropAfter(portalId, store.markStatus(portalId, ...rest)),
    forgetTokens: (portalId, ...rest) => dropAfter(portalId, store.forgetTokens(portalId, ...rest)),
    // Whatever a refresh wrote under the lock has committed, or rolled back, once it returns.
    withRefreshLock: (portalId, fn) => dropAfter(portalId, store.withRefreshLock(portalId, fn)),

    refused(portalId, accessToken) {
      if (entries.get(portalId)?.installation.accessToken === accessToken) heard(portalId);
    },
  };
}
