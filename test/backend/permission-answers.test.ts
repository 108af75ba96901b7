import { afterEach, describe, expect, it, vi } from 'vitest';
import { endpointLabel } from '../../backend/src/hubspot/call.js';
import type { PermittedActions } from '../../backend/src/hubspot/crm.js';
import { Deadline } from '../../backend/src/hubspot/deadline.js';
import { approximateBytes } from '../../backend/src/lib/byte-size.js';
import { compactAnswerBytes, createAnswerCompactor, permits } from '../../backend/src/usecases/permitted-users.js';

const answer = (byAction: Record<string, number[]>): PermittedActions => new Map(Object.entries(byAction));
const noForget = () => undefined;

describe("HubSpot's permission answers, kept as bits per user", () => {
  it('answers per user and action exactly what HubSpot listed', () => {
    const compactor = createAnswerCompactor({ maxBytes: 1024 * 1024, forget: noForget });
    const kept = compactor.compact(1, answer({ view: [7, 8, 1_234_567_890_123], edit: [7], delete: [] }))!;
    expect(permits(kept, 7, 'view')).toBe(true);
    expect(permits(kept, 7, 'edit')).toBe(true);
    expect(permits(kept, 8, 'view')).toBe(true);
    expect(permits(kept, 8, 'edit')).toBe(false);
    expect(permits(kept, 1_234_567_890_123, 'view')).toBe(true);
    expect(permits(kept, 7, 'delete')).toBe(false);
    expect(permits(kept, 7, 'communicate')).toBe(false);
    expect(permits(kept, 9, 'view')).toBe(false);
    expect(permits(kept, 7, 'merge')).toBe(false);
  });

  it("never lets a user numbered for a later answer into an earlier one, nor another account's numbering into this one", () => {
    const compactor = createAnswerCompactor({ maxBytes: 1024 * 1024, forget: noForget });
    const first = compactor.compact(1, answer({ view: [1, 2, 3] }))!;
    const later = compactor.compact(1, answer({ view: [4] }))!;
    const elsewhere = compactor.compact(2, answer({ view: [5] }))!;
    expect(permits(first, 4, 'view')).toBe(false);
    expect(permits(later, 4, 'view')).toBe(true);
    expect(permits(later, 1, 'view')).toBe(false);
    expect(permits(elsewhere, 1, 'view')).toBe(false);
    expect(permits(elsewhere, 5, 'view')).toBe(true);
  });

  it('keeps a 1,000-user answer in about a kilobyte, where a Map of per-user Sets took ~85 KiB', () => {
    const users = Array.from({ length: 1_000 }, (_, index) => 10_000_000 + index * 37);
    const compactor = createAnswerCompactor({ maxBytes: 1024 * 1024, forget: noForget });
    const kept = compactor.compact(1, answer({ view: users, edit: users, delete: users.slice(0, 100) }))!;
    expect(compactAnswerBytes(kept)).toBeLessThan(1024);
    const asSets = new Map(users.map((id) => [id, new Set(['view', 'edit'])]));
    expect(approximateBytes(asSets)).toBeGreaterThan(80 * compactAnswerBytes(kept));
    expect(users.every((id) => permits(kept, id, 'view') && permits(kept, id, 'edit'))).toBe(true);
    expect(users.filter((id) => permits(kept, id, 'delete'))).toEqual(users.slice(0, 100));
  });

  it("drops an account's answers when its numbering is evicted for another account's", () => {
    const forgotten: number[] = [];
    // Room for one numbering of 100 users, not two.
    const compactor = createAnswerCompactor({ maxBytes: 8 * 1024, forget: (portalId) => forgotten.push(portalId) });
    const hundred = (from: number) => Array.from({ length: 100 }, (_, index) => from + index);
    compactor.compact(1, answer({ view: hundred(1) }));
    expect(forgotten).toEqual([]);
    compactor.compact(2, answer({ view: hundred(1_000) }));
    expect(forgotten).toEqual([1]);
  });

  it('treats an answer about more users than an account can number as unknown, leaving the numbering as it was', () => {
    const compactor = createAnswerCompactor({ maxBytes: 64 * 1024 * 1024, forget: noForget });
    const known = compactor.compact(1, answer({ view: [1] }))!;
    expect(compactor.compact(1, answer({ view: Array.from({ length: 70_000 }, (_, index) => index + 2) }))).toBeUndefined();
    expect(known.numbers.size).toBe(1);
  });
});

describe('HubSpot endpoints as metrics labels', () => {
  it.each([
    ['GET', '/crm/objects/2026-03/tickets/5001', 'GET /crm/objects/2026-03/tickets/{id}'],
    ['POST', '/crm/objects/2026-03/tickets/search', 'POST /crm/objects/2026-03/tickets/search'],
    ['GET', '/crm/pipelines/2026-03/tickets/0', 'GET /crm/pipelines/2026-03/tickets/{id}'],
    ['GET', '/crm/pipelines/2026-03/tickets/Support%20EU', 'GET /crm/pipelines/2026-03/tickets/{id}'],
    ['GET', '/settings/users/2026-03/2001', 'GET /settings/users/2026-03/{id}'],
    ['GET', '/resource-permissions/v3/permitted-users', 'GET /resource-permissions/v3/permitted-users'],
    ['POST', '/oauth/2026-03/token', 'POST /oauth/2026-03/token'],
  ] as const)('%s %s reads %s', (method, path, label) => {
    expect(endpointLabel({ method, path })).toBe(label);
  });
});

describe("a deadline's HubSpot time", () => {
  let clock = 0;
  afterEach(() => vi.restoreAllMocks());

  it('counts overlapping HubSpot work once, and nothing outside it', async () => {
    vi.spyOn(performance, 'now').mockImplementation(() => clock);
    const deadline = new Deadline({ budgetMs: 60_000, attemptCapMs: 60_000 }, 'the test');
    const pending = () => {
      let finish: () => void = () => undefined;
      const work = new Promise<void>((resolve) => (finish = resolve));
      return { work, finish };
    };
    clock = 100;
    const a = pending();
    const first = deadline.hubspot(a.work);
    clock = 110;
    const b = pending();
    const second = deadline.hubspot(b.work);
    clock = 130;
    a.finish();
    await first;
    clock = 150;
    b.finish();
    await second;
    // 100 to 150, once, though two calls overlapped for 20 of it.
    expect(deadline.hubspotMs).toBe(50);
    clock = 400;
    expect(deadline.hubspotMs).toBe(50);
    const c = pending();
    const third = deadline.hubspot(c.work);
    clock = 410;
    // Still pending: counted up to now.
    expect(deadline.hubspotMs).toBe(60);
    c.finish();
    await third;
  });
});
