import { BoundedCache, type CacheRegistry } from '../lib/bounded-cache.js';
import { approximateBytes } from '../lib/byte-size.js';
import type { PermittedActions } from '../hubspot/crm.js';

/**
 * HubSpot's permissions answers kept as small as a decision needs them. The answer about one record lists, per action,
 * every user who may take it: in a 1,000-user account that is ~1,000 ids per action, which as a Map of per-user Sets
 * took 83-93 KiB per record (issue #11). A decision only asks "may this user take this action", so each answer is kept
 * as one bit per user and action, over a numbering of the account's users shared by all its answers: 500 bytes of
 * bits per record in a 1,000-user account, ~1 KiB with the objects around them and the cache's bookkeeping.
 */

/** The actions HubSpot's permissions API answers about (hubspot/crm.ts, PERMISSION_ACTIONS), each a row of bits. */
const ACTION_ROWS: Readonly<Partial<Record<string, number>>> = { view: 0, edit: 1, delete: 2, communicate: 3 };
const ROWS = 4;

/**
 * Users numbered past this in one account are not numbered: the answer is then unknown (never allowed), so `auto` uses
 * the admin's levels and `hubspot` refuses. HubSpot accounts are far smaller; the bound keeps one account's numbering
 * (~48 bytes a user) within PERMISSION_USERS_BYTES.
 */
const MAX_USERS_PER_ACCOUNT = 65_536;
/** An entry of a Map<number, number>: its hash-table slots and a heap number for an id past the small-integer range. */
const NUMBERING_BYTES_PER_USER = 48;

/** HubSpot's answer about one record: row `action` holds bit n for the user the account's numbering gives n. */
export interface CompactAnswer {
  /** The account's numbering at the time (shared, append-only: a number once given never changes). */
  readonly numbers: ReadonlyMap<number, number>;
  /** ROWS rows of `stride` bytes. */
  readonly bits: Uint8Array;
  readonly stride: number;
}

export function permits(answer: CompactAnswer, userId: number, action: string): boolean {
  const row = ACTION_ROWS[action];
  const number = answer.numbers.get(userId);
  // A user numbered after this answer was kept is not in it: HubSpot did not list them.
  if (row === undefined || number === undefined || number >= answer.stride * 8) return false;
  return ((answer.bits[row * answer.stride + (number >> 3)] ?? 0) & (1 << (number & 7))) !== 0;
}

/** The answer's own bytes (the shared numbering is counted once, in its own cache): the object, its typed array, the bits. */
export function compactAnswerBytes(answer: CompactAnswer): number {
  return 48 + approximateBytes(answer.bits);
}

export interface AnswerCompactor {
  /** undefined when the account has more users than can be numbered (unknown, never allowed). */
  compact(portalId: number, answer: PermittedActions): CompactAnswer | undefined;
}

/**
 * Each account's numbering, bounded in bytes (`maxBytes`, least recently used account first). When an account's
 * numbering is evicted, `forget(portalId)` must drop every answer kept with it, so nothing outside the bound keeps it
 * alive; that account's next answer starts a new numbering.
 */
export function createAnswerCompactor(options: { maxBytes: number; registry?: CacheRegistry; forget: (portalId: number) => void }): AnswerCompactor {
  // A new holder on every growth, so the cache measures the numbering again (lru-cache sizes an entry when it is set).
  const numberings = new BoundedCache<number, { numbers: Map<number, number> }>({
    name: 'permission_users',
    maxBytes: options.maxBytes,
    sizeOf: (holder) => 64 + holder.numbers.size * NUMBERING_BYTES_PER_USER,
    onEvict: (portalId) => options.forget(portalId),
    ...(options.registry === undefined ? {} : { registry: options.registry }),
  });

  return {
    compact(portalId, answer) {
      const numbers = numberings.get(portalId)?.numbers ?? new Map<number, number>();
      const unnumbered = new Set<number>();
      for (const userIds of answer.values()) for (const userId of userIds) if (!numbers.has(userId)) unnumbered.add(userId);
      if (numbers.size + unnumbered.size > MAX_USERS_PER_ACCOUNT) return undefined;
      for (const userId of unnumbered) numbers.set(userId, numbers.size);
      if (unnumbered.size > 0 || numbers.size === 0) numberings.set(portalId, { numbers });
      const stride = Math.ceil(numbers.size / 8);
      const bits = new Uint8Array(ROWS * stride);
      for (const [action, userIds] of answer) {
        const row = ACTION_ROWS[action];
        if (row === undefined) continue;
        for (const userId of userIds) {
          const number = numbers.get(userId) ?? 0;
          const at = row * stride + (number >> 3);
          bits[at] = (bits[at] ?? 0) | (1 << (number & 7));
        }
      }
      return { numbers, bits, stride };
    },
  };
}
